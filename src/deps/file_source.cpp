// file://path dependencies: a chart folder of the same tree (the sync's commit),
// never outside it, its version checked against the constraint and its files
// hashed into the digest Chart.lock's callers compare.
#include <filesystem>

#include "cmop/chart/semver.hpp"
#include "cmop/error.hpp"
#include "cmop/util/hash.hpp"
#include "deps/chart_lock.hpp"
#include "deps/dependency_source.hpp"

namespace cmop::deps::detail {

namespace {

using Status = util::FileTree::Resolved::Status;
using Kind = util::FileTree::Kind;

// The file:// dependency's tree as a key: relative paths and contents in a fixed
// order; symlinks contribute their target's real path and are never followed.
void hash_tree(const util::FileTree& tree, const std::string& dir, const std::string& rel, util::Sha256& h) {
  for (const auto& name : tree.list(dir)) {
    const std::string path = util::tree_join(dir, name);
    const std::string shown = util::tree_join(rel, name);
    auto kind = tree.kind(path);
    if (kind == Kind::directory) {
      hash_tree(tree, path, shown, h);
      continue;
    }
    if (kind != Kind::file && kind != Kind::symlink) continue;
    h.update(shown);
    h.update(std::string_view("\0", 1));
    if (kind == Kind::symlink) {
      auto r = tree.resolve(path);
      h.update("symlink:" + std::to_string(static_cast<int>(r.status)) + ":" + r.path);
    } else {
      h.update(tree.read(path, path, [&](std::uint64_t size) {
        if (size > kMaxChartFileBytes)
          throw Error(Errc::too_large, path,
                      "file is " + std::to_string(size) + " bytes; the limit for a chart file is " +
                          std::to_string(kMaxChartFileBytes));
      }));
    }
    h.update(std::string_view("\0", 1));
  }
}

std::string tree_key(const util::FileTree& tree, const std::string& dir) {
  util::Sha256 h;
  hash_tree(tree, dir, "", h);
  return h.hex();
}

class FileSource final : public DependencySource {
 public:
  bool matches(const DependencyRequest& r) const override { return starts_with(r.dependency.repository, "file://"); }

  SourcedChart resolve(const DependencyRequest& r, ResolveContext& context) override {
    const util::FileTree& tree = context.tree;
    const std::string rel = r.dependency.repository.substr(7);
    const std::string folder = chart_folder(tree, context.chart_dir, rel, r.subject);
    const std::string chart_yaml = util::tree_join(folder, "Chart.yaml");
    chart::Metadata sub = chart::parse_chart_yaml(
        util::read_tree_file(tree, chart_yaml, chart_yaml, kMaxChartFileBytes), chart_yaml);
    check_version(sub.version, r);
    SourcedChart out;
    out.kind = SourcedChart::Kind::folder;
    out.version = sub.version;
    out.folder = folder;
    out.digest = tree_key(tree, folder);
    return out;
  }

 private:
  // Where `rel` (relative to the chart, or absolute on disk) lands in the tree: a
  // folder holding a Chart.yaml, both inside the tree.
  static std::string chart_folder(const util::FileTree& tree, const std::string& chart_dir, const std::string& rel,
                                  const std::string& subject) {
    const auto outside = [&] {
      return Error(Errc::forbidden, subject, "file:// path resolves outside the repository being published");
    };
    std::string lexical;
    if (std::filesystem::path(rel).is_absolute()) {
      // Only a folder on disk can say where an absolute path lands.
      const auto* folder = dynamic_cast<const util::DirectoryTree*>(&tree);
      auto inside = folder ? folder->relative_path(rel) : std::nullopt;
      if (!inside) throw outside();
      lexical = *inside;
    } else {
      lexical = util::tree_join(chart_dir, rel);
    }
    auto target = tree.resolve(lexical);
    if (target.status == Status::escapes) throw outside();
    auto yaml = tree.resolve(util::tree_join(target.path, "Chart.yaml"));
    const bool is_folder = target.status == Status::ok && target.kind == Kind::directory;
    if (is_folder && yaml.status == Status::escapes)
      throw Error(Errc::forbidden, subject, "Chart.yaml of the file:// dependency is outside the repository");
    if (!is_folder || yaml.status != Status::ok || yaml.kind != Kind::file)
      throw Error(Errc::dependency, subject, "directory " + rel + " not found or has no Chart.yaml");
    return target.path;
  }

  static void check_version(const std::string& version, const DependencyRequest& r) {
    auto v = chart::Version::parse(version);
    if (!v) throw Error(Errc::dependency, r.subject, "local chart has an invalid version '" + version + "'");
    std::optional<chart::Constraint> constraint;
    try {
      constraint = chart::Constraint::parse(r.dependency.version.empty() ? "*" : r.dependency.version);
    } catch (const Error& e) {
      throw Error(Errc::dependency, r.subject, "invalid version constraint: " + e.reason());
    }
    if (!constraint->matches(*v))
      throw Error(Errc::dependency, r.subject, "local chart version " + version + " does not satisfy the constraint");
  }
};

}  // namespace

std::unique_ptr<DependencySource> file_source() { return std::make_unique<FileSource>(); }

}  // namespace cmop::deps::detail
