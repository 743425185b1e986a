// Issue 22, the small findings: per-repo series outliving their repo, the
// waiting-requests gauge counting requests nobody waits on, and a 900 KiB name
// echoed whole in its 400.
#include "serve_fixtures.hpp"

using namespace cmop;
using test::call;
using test::json_of;
using test::str;

TEST_CASE("a deleted repo's series leave /metrics", "[serve][metrics]") {
  test::ChartsRepo git;
  test::GatedServer gated(git);
  const std::string& base = gated.base;
  REQUIRE(call(base, "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url())).status == 200);
  REQUIRE(call(base, "POST", "/repo/new", test::new_repo_body("kept", git.git_url())).status == 200);
  auto before = call(base, "GET", "/metrics").body;
  REQUIRE(before.find("repo=\"mycharts\"") != std::string::npos);

  REQUIRE(call(base, "DELETE", "/repo/mycharts").status == 200);
  auto after = call(base, "GET", "/metrics").body;
  INFO(after);
  CHECK(after.find("repo=\"mycharts\"") == std::string::npos);
  CHECK(after.find("cmop_syncs_total{repo=\"kept\"") != std::string::npos);  // other repos' stay
}

TEST_CASE("the waiting-requests gauge counts only requests that wait for their sync", "[serve][metrics]") {
  test::ChartsRepo git;
  test::GatedServer gated(git, [](serve::ServerOptions& o) { o.workers = 1; });
  auto& gate = gated.gate;
  const std::string& base = gated.base;
  REQUIRE(call(base, "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url())).status == 200);
  test::write_chart(git.work, "charts/alpha", "alpha", "2.0.0");
  git.work.commit("bump");
  git.push();
  gate->close();
  // Answered 202 at once: a sync runs (and one more is queued), but nobody waits.
  REQUIRE(call(base, "POST", "/repo/mycharts/update?async=true").status == 202);
  gate->wait_until_held();
  REQUIRE(call(base, "POST", "/repo/mycharts/update?async=true").status == 202);
  CHECK(test::metric(call(base, "GET", "/metrics").body, "cmop_sync_waiting_requests") == "0");

  net::Response waited;
  std::thread waiting([&] { waited = call(base, "POST", "/repo/mycharts/update"); });
  test::eventually([&] { return test::metric(call(base, "GET", "/metrics").body, "cmop_sync_waiting_requests") == "1"; },
                   "one request waiting");
  gate->open();
  waiting.join();
  CHECK(waited.status == 200);
  test::eventually([&] { return test::metric(call(base, "GET", "/metrics").body, "cmop_sync_waiting_requests") == "0"; },
                   "nobody waiting");
}

TEST_CASE("input echoed in an error answer is cut short", "[serve][errors]") {
  test::ChartsRepo git;
  test::GatedServer gated(git);
  const std::string& base = gated.base;
  const std::string huge(900 * 1024, 'N');
  auto res = call(base, "POST", "/repo/new", "{\"name\":\"" + huge + "\",\"git\":\"" + git.git_url() + "\"}");
  CHECK(res.status == 400);
  INFO(res.body.substr(0, 300));
  CHECK(res.body.size() < 1024);
  CHECK(str(json_of(res), "error").find("repo name \"" + std::string(64, 'N') + "\xe2\x80\xa6\"") != std::string::npos);

  auto named = call(base, "GET", "/repo/" + std::string(5000, 'X'));
  CHECK(named.status == 400);
  CHECK(named.body.size() < 1024);
  auto path = call(base, "GET", "/nope/" + std::string(8000, 'p'));
  CHECK(path.status == 404);
  CHECK(path.body.size() < 1024);
  auto dep = call(base, "POST", "/repo/dependency", "{\"name\":\"" + huge + "\",\"url\":\"https://x.example.com\"}");
  CHECK(dep.status == 400);
  CHECK(dep.body.size() < 1024);
}
