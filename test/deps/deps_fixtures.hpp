#pragma once
// The chart repository the resolver tests resolve against: .tgz files made with
// `tar czf`, an index.yaml, served by test/support/static_http_server.py.
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "cmop/chart/metadata.hpp"
#include "cmop/deps/repo_index.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "support/process.hpp"

namespace cmop::test::deps_fixtures {

namespace fs = std::filesystem;

inline void write(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

// A chart repository on disk: charts packaged with tar, index.yaml generated.
struct ChartRepo {
  util::TempDir dir{"cmop-deps-repo-"};
  fs::path served = dir.path() / "served";
  deps::RepoIndex index;
  std::map<std::string, std::string> archives;  // file name -> bytes

  // Packages <name>-<version>.tgz under served/<subdir>, listed with `url`
  // (relative to the repository URL) or the file name.
  void add_chart(const std::string& name, const std::string& version, const std::string& url = "") {
    const fs::path src = dir.path() / "src" / (name + "-" + version);
    write(src / name / "Chart.yaml", "apiVersion: v2\nname: " + name + "\nversion: " + version + "\n");
    write(src / name / "values.yaml", "replicas: 1\n");
    write(src / name / "templates" / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n");
    const std::string file = name + "-" + version + ".tgz";
    const std::string rel = url.empty() ? file : url;
    fs::create_directories((served / rel).parent_path());
    cmop::test::run_ok({"tar", "czf", (served / rel).string(), "-C", src.string(), name});
    const std::string bytes = util::read_file(served / rel);
    archives[file] = bytes;

    deps::IndexEntry e;
    e.metadata.api_version = "v2";
    e.metadata.name = name;
    e.metadata.version = version;
    e.urls = {rel};
    e.digest = util::sha256_hex(bytes);
    e.created = "2024-01-0" + std::to_string(index.entries[name].size() + 1) + "T00:00:00Z";
    index.add(e);
  }
  void publish() {
    index.generated = "2024-02-01T00:00:00Z";
    write(served / "index.yaml", index.to_yaml());
  }
};

struct Server {
  cmop::test::Peer peer;
  Server(const fs::path& root, std::vector<std::string> extra = {})
      : peer(start(root, std::move(extra))) {}
  static cmop::test::Peer start(const fs::path& root, std::vector<std::string> extra) {
    std::vector<std::string> args{"--root", root.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return cmop::test::start_python_peer("static_http_server.py", args);
  }
  std::string url() const { return peer.url(); }
  // Requests seen for `path`, and how many of them were answered 304.
  int count(const std::string& path) const { return json_number(get("/__requests"), "\"" + path + "\": "); }
  int not_modified(const std::string& path) const {
    std::string statuses = get("/__statuses");
    auto at = statuses.find("\"" + path + "\": {");
    if (at == std::string::npos) return 0;
    return json_number(statuses.substr(at, statuses.find('}', at) - at), "\"304\": ");
  }
  std::string get(const std::string& path) const {
    net::Request req;
    req.url = url() + path;
    return net::HttpClient().send(req).body;
  }
  static int json_number(const std::string& json, const std::string& key) {
    auto at = json.find(key);
    return at == std::string::npos ? 0 : std::stoi(json.substr(at + key.size()));
  }
};

inline chart::Dependency dep(const std::string& name, const std::string& version, const std::string& repository) {
  chart::Dependency d;
  d.name = name;
  d.version = version;
  d.repository = repository;
  return d;
}

inline chart::Metadata parent(std::vector<chart::Dependency> dependencies) {
  chart::Metadata md;
  md.api_version = "v2";
  md.name = "app";
  md.version = "1.0.0";
  md.dependencies = std::move(dependencies);
  return md;
}

// The chart being published lives in a clone; its dependencies are resolved from there.
struct Clone {
  util::TempDir root{"cmop-deps-clone-"};
  util::TempDir cache{"cmop-deps-cache-"};
  fs::path chart_dir = root.path() / "charts" / "app";
  Clone() { fs::create_directories(chart_dir); }
};

}  // namespace cmop::test::deps_fixtures
