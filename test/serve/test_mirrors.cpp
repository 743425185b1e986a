// `cmop serve` and the shared git mirrors (issue 29): repos on one remote share
// one mirror, the limits come from the options (flags), and /metrics shows them.
#include "serve_fixtures.hpp"

using namespace cmop;
using test::call;
using test::json_of;

TEST_CASE("repos on one remote share a mirror, its bounds and use are in /metrics", "[serve][mirrors]") {
  test::ChartsRepo git;
  const std::string other_url = git.add_repo("other", "gamma", "3.0.0");
  auto o = test::local_options(git.state);
  o.git_mirrors.max_mirrors = 1;
  o.git_mirrors.max_fetches_per_host = 2;
  o.git_mirrors.max_disk_bytes = 1ull << 30;
  serve::Server server(o);
  server.start();
  const auto base = server.url();
  auto body = [&](const std::string& name, const std::string& url, const std::string& path) {
    return "{\"name\":\"" + name + "\",\"git\":\"" + url + "\",\"path\":\"" + path + "\"}";
  };
  REQUIRE(call(base, "POST", "/repo/new", body("alpha", git.git_url(), "charts/alpha")).status == 200);
  REQUIRE(call(base, "POST", "/repo/new", body("beta", git.git_url(), "charts/beta")).status == 200);
  auto refused = call(base, "POST", "/repo/new", test::new_repo_body("other", other_url));
  CHECK(refused.status != 200);
  CHECK_THAT(refused.body, Catch::Contains("--max-git-mirrors"));

  auto metrics = call(base, "GET", "/metrics").body;
  INFO(metrics);
  CHECK(test::metric(metrics, "cmop_git_mirrors") == "1");
  CHECK(test::metric(metrics, "cmop_git_mirrors_max") == "1");
  CHECK(test::metric(metrics, "cmop_git_mirror_users") == "2");
  CHECK(test::metric(metrics, "cmop_git_fetches_total") == "2");
  CHECK(test::metric(metrics, "cmop_git_mirror_refused_total") == "1");
  CHECK(test::metric(metrics, "cmop_git_fetches_per_host_max") == "2");
  CHECK(test::metric(metrics, "cmop_git_mirror_disk_bytes_max") == std::to_string(1ull << 30));
  CHECK(std::stoull(test::metric(metrics, "cmop_git_mirror_disk_bytes")) > 0);
  CHECK(std::stoull(test::metric(metrics, "cmop_git_fetched_bytes_total")) > 0);
  const std::string host = git.git_url().substr(6, git.git_url().find('/', 6) - 6);  // git://host:port/...
  CHECK(test::metric(metrics, "cmop_git_fetches_running{host=\"" + host + "\"}") == "0");
  CHECK(test::metric(metrics, "cmop_git_fetches_waiting{host=\"" + host + "\"}") == "0");

  // Deleting one repo leaves the mirror to the other.
  REQUIRE(call(base, "DELETE", "/repo/alpha").status == 200);
  metrics = call(base, "GET", "/metrics").body;
  CHECK(test::metric(metrics, "cmop_git_mirrors") == "1");
  CHECK(test::metric(metrics, "cmop_git_mirror_users") == "1");
  auto update = call(base, "POST", "/repo/beta/update");
  CHECK(update.status == 200);
  CHECK(json_of(update)["ok"].IsTrue());
}

TEST_CASE("updates of many repos on one remote asked for together share fetches", "[serve][mirrors]") {
  test::ServedRepo git("mono", "cmop-serve-");
  for (int i = 0; i < 8; ++i) test::write_chart(git.work, "team" + std::to_string(i), "t" + std::to_string(i), "1.0.0");
  git.commit_and_serve("initial");
  serve::Server server(test::local_options(git.state));
  server.start();
  const auto base = server.url();
  for (int i = 0; i < 8; ++i) {
    const std::string name = "team" + std::to_string(i);
    REQUIRE(call(base, "POST", "/repo/new",
                 "{\"name\":\"" + name + "\",\"git\":\"" + git.url() + "\",\"path\":\"" + name + "\"}")
                .status == 200);
  }
  auto counter = [&](const std::string& series) {
    return std::stoull(test::metric(call(base, "GET", "/metrics").body, series));
  };
  const auto fetches = counter("cmop_git_fetches_total");
  const auto joined = counter("cmop_git_fetches_joined_total");
  test::write_chart(git.work, "team2", "t2", "1.1.0");
  git.commit_and_serve("team2 changes");
  for (int i = 0; i < 8; ++i)
    REQUIRE(call(base, "POST", "/repo/team" + std::to_string(i) + "/update?async=true").status == 202);
  test::eventually(
      [&] {
        for (int i = 0; i < 8; ++i) {
          auto s = json_of(call(base, "GET", "/repo/team" + std::to_string(i)));
          if (s["syncing"].GetBool() || test::str(s, "lastCommit") != git.work.head()) return false;
        }
        return true;
      },
      "all eight synced the new commit");
  const auto ran = counter("cmop_git_fetches_total") - fetches;
  CHECK(ran + counter("cmop_git_fetches_joined_total") - joined == 8);
  CHECK(ran >= 1);
  CHECK(ran < 8);  // 4 workers: a fetch begun after a request serves it, whichever repo began it
  CHECK(counter("cmop_charts_published_total") == 9);
}
