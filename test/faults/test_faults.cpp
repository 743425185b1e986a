// Faults of the peers, end to end through the core Workspace: a ChartMuseum that
// answers 500 or too slowly, and a dependency chart repository that is down. The
// sync reports the failure with a reason naming the peer, keeps what was published
// before, and the next sync after the peer recovers publishes what was missing.
//
// Covered elsewhere and not repeated here: ChartMuseum killed (test/serve/test_sync.cpp),
// git server down (test/sync/test_workspace.cpp), a failed fetch keeping the previous
// worktree and crash leftovers in the mirror (test/git/repository_test.cpp), kill -9
// of `cmop serve` after a sync (test/serve/test_binary.cpp).
#include <map>
#include <set>
#include <thread>

#include "cmop/error.hpp"
#include "hostile/hostile_fixtures.hpp"

using namespace cmop;
using Status = sync::ChartOutcome::Status;
namespace fs = std::filesystem;

namespace {

net::Response post_json(const std::string& url, const std::string& body) {
  net::Request req;
  req.method = "POST";
  req.url = url;
  req.body = body;
  req.headers.push_back({"Content-Type", "application/json"});
  req.timeout = std::chrono::milliseconds(30000);
  return net::HttpClient().send(req);
}

// name -> versions stored by the fake ChartMuseum.
std::map<std::string, std::set<std::string>> stored(const test::Peer& museum) {
  net::Request req;
  req.url = museum.url() + "/__state";
  req.timeout = std::chrono::milliseconds(30000);
  auto doc = test::parse_json(net::HttpClient().send(req).body);
  std::map<std::string, std::set<std::string>> out;
  for (auto& chart : doc["charts"].GetObject())
    for (auto& version : chart.value.GetObject()) out[chart.name.GetString()].insert(version.name.GetString());
  return out;
}

}  // namespace

TEST_CASE("ChartMuseum answering 500 or too slowly fails the sync with a reason and loses nothing", "[faults]") {
  test::SyncedRepo r;
  test::write_chart(r.work, "charts/other", "other", "1.0.0");
  r.publish_commit("two charts");
  auto museum = test::start_python_peer("fake_chartmuseum.py");
  publish::ChartMuseumOptions o;
  o.url = museum.url();
  o.upload_timeout = std::chrono::milliseconds(1500);
  o.request_timeout = std::chrono::milliseconds(1500);
  sync::Workspace ws(r.state, publish::make_chartmuseum_publisher(o));

  // 500 on the first upload: a repo-level error naming the target, nothing claimed.
  REQUIRE(post_json(museum.url() + "/__faults", R"({"fail_next": 1, "status": 500})").status == 200);
  auto failed = ws.apply(r.spec());
  CHECK_FALSE(failed.ok());
  CHECK_THAT(failed.error, Catch::Contains(museum.url()) && Catch::Contains("HTTP 500"));
  CHECK(ws.get("hostile")->published.empty());
  CHECK(stored(museum).empty());

  auto recovered = ws.update("hostile");
  INFO(recovered.error);
  CHECK(recovered.ok());
  CHECK(recovered.count(Status::published) == 2);
  CHECK(stored(museum) == std::map<std::string, std::set<std::string>>{{"good", {"1.0.0"}}, {"other", {"1.0.0"}}});

  // A server slower than the timeout: the new version is reported, the old ones stay.
  test::write_chart(r.work, "charts/good", "good", "1.1.0");
  r.publish_commit("bump good");
  REQUIRE(post_json(museum.url() + "/__faults", R"({"delay_ms": 4000})").status == 200);
  auto slow = ws.update("hostile");
  CHECK_FALSE(slow.ok());
  CHECK_THAT(slow.error, Catch::Contains(museum.url()));
  CHECK(ws.get("hostile")->published.size() == 2);
  REQUIRE(post_json(museum.url() + "/__faults", R"({"delay_ms": 0})").status == 200);
  // The timed-out upload lands on the server after all (the fake stores it once its
  // delay is over): the next sync must not trip over it, it is ours to replace.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (stored(museum)["good"].count("1.1.0") == 0) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto after = ws.update("hostile");
  INFO(after.error);
  CHECK(after.ok());
  CHECK(stored(museum)["good"] == std::set<std::string>{"1.0.0", "1.1.0"});
  CHECK(ws.get("hostile")->published.size() == 3);
}

TEST_CASE("a dependency repo that is down fails only the chart that needs it, naming the dependency",
          "[faults]") {
  test::SyncedRepo r;
  const std::string down = "http://127.0.0.1:" + std::to_string(test::free_port());
  test::write_chart(r.work, "charts/needy", "needy", "1.0.0",
                    "dependencies:\n- name: redis\n  version: ^17.0.0\n  repository: " + down + "\n");
  r.publish_commit("a chart with an unreachable dependency");
  auto ws = r.workspace();
  auto report = ws->apply(r.spec());
  CHECK(report.error.empty());
  CHECK(test::outcome_at(report, "charts/good").status == Status::published);
  auto& needy = test::outcome_at(report, "charts/needy");
  CHECK(needy.status == Status::failed);
  CHECK_THAT(needy.reason, Catch::Contains("redis") && Catch::Contains(down));
  CHECK_FALSE(fs::exists(r.out / "needy-1.0.0.tgz"));
  // The failure is not remembered as done: the next sync tries the dependency again.
  auto again = ws->update("hostile");
  CHECK(test::outcome_at(again, "charts/needy").status == Status::failed);
  CHECK(test::outcome_at(again, "charts/good").status == Status::unchanged);
}
