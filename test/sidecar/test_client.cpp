// The sidecar client against a real `cmop serve` (in process, over 127.0.0.1):
// what the operator and the trigger read from its answers, parsed once.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>

#include "cmop/sidecar/client.hpp"
#include "serve/serve_fixtures.hpp"
#include "support/error_of.hpp"

namespace cmop {
namespace {

using sidecar::Client;

const sidecar::ChartOutcome* outcome_of(const std::vector<sidecar::ChartOutcome>& charts, const std::string& path) {
  auto it = std::find_if(charts.begin(), charts.end(), [&](auto& c) { return c.path == path; });
  return it == charts.end() ? nullptr : &*it;
}

std::string body_of(const std::string& name, const std::string& git, const std::string& owner) {
  return R"({"name":")" + name + R"(","git":")" + git + R"(","owner":")" + owner + R"("})";
}

// A served repo with one good chart and one whose version is no SemVer.
struct MixedRepo : test::ServedRepo {
  MixedRepo() : ServedRepo("mixed", "cmop-sidecar-") {
    write_chart(work, "charts/good", "good", "1.2.3");
    work.write("charts/bad/Chart.yaml", "apiVersion: v2\nname: bad\nversion: not-a-version\n");
    commit_and_serve("initial");
  }
};

}  // namespace

TEST_CASE("the client reads a real sidecar's sync report and repo state") {
  test::ChartsRepo git;
  serve::Server server(test::local_options(git.state));
  server.start();
  const Client client(server.url() + "/", "");

  auto report = client.apply(body_of("mycharts", git.git_url(), "team/mycharts"));
  INFO("commit " << report.commit << ", error " << report.error);
  CHECK(report.error.empty());
  CHECK(report.commit.size() == 40);
  auto* alpha = outcome_of(report.charts, "charts/alpha");
  REQUIRE(alpha);
  CHECK(alpha->status == "published");
  CHECK(alpha->name == "alpha");
  CHECK(alpha->version == "1.0.0");
  REQUIRE(outcome_of(report.charts, "charts/beta"));

  auto state = client.repo("mycharts");
  REQUIRE(state);
  CHECK(state->owner == "team/mycharts");
  CHECK(state->last_commit == report.commit);
  CHECK(state->last_error.empty());
  CHECK_FALSE(state->last_sync_time.empty());
  CHECK_FALSE(state->syncing);
  CHECK(state->failed_charts().empty());
  REQUIRE(state->charts.size() == 2);
  std::vector<std::string> published;
  for (auto& c : state->charts) published.push_back(c.name + "-" + c.version);
  std::sort(published.begin(), published.end());
  CHECK(published == std::vector<std::string>{"alpha-1.0.0", "beta-0.2.0"});

  // The trigger's call: the same report, unparsed statuses left to the caller.
  auto update = client.update("mycharts", std::chrono::seconds(60));
  CHECK(update.status == 200);
  REQUIRE(update.report);
  CHECK(update.report->commit == report.commit);
  CHECK(outcome_of(update.report->charts, "charts/alpha")->status == "unchanged");
  CHECK_FALSE(update.error);
}

TEST_CASE("the client reads a failed chart from the report and from the state") {
  MixedRepo git;
  serve::Server server(test::local_options(git.state));
  server.start();
  const Client client(server.url(), "");

  auto report = client.apply(body_of("mixed", git.url(), "ns/mixed"));
  auto* bad = outcome_of(report.charts, "charts/bad");
  REQUIRE(bad);
  CHECK(bad->status == "failed");
  CHECK_FALSE(bad->reason.empty());
  CHECK(outcome_of(report.charts, "charts/good")->status == "published");

  auto state = client.repo("mixed");
  REQUIRE(state);
  auto failed = state->failed_charts();
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].path == "charts/bad");
  CHECK(failed[0].reason == bad->reason);
  REQUIRE(state->charts.size() == 1);
  CHECK(state->charts[0].name == "good");
}

TEST_CASE("the client names what a real sidecar refused, with the category its code names") {
  test::ChartsRepo git;
  serve::Server server(test::local_options(git.state));
  server.start();
  const Client client(server.url(), "");

  CHECK_FALSE(client.repo("nothere"));
  CHECK(client.remove("nothere", "ns/nothere") == Client::Removal::unknown);

  // The refusal's answer carries "code" (to_string of the Errc), which the error keeps.
  auto raw = test::call(server.url(), "POST", "/repo/new", R"({"name":"Not_A_Name","git":"x"})");
  REQUIRE(raw.status == 400);
  auto answer = sidecar::parse_error_answer(raw.body);
  REQUIRE(answer);
  CHECK(answer->code == "InvalidArgument");
  CHECK_FALSE(answer->error.empty());
  auto e = test::error_of([&] { client.apply(R"({"name":"Not_A_Name","git":"x"})"); });
  CHECK(e.code() == Errc::invalid_argument);
  CHECK(std::string(e.what()).find("sidecar POST /repo/new") != std::string::npos);
  CHECK(std::string(e.what()).find("HTTP 400: " + answer->error) != std::string::npos);

  // Another owner's repo is left alone; its owner removes it.
  client.apply_async(body_of("mycharts", git.git_url(), "a/mycharts"));
  CHECK(client.remove("mycharts", "b/mycharts") == Client::Removal::not_ours);
  test::eventually([&] { return !client.repo("mycharts")->syncing; }, "the queued sync ends");
  CHECK(client.remove("mycharts", "a/mycharts") == Client::Removal::removed);
  CHECK_FALSE(client.repo("mycharts"));

  // The trigger sees a refusal as its status and the answer's error.
  auto update = client.update("nothere", std::chrono::seconds(30));
  CHECK(update.status == 404);
  CHECK_FALSE(update.report);
  REQUIRE(update.error);
  CHECK(update.error->code == "NotFound");
}

TEST_CASE("the client follows a real sidecar's GET /syncs") {
  test::ChartsRepo git;
  serve::Server server(test::local_options(git.state));
  server.start();
  const Client client(server.url(), "");
  auto never = [] { return false; };

  auto first = client.syncs(0, "", std::chrono::seconds(0), std::chrono::seconds(15), never);
  REQUIRE(first.status == 200);
  CHECK_FALSE(first.epoch.empty());
  client.apply(body_of("mycharts", git.git_url(), "ns/mycharts"));
  auto next = client.syncs(first.generation, first.epoch, std::chrono::seconds(5), std::chrono::seconds(20), never);
  REQUIRE(next.status == 200);
  CHECK(next.epoch == first.epoch);
  CHECK(next.generation > first.generation);
  CHECK(std::count(next.owners.begin(), next.owners.end(), "ns/mycharts") >= 1);
}

TEST_CASE("the parsers read what is missing or mistyped as empty and refuse text that is not JSON") {
  auto report = sidecar::parse_sync_report(R"({"commit":7,"charts":[{"path":"a","status":"failed"},3]})", "r");
  CHECK(report.commit.empty());
  REQUIRE(report.charts.size() == 2);
  CHECK(report.charts[0].status == "failed");
  CHECK(report.charts[1].path.empty());
  auto state = sidecar::parse_repo_status(R"({"syncing":"yes","lastSync":{"ok":false},"charts":{}})", "s");
  CHECK_FALSE(state.syncing);
  CHECK(state.last_sync_ok == false);
  CHECK(state.charts.empty());
  CHECK_FALSE(sidecar::parse_repo_status("[]", "s").last_sync_ok);

  auto e = test::error_of([] { sidecar::parse_sync_report("<html>", "sidecar POST /repo/new"); });
  CHECK(e.code() == Errc::upstream);
  CHECK(std::string(e.what()).find("sidecar POST /repo/new") != std::string::npos);
  CHECK_FALSE(sidecar::parse_error_answer("<html>"));
  CHECK_FALSE(sidecar::parse_error_answer("[1]"));
}

TEST_CASE("every error code the sidecar sends names its category") {
  for (Errc e : {Errc::invalid_argument, Errc::not_found, Errc::conflict, Errc::unauthorized, Errc::forbidden,
                 Errc::invalid_chart, Errc::dependency, Errc::git, Errc::io, Errc::network, Errc::upstream,
                 Errc::too_large, Errc::internal})
    CHECK(sidecar::errc_from_code(to_string(e)) == e);
  CHECK(sidecar::errc_from_code("Unavailable") == Errc::network);
  CHECK(sidecar::errc_from_code("TooManyRequests") == Errc::network);
  CHECK(sidecar::errc_from_code("SyncFailed") == Errc::upstream);
  CHECK_FALSE(sidecar::errc_from_code(""));
  CHECK_FALSE(sidecar::errc_from_code("Whatever"));
}

}  // namespace cmop
