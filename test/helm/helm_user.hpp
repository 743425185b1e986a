#pragma once
// One Helm user for the end-to-end tests: a real Helm client (3 or 4) with its own
// HOME, config, cache and data folders, and a kubeconfig that does not exist, so
// nothing of the person running the tests is read or written and no cluster is
// ever reached.
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cmop/util/fs.hpp"
#include "support/process.hpp"

namespace cmop::test {

class HelmUser {
 public:
  explicit HelmUser(HelmClient client) : client_(std::move(client)) {}

  const std::string& name() const { return client_.name; }
  bool is_helm3() const { return client_.name == "helm3"; }

  // A new empty folder of this user's.
  std::filesystem::path fresh_dir(const std::string& what) const {
    auto dir = tmp_.path() / "work" / (what + "-" + std::to_string(++dirs_));
    std::filesystem::create_directories(dir);
    return dir;
  }

  // `helm args...`: the exit status; stdout and stderr into *output.
  int run(const std::vector<std::string>& args, std::string* output, const std::filesystem::path& cwd = {}) const {
    std::vector<std::string> argv{client_.path};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run(argv, output, cwd, env());
  }
  // The same; a non-zero exit fails the test, naming the command and what it said.
  std::string ok(const std::vector<std::string>& args, const std::filesystem::path& cwd = {}) const {
    std::string out;
    const int rc = run(args, &out, cwd);
    INFO(describe(args) << " exited " << rc << ":\n" << out);
    REQUIRE(rc == 0);
    return out;
  }
  static std::string describe(const std::vector<std::string>& args) {
    std::string s = "helm";
    for (auto& a : args) s += " " + a;
    return s;
  }

  // `helm pull args... --destination <a fresh folder>`: the one file it wrote.
  std::filesystem::path pull(std::vector<std::string> args) const {
    const auto dest = fresh_dir("pull");
    args.insert(args.begin(), "pull");
    args.insert(args.end(), {"--destination", dest.string()});
    const std::string out = ok(args);
    std::vector<std::filesystem::path> files{std::filesystem::directory_iterator(dest), {}};
    INFO(describe(args) << "\n" << out);
    REQUIRE(files.size() == 1);
    return files.front();
  }

  // `helm search repo <chart> args... -o json`: the versions listed for the chart
  // named exactly `chart` ("repo/chart"), in Helm's order.
  std::vector<std::string> search_versions(const std::string& chart, std::vector<std::string> args = {}) const {
    args.insert(args.begin(), {"search", "repo", chart});
    args.insert(args.end(), {"-o", "json"});
    const std::string out = ok(args);
    // Warnings go to stderr, which run() mixes in: the JSON is the line opening with '['.
    std::string json;
    for (std::size_t at = 0; at < out.size();) {
      auto end = out.find('\n', at);
      if (end == std::string::npos) end = out.size();
      if (out[at] == '[') json = out.substr(at, end - at);
      at = end + 1;
    }
    rapidjson::Document doc;
    doc.Parse(json.c_str());
    INFO(describe(args) << "\n" << out);
    REQUIRE((!doc.HasParseError() && doc.IsArray()));
    std::vector<std::string> versions;
    for (auto& row : doc.GetArray())
      if (row.IsObject() && row.HasMember("name") && row["name"].IsString() && row["name"].GetString() == chart &&
          row.HasMember("version") && row["version"].IsString())
        versions.emplace_back(row["version"].GetString());
    return versions;
  }

 private:
  std::map<std::string, std::string> env() const {
    const auto root = tmp_.path();
    return {{"HOME", (root / "home").string()},
            {"HELM_CONFIG_HOME", (root / "config").string()},
            {"HELM_CACHE_HOME", (root / "cache").string()},
            {"HELM_DATA_HOME", (root / "data").string()},
            {"DOCKER_CONFIG", (root / "docker").string()},
            {"KUBECONFIG", (root / "no-kubeconfig").string()}};
  }

  HelmClient client_;
  util::TempDir tmp_{"cmop-helm-"};
  mutable int dirs_ = 0;
};

}  // namespace cmop::test
