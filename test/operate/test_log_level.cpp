// `cmop operate --log-level`: lines below the level are dropped; a level that is
// not one of debug, info, warn, error is refused before anything starts.
#include <catch2/catch.hpp>

#include <csignal>
#include <chrono>
#include <fstream>
#include <thread>

#include "operate_fixtures.hpp"

using namespace cmop;
using namespace cmop::test;

TEST_CASE("cmop operate --log-level warn drops the info lines, an unknown level is refused") {
  FakeApiServer api;
  util::TempDir dir("cmop-operate-level-");
  std::ofstream(dir.path() / "kubeconfig") << "apiVersion: v1\ncurrent-context: t\n"
                                              "contexts: [{name: t, context: {cluster: c, user: u, namespace: ops}}]\n"
                                              "clusters: [{name: c, cluster: {server: \""
                                           << api.url() << "\"}}]\nusers: [{name: u, user: {token: sekret}}]\n";
  const std::vector<std::string> base{cmop_binary(), "operate", "--kubeconfig", (dir.path() / "kubeconfig").string(),
                                      "--sidecar-url", "http://127.0.0.1:9", "--token", "side-token", "--image",
                                      "example.org/cmop:1.0", "--listen", "127.0.0.1:0"};

  auto run_for = [&](const std::string& level, const std::string& log_name) {
    auto argv = base;
    argv.insert(argv.end(), {"--log-level", level});
    Process p(argv, {}, {}, dir.path() / log_name);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    p.kill(SIGTERM);
    CHECK(p.wait(10000) == 0);
    std::ifstream in(dir.path() / log_name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string info = run_for("info", "info.log");
  CHECK_THAT(info, Catch::Contains("listening on port"));
  const std::string warn = run_for("warn", "warn.log");
  CHECK_THAT(warn, !Catch::Contains("listening on port"));
  CHECK_THAT(warn, !Catch::Contains("level=info"));

  std::string out;
  auto argv = base;
  argv.insert(argv.end(), {"--log-level", "verbose"});
  CHECK(run(argv, &out) != 0);
  CHECK_THAT(out, Catch::Contains("--log-level"));
}
