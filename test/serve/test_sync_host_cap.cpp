// Issue 22, finding 7 (low): four black-holed git repos took all four workers and
// a healthy repo on another host waited for them (~60 s, the git timeout). The
// syncs of one git host now hold at most --max-syncs-per-host workers (default
// workers - 1).
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "serve/serve_fixtures.hpp"
#include "support/black_hole.hpp"

using namespace cmop;
using cmop::test::call;
using cmop::test::json_of;
using cmop::test::str;

TEST_CASE("a hanging git host cannot hold every worker", "[serve][deadline]") {
  cmop::test::BlackHole hole;
  test::ChartsRepo git;
  auto o = test::local_options(git.state);
  o.workers = 4;
  o.network_timeout = std::chrono::seconds(20);
  serve::Server server(o);
  server.start();
  const auto base = server.url();
  for (int i = 0; i < 4; ++i)
    REQUIRE(call(base, "POST", "/repo/new?async=true",
                 test::new_repo_body("hole" + std::to_string(i), hole.url("http", "r" + std::to_string(i) + ".git")))
                .status == 202);
  test::eventually([&] { return hole.accepted() >= 3; }, "three syncs waiting on the black hole");
  const auto started = std::chrono::steady_clock::now();
  auto healthy = call(base, "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url()));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  WARN("the healthy repo synced in " << seconds << " s beside 4 black-holed ones (4 workers)");
  CHECK(healthy.status == 200);
  CHECK(seconds < 10);
  // The fourth black-holed repo waited for its host: it had not even connected.
  CHECK(hole.accepted() == 3);
  CHECK(test::metric(call(base, "GET", "/metrics").body, "cmop_sync_workers_busy") == "3");
}

TEST_CASE("--max-syncs-per-host: 0 means workers - 1: a negative value is refused", "[serve]") {
  test::ChartsRepo git;
  auto o = test::local_options(git.state);
  o.max_syncs_per_host = -1;
  CHECK_THROWS_WITH(serve::Server(o), Catch::Contains("--max-syncs-per-host"));
}
