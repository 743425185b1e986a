// Syncs against a ChartMuseum that behaves as v0.16 does where it hurts
// (docs/chartmuseum.md): one package refused with 400, a delete that fails in its
// storage (answered 404 like a missing chart), an upload over its
// --max-upload-size. Each is a failure of that one chart: the others of the sync
// still publish, pruning still runs, and the ledger keeps what is still published
// so the next sync finishes the job.
#include <random>

#include "hostile/hostile_fixtures.hpp"
#include "publish/publish_fixtures.hpp"

using namespace cmop;
using Status = sync::ChartOutcome::Status;

namespace {

const sync::ChartOutcome* outcome_of(const sync::SyncReport& report, const std::string& path) {
  for (const auto& c : report.charts)
    if (c.path == path) return &c;
  return nullptr;
}

bool ledger_holds(const sync::Workspace& ws, const std::string& name, const std::string& version) {
  const auto state = ws.get("hostile");  // held: get() returns a copy, not a reference
  REQUIRE(state);
  for (const auto& p : state->published)
    if (p.name == name && p.version == version) return true;
  return false;
}

void set_fault(const test::Peer& museum, const std::string& spec) {
  REQUIRE(test::http_post(museum.url() + "/__faults", spec).status == 200);
}

}  // namespace

TEST_CASE("a chart ChartMuseum refuses with 400 fails alone: the others publish and pruning runs", "[faults]") {
  test::SyncedRepo r;
  test::write_chart(r.work, "charts/a", "a", "1.0.0");
  test::write_chart(r.work, "charts/old", "old", "1.0.0");
  r.publish_commit("three charts");
  auto museum = test::start_python_peer("fake_chartmuseum.py");
  sync::Workspace ws(r.state, publish::make_chartmuseum_publisher(test::chartmuseum_options(museum)));
  REQUIRE(ws.apply(r.spec()).ok());

  // charts/a is uploaded first and refused by ChartMuseum's loader.
  test::write_chart(r.work, "charts/a", "a", "1.1.0");
  test::write_chart(r.work, "charts/good", "good", "1.1.0");
  r.work.remove("charts/old");
  r.publish_commit("bump a and good, drop old");
  set_fault(museum, R"({"fail_next": 1, "status": 400,
                        "body": "{\"error\": \"validation: chart.metadata.version \\\"1.1.0\\\" is invalid\"}"})");
  auto report = ws.update("hostile");
  INFO(report.error);
  CHECK(report.error.empty());
  REQUIRE(outcome_of(report, "charts/a"));
  CHECK(outcome_of(report, "charts/a")->status == Status::failed);
  CHECK_THAT(outcome_of(report, "charts/a")->reason, Catch::Contains("HTTP 400") && Catch::Contains("a-1.1.0"));
  REQUIRE(outcome_of(report, "charts/good"));
  CHECK(outcome_of(report, "charts/good")->status == Status::published);
  REQUIRE(outcome_of(report, "charts/old"));
  CHECK(outcome_of(report, "charts/old")->status == Status::removed);
  auto stored = test::stored_charts(museum.url());
  CHECK(stored["a"].size() == 1);
  CHECK(stored["good"].size() == 2);
  CHECK(stored.count("old") == 0);
  CHECK_FALSE(ledger_holds(ws, "a", "1.1.0"));

  // The refused chart is retried by the next sync.
  auto next = ws.update("hostile");
  INFO(next.error);
  CHECK(next.ok());
  CHECK(test::stored_charts(museum.url())["a"].count("1.1.0") == 1);
}

TEST_CASE("a delete that fails in ChartMuseum's storage keeps the chart on record, the next sync removes it",
          "[faults]") {
  test::SyncedRepo r;
  test::write_chart(r.work, "charts/old", "old", "1.0.0");
  r.publish_commit("two charts");
  auto museum = test::start_python_peer("fake_chartmuseum.py");
  sync::Workspace ws(r.state, publish::make_chartmuseum_publisher(test::chartmuseum_options(museum)));
  REQUIRE(ws.apply(r.spec()).ok());

  r.work.remove("charts/old");
  r.publish_commit("drop old");
  set_fault(museum, R"({"delete_error": "permission denied"})");
  auto failed = ws.update("hostile");
  CHECK_FALSE(failed.ok());
  REQUIRE(outcome_of(failed, "charts/old"));
  CHECK(outcome_of(failed, "charts/old")->status == Status::failed);
  CHECK_THAT(outcome_of(failed, "charts/old")->reason, Catch::Contains("permission denied"));
  CHECK(test::stored_charts(museum.url()).count("old") == 1);
  CHECK(ledger_holds(ws, "old", "1.0.0"));  // still published, still ours

  set_fault(museum, R"({"delete_error": null})");
  auto recovered = ws.update("hostile");
  INFO(recovered.error);
  CHECK(recovered.ok());
  REQUIRE(outcome_of(recovered, "charts/old"));
  CHECK(outcome_of(recovered, "charts/old")->status == Status::removed);
  CHECK(test::stored_charts(museum.url()).count("old") == 0);
  CHECK_FALSE(ledger_holds(ws, "old", "1.0.0"));
}

TEST_CASE("a chart over ChartMuseum's --max-upload-size fails alone, naming the limit", "[faults]") {
  test::SyncedRepo r;
  // Random bytes do not compress: the package is about as large as the file.
  std::mt19937_64 rng(11);
  std::string noise(2u << 20, '\0');
  for (auto& c : noise) c = static_cast<char>(rng() & 0xff);
  test::write_chart(r.work, "charts/big", "big", "1.0.0");
  r.work.write("charts/big/files/noise.bin", noise);
  test::write_chart(r.work, "charts/other", "other", "1.0.0");
  r.publish_commit("a big chart");
  auto museum = test::start_python_peer("fake_chartmuseum.py", {"--max-upload-size", std::to_string(1 << 20)});
  sync::Workspace ws(r.state, publish::make_chartmuseum_publisher(test::chartmuseum_options(museum)));
  auto report = ws.apply(r.spec());
  INFO(report.error);
  CHECK(report.error.empty());
  REQUIRE(outcome_of(report, "charts/big"));
  CHECK(outcome_of(report, "charts/big")->status == Status::failed);
  CHECK_THAT(outcome_of(report, "charts/big")->reason,
             Catch::Contains("big-1.0.0") && Catch::Contains("HTTP 413") && Catch::Contains("--max-upload-size"));
  CHECK(report.count(Status::published) == 2);
  CHECK(test::stored_charts(museum.url()).count("big") == 0);
}
