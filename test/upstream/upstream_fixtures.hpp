#pragma once
// Upstream chart repositories as mirrors meet them: a static HTTP chart repository
// made by real `helm package` (optionally `--sign`) and `helm repo index`, served
// by test/support/static_http_server.py (which counts the requests per path).
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cmop/deps/repo_index.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "helm/helm_user.hpp"
#include "hostile/hostile_fixtures.hpp"
#include "support/gpg_key.hpp"
#include "support/process.hpp"

namespace cmop::test {

// A chart folder name-version with a template, values and a description naming
// `flavour` (so two packages of one version can differ).
inline std::filesystem::path write_upstream_chart(const std::filesystem::path& base, const std::string& name,
                                                  const std::string& version, const std::string& flavour = "") {
  const auto dir = base / (name + "-" + version + (flavour.empty() ? "" : "-" + flavour)) / name;
  std::filesystem::create_directories(dir / "templates");
  std::ofstream(dir / "Chart.yaml") << "apiVersion: v2\nname: " << name << "\nversion: " << version
                                    << "\nappVersion: \"" << version << "\"\ndescription: " << name
                                    << " from upstream " << flavour << "\nkeywords: [mirror, test]\n"
                                    << "maintainers:\n- name: upstream\n  email: up@example.com\n";
  std::ofstream(dir / "values.yaml") << "replicas: 1\n";
  std::ofstream(dir / "templates" / "cm.yaml")
      << "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  v: \"" << version
      << "\"\n";
  return dir;
}

class UpstreamHttpRepo {
 public:
  // `key`: packages are signed with it (`helm package --sign`); null = unsigned.
  // `basic_auth`: "user:password" the server wants on every file, "" = none.
  explicit UpstreamHttpRepo(const GpgKey* key = nullptr, std::string basic_auth = "")
      : key_(key), basic_auth_(std::move(basic_auth)) {
    std::filesystem::create_directories(root);
  }

  util::TempDir tmp{"cmop-upstream-"};
  std::filesystem::path root = tmp.path() / "repo";
  std::filesystem::path sources = tmp.path() / "src";

  // `helm package` of name-version into the repository folder; the package's path.
  std::filesystem::path add(const std::string& name, const std::string& version, const std::string& flavour = "") {
    return package_into(root, name, version, flavour);
  }
  std::filesystem::path package_into(const std::filesystem::path& dest, const std::string& name,
                                     const std::string& version, const std::string& flavour = "") {
    const auto dir = write_upstream_chart(sources, name, version, flavour);
    std::vector<std::string> args{"package", dir.string(), "--destination", dest.string()};
    if (key_) args.insert(args.end(), {"--sign", "--key", "upstream signer", "--keyring", key_->secring.string()});
    helm_.ok(args);
    return dest / (name + "-" + version + ".tgz");
  }
  // `helm repo index` over the folder (relative URLs, as a static chart repo has them).
  void index() { helm_.ok({"repo", "index", root.string()}); }
  deps::RepoIndex parsed_index() const {
    return deps::RepoIndex::parse(util::read_file(root / "index.yaml"), "upstream index.yaml");
  }
  void serve() {
    std::vector<std::string> args{"--root", root.string()};
    if (!basic_auth_.empty()) args.insert(args.end(), {"--basic-auth", basic_auth_});
    server_ = std::make_unique<Peer>(start_python_peer("static_http_server.py", args));
  }
  std::string url() const { return server_->url() + "/"; }
  // Requests per path answered so far ("/index.yaml", "/alpha-1.0.0.tgz", ...).
  std::map<std::string, int> requests() const {
    net::Request req;
    req.url = server_->url() + "/__requests";
    auto res = net::HttpClient().send(req);
    REQUIRE(res.status == 200);
    rapidjson::Document doc;
    doc.Parse(res.body.c_str());
    std::map<std::string, int> out;
    for (auto& m : doc.GetObject()) out[m.name.GetString()] = m.value.GetInt();
    return out;
  }
  std::string sha256_of(const std::string& file) const { return util::sha256_hex(util::read_file(root / file)); }

 private:
  const GpgKey* key_;
  std::string basic_auth_;
  HelmUser helm_{helm_clients().front()};
  std::unique_ptr<Peer> server_;
};

// Per path, how many more requests `after` counts than `before` (zeros left out).
inline std::map<std::string, int> new_requests(const std::map<std::string, int>& before,
                                               const std::map<std::string, int>& after) {
  std::map<std::string, int> out;
  for (auto& [path, n] : after) {
    auto it = before.find(path);
    const int delta = n - (it == before.end() ? 0 : it->second);
    if (delta != 0) out[path] = delta;
  }
  return out;
}

// "name version" -> outcome (status, digest, reason) of a sync report's JSON.
struct ReportedChart {
  std::string status, digest, reason;
};
inline std::map<std::string, ReportedChart> reported_charts(const std::string& report_json) {
  auto doc = parse_json(report_json);
  std::map<std::string, ReportedChart> out;
  REQUIRE((doc.HasMember("charts") && doc["charts"].IsArray()));
  for (auto& c : doc["charts"].GetArray())
    out[json_str(c, "name") + " " + json_str(c, "version")] = {json_str(c, "status"), json_str(c, "digest"),
                                                                json_str(c, "reason")};
  return out;
}

// `cmop serve` on its embedded chart repo, allowed to reach upstreams on 127.0.0.1.
struct MirroringServe {
  util::TempDir tmp{"cmop-mirror-serve-"};
  ServeChild serve;
  explicit MirroringServe(std::vector<std::string> flags = {}) {
    flags.insert(flags.end(), {"--dependency-hosts", "127.0.0.1"});
    serve.start(tmp.path() / "state", flags);
    for (int i = 0; i < 3000 && serve.call("GET", "/readyz").status != 200; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    INFO("log:\n" << slurp(serve.log));
    REQUIRE(serve.call("GET", "/readyz").status == 200);
  }
  // POST /repo/new with `json`; the sync report (status 200 required).
  std::string add(const std::string& json) const {
    auto res = serve.call("POST", "/repo/new", json);
    INFO("POST /repo/new " << json << " -> " << res.status << " " << res.body << "\nlog:\n" << slurp(serve.log));
    REQUIRE(res.status == 200);
    return res.body;
  }
  std::string update(const std::string& name) const {
    auto res = serve.call("GET", "/repo/" + name + "/update");
    INFO(res.body);
    REQUIRE(res.status == 200);
    return res.body;
  }
  std::string charts_url() const { return serve.base() + "/charts"; }
  deps::RepoIndex served_index() const {
    auto res = serve.call("GET", "/charts/index.yaml");
    REQUIRE(res.status == 200);
    return deps::RepoIndex::parse(res.body, "/charts/index.yaml");
  }
};

// Each real Helm client adds `charts_url` as repo "cmop" and pulls chart `version`
// with --verify against `keyring`: Helm must say the hash verified is `digest`, and
// the package and .prov it wrote must be the upstream's (`upstream_dir`).
inline void pull_verified_with_each_helm(const std::string& charts_url, const std::string& chart,
                                         const std::string& version, const std::string& digest,
                                         const std::filesystem::path& keyring,
                                         const std::filesystem::path& upstream_dir) {
  const std::string file = chart + "-" + version + ".tgz";
  for (const auto& client : helm_clients()) {
    HelmUser helm(client);
    INFO(helm.name());
    helm.ok({"repo", "add", "cmop", charts_url});
    const auto dest = helm.fresh_dir("pull");
    const auto said = helm.ok({"pull", "cmop/" + chart, "--version", version, "--verify", "--keyring",
                               keyring.string(), "--destination", dest.string()});
    CHECK_THAT(said, Catch::Contains("Chart Hash Verified: sha256:" + digest));
    CHECK(util::sha256_hex(util::read_file(dest / file)) == digest);
    CHECK(util::read_file(dest / (file + ".prov")) == util::read_file(upstream_dir / (file + ".prov")));
  }
}

// The versions of `name` an index lists, sorted as strings.
inline std::vector<std::string> versions_of(const deps::RepoIndex& index, const std::string& name) {
  std::vector<std::string> out;
  if (auto it = index.entries.find(name); it != index.entries.end())
    for (auto& e : it->second) out.push_back(e.metadata.version);
  std::sort(out.begin(), out.end());
  return out;
}

inline const deps::IndexEntry& entry_of(const deps::RepoIndex& index, const std::string& name,
                                        const std::string& version) {
  auto it = index.entries.find(name);
  REQUIRE(it != index.entries.end());
  for (auto& e : it->second)
    if (e.metadata.version == version) return e;
  FAIL("no " << name << " " << version << " in the index");
  throw;
}

}  // namespace cmop::test
