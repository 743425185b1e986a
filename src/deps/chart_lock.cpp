// Chart.lock as Helm reads, hashes and writes it (pkg/downloader/manager.go,
// internal/resolver/resolver.go HashReq / HashV2Req).
#include "deps/chart_lock.hpp"

#include <yaml-cpp/yaml.h>

#include "cmop/chart/yaml_aliases.hpp"
#include "cmop/error.hpp"
#include "cmop/util/hash.hpp"
#include "deps/yaml_emit.hpp"

namespace cmop::deps::detail {

namespace {

// A Chart.lock needs a `generated` time. Helm writes the clock's; cmop writes this
// fixed one, so the same dependencies give the same bytes however they were
// reached (a repository's index, an OCI manifest, or cmop's own target through
// `self`, which knows no creation times): a sidecar that lost its state then
// rebuilds exactly what it had published, and adopts it.
constexpr const char* kEpoch = "1980-01-01T00:00:00Z";

std::string hash_req(const std::vector<chart::Dependency>& req, const std::vector<chart::Dependency>& lock) {
  Value pair = Value::seq();
  for (const auto* list : {&req, &lock}) {
    Value deps = Value::seq();
    for (const auto& d : *list) deps.push(dependency_value(d));
    // Go marshals a nil slice as null; Helm's req is never nil when this runs.
    pair.push(std::move(deps));
  }
  return "sha256:" + util::sha256_hex(to_go_json(pair));
}

// Helm v2's requirements.lock digest: sha256 of {"dependencies": req}.
std::string hash_v2_req(const std::vector<chart::Dependency>& req) {
  Value root = Value::map();
  Value& deps = root.add("dependencies", Value::seq());
  for (const auto& d : req) deps.push(dependency_value(d));
  return "sha256:" + util::sha256_hex(to_go_json(root));
}

// Where the chart's lock is: a lock present as a regular file (or a link leaving
// the tree, refused unread by read_tree_file) counts; a missing or broken one does not.
std::optional<std::string> lock_path(const util::FileTree& tree, const std::string& chart_dir,
                                     const std::string& api_version) {
  auto present = [&](const std::string& path) {
    auto r = tree.resolve(path);
    using Status = util::FileTree::Resolved::Status;
    return r.status == Status::escapes || (r.status == Status::ok && r.kind == util::FileTree::Kind::file);
  };
  std::string path = util::tree_join(chart_dir, "Chart.lock");
  if (present(path)) return path;
  if (api_version != "v1") return std::nullopt;
  path = util::tree_join(chart_dir, "requirements.lock");
  if (present(path)) return path;
  return std::nullopt;
}

}  // namespace

std::optional<LockFile> read_lock(const util::FileTree& tree, const std::string& chart_dir,
                                  const std::string& api_version) {
  const auto path = lock_path(tree, chart_dir, api_version);
  if (!path) return std::nullopt;
  LockFile lock;
  const std::string& origin = *path;
  lock.text = util::read_tree_file(tree, *path, origin, kMaxChartFileBytes);
  if (auto refusal = chart::helm_alias_refusal(lock.text)) throw Error(Errc::invalid_chart, origin, *refusal);
  YAML::Node root;
  try {
    root = YAML::Load(lock.text);
  } catch (const YAML::Exception& e) {
    throw Error(Errc::invalid_chart, origin, std::string("invalid YAML: ") + e.what());
  }
  if (!root.IsMap()) throw Error(Errc::invalid_chart, origin, "expected a mapping with digest and dependencies");
  try {
    if (root["digest"] && root["digest"].IsScalar()) lock.digest = root["digest"].Scalar();
    if (const auto ds = root["dependencies"]; ds && !ds.IsNull()) {
      if (!ds.IsSequence()) throw Error(Errc::invalid_chart, origin, "dependencies: expected a list");
      for (std::size_t i = 0; i < ds.size(); ++i)
        lock.dependencies.push_back(read_dependency(ds[i], origin, "dependencies[" + std::to_string(i) + "]"));
    }
  } catch (const Error& e) {
    if (e.code() == Errc::invalid_chart) throw;
    throw Error(Errc::invalid_chart, origin, e.reason());
  } catch (const YAML::Exception& e) {
    throw Error(Errc::invalid_chart, origin, e.what());
  }
  return lock;
}

bool lock_in_sync(const LockFile& lock, const chart::Metadata& md, const std::vector<chart::Dependency>& req) {
  if (lock.dependencies.size() != req.size()) return false;
  if (hash_req(req, lock.dependencies) != lock.digest &&
      !(md.api_version == "v1" && hash_v2_req(md.dependencies) == lock.digest))
    return false;
  for (std::size_t i = 0; i < req.size(); ++i)
    if (lock.dependencies[i].name != req[i].name) return false;
  return true;
}

std::string lock_yaml(const std::vector<chart::Dependency>& req, const std::vector<chart::Dependency>& locked) {
  Value doc = Value::map();
  Value& deps = doc.add("dependencies", Value::seq());
  for (const auto& l : locked) deps.push(dependency_value(l));
  doc.add("digest", Value::str(hash_req(req, locked)));
  doc.add("generated", Value::str(kEpoch));
  return to_yaml(std::move(doc));
}

}  // namespace cmop::deps::detail
