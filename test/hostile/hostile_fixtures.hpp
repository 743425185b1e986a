#pragma once
// Shared by the hostile-repository and fault suites: a git repo of charts served by
// `git daemon`, synced through the core Workspace into a local chart-repo folder,
// and a `cmop serve` child whose memory high-water mark can be read.
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "cmop/deps/repo_index.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/sync/workspace.hpp"
#include "cmop/util/fs.hpp"
#include "support/git_fixture.hpp"
#include "support/process.hpp"
#include "support/served_repo.hpp"
#include "support/sync_report.hpp"

namespace cmop::test {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The served repo with the well-behaved chart every test expects to see published;
// each test adds its hostile content and then publishes the commit.
struct SyncedRepo : ServedRepo {
  SyncedRepo() : ServedRepo("charts", "cmop-hostile-") { write_chart(work, "charts/good", "good", "1.0.0"); }
  void publish_commit(const std::string& message = "change") { commit_and_serve(message); }
  sync::RepoSpec spec() const { return spec_named("hostile"); }
};

// Peak resident set of a live process (VmHWM), in KiB; -1 when unreadable.
inline long peak_rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// `cmop serve` as a child process on a free port.
struct ServeChild {
  int port = free_port();
  std::unique_ptr<Process> process;
  std::filesystem::path log;
  // Prepended to the command line (e.g. a shell that sets limits, then execs the rest).
  std::vector<std::string> launcher;
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port); }

  void start(const std::filesystem::path& state_dir, std::vector<std::string> extra = {},
             std::map<std::string, std::string> env = {}) {
    log = state_dir.parent_path() / ("serve-" + std::to_string(port) + ".log");
    std::vector<std::string> argv = launcher;
    argv.insert(argv.end(), {cmop_binary(), "serve", "--state-dir", state_dir.string(), "--listen",
                             "127.0.0.1:" + std::to_string(port)});
    argv.insert(argv.end(), extra.begin(), extra.end());
    process = std::make_unique<Process>(argv, env, std::filesystem::path{}, log);
    if (!wait_for_port(port, 30000)) FAIL("cmop serve did not listen; log:\n" << slurp(log));
  }
  net::Response call(const std::string& method, const std::string& path, const std::string& body = "") const {
    net::Request req;
    req.method = method;
    req.url = base() + path;
    req.body = body;
    if (!body.empty()) req.headers.push_back({"Content-Type", "application/json"});
    req.timeout = std::chrono::milliseconds(240000);
    return net::HttpClient().send(req);
  }
};

inline rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  INFO("body: " << text.substr(0, 2000));
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

inline std::string json_str(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key) || !v[key].IsString()) return {};
  return v[key].GetString();
}

}  // namespace cmop::test
