// GET /syncs: the long poll through which the operator learns of every finished
// sync (its own, a CronJob's, a webhook's) within a moment.
#include <future>

#include "cmop/util/hash.hpp"
#include "serve_fixtures.hpp"

using namespace cmop;
using test::call;
using test::json_of;
using test::str;
using Clock = std::chrono::steady_clock;

namespace {

// "name@owner" per listed repo, with "(syncing)" for a sync that runs.
std::string repos_of(const rapidjson::Document& doc) {
  std::string out;
  for (auto& r : doc["repos"].GetArray())
    out += (out.empty() ? "" : ",") + str(r, "name") + "@" + str(r, "owner") + (r["syncing"].GetBool() ? "(syncing)" : "");
  return out;
}

}  // namespace

TEST_CASE("GET /syncs answers a waiting client as soon as a sync finishes", "[serve][feed]") {
  test::ChartsRepo git;
  serve::Server server(test::local_options(git.state));
  server.start();
  auto base = server.url();

  auto first = json_of(call(base, "GET", "/syncs"));
  const std::string epoch = str(first, "epoch");
  CHECK(epoch.size() == 16);
  CHECK(first["generation"].GetUint64() == 0);
  CHECK(first["repos"].Empty());

  // A poll waiting with nothing new answers when a sync starts, not at its timeout.
  auto started = Clock::now();
  auto poll = std::async(std::launch::async, [&] {
    return call(base, "GET", "/syncs?after=0&epoch=" + epoch + "&waitSeconds=50");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  REQUIRE(call(base, "POST", "/repo/new",
               "{\"name\":\"mycharts\",\"git\":\"" + git.git_url() + "\",\"owner\":\"team/mycharts\"}")
              .status == 200);
  auto answered = poll.get();
  double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  REQUIRE(answered.status == 200);
  auto doc = json_of(answered);
  CHECK(repos_of(doc) == "mycharts@team/mycharts(syncing)");
  CHECK(seconds < 25);  // well before the 50 s the poll would otherwise wait
  CHECK(doc["generation"].GetUint64() == 1);
  // Its end is news too (the POST answered after it).
  auto finished = json_of(call(base, "GET", "/syncs?after=1&epoch=" + epoch));
  CHECK(repos_of(finished) == "mycharts@team/mycharts");
  CHECK(finished["generation"].GetUint64() == 2);

  // Nothing new: the poll waits its waitSeconds and answers with no repos.
  auto idle_start = Clock::now();
  auto idle = json_of(call(base, "GET", "/syncs?after=2&epoch=" + epoch + "&waitSeconds=1"));
  CHECK(idle["repos"].Empty());
  CHECK(std::chrono::duration<double>(Clock::now() - idle_start).count() >= 0.9);

  // A scheduled update counts like any sync; a stale epoch (a restarted sidecar) gets everything.
  REQUIRE(call(base, "POST", "/repo/mycharts/update").status == 200);
  auto after_update = json_of(call(base, "GET", "/syncs?after=2&epoch=" + epoch));
  CHECK(after_update["generation"].GetUint64() == 4);
  CHECK(repos_of(after_update) == "mycharts@team/mycharts");
  CHECK(repos_of(json_of(call(base, "GET", "/syncs?after=4&epoch=0000000000000000"))) == "mycharts@team/mycharts");
  CHECK(call(base, "GET", "/syncs?after=x").status == 400);

  // Deleted repos are no longer listed; shutdown answers waiting polls at once.
  REQUIRE(call(base, "DELETE", "/repo/mycharts").status == 200);
  CHECK(json_of(call(base, "GET", "/syncs"))["repos"].Empty());
  auto waiting = std::async(std::launch::async, [&] {
    return call(base, "GET", "/syncs?after=4&epoch=" + epoch + "&waitSeconds=60");
  });
  test::eventually([&] { return test::metric(call(base, "GET", "/metrics").body, "cmop_ready") == "1"; }, "ready");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto stop_start = Clock::now();
  CHECK(server.shutdown(std::chrono::seconds(20)));
  CHECK(waiting.get().status == 200);
  CHECK(std::chrono::duration<double>(Clock::now() - stop_start).count() < 15);
}

TEST_CASE("an asynchronous POST /repo/new answers 202 at once, the state and the feed show the sync running, then its result",
          "[serve][feed][async]") {
  test::ChartsRepo git;
  test::GatedServer gated(git);
  auto& gate = gated.gate;
  const std::string base = gated.base;
  const std::string epoch = str(json_of(call(base, "GET", "/syncs")), "epoch");

  // Refusals that need no sync are still answered at once, with their category.
  auto bad = call(base, "POST", "/repo/new?async=true", "{\"name\":\"x\",\"git\":\"file:///etc\"}");
  CHECK(bad.status >= 400);
  CHECK(str(json_of(bad), "code") != "");
  CHECK(call(base, "POST", "/repo/new?async=maybe", test::new_repo_body("mycharts", git.git_url())).status == 400);

  gate->close();
  auto accepted = call(base, "POST", "/repo/new?async=true",
                       "{\"name\":\"mycharts\",\"git\":\"" + git.git_url() + "\",\"owner\":\"team/mycharts\"}");
  REQUIRE(accepted.status == 202);
  CHECK(str(json_of(accepted), "status") == "queued");
  // Known at once (not 404) and shown as syncing, before and while the sync runs.
  auto shown = json_of(call(base, "GET", "/repo/mycharts"));
  CHECK(shown["syncing"].IsTrue());
  CHECK(str(shown["spec"], "owner") == "team/mycharts");
  gate->wait_until_held();
  CHECK(json_of(call(base, "GET", "/repo/mycharts"))["syncing"].IsTrue());
  CHECK(json_of(call(base, "GET", "/repo"))["repos"][0]["syncing"].IsTrue());
  auto running = json_of(call(base, "GET", "/syncs?after=0&epoch=" + epoch));
  CHECK(repos_of(running) == "mycharts@team/mycharts(syncing)");
  // Another owner is refused at once, also while the first apply only waits.
  auto other = call(base, "POST", "/repo/new?async=true",
                    "{\"name\":\"mycharts\",\"git\":\"" + git.git_url() + "\",\"owner\":\"intruder/mycharts\"}");
  CHECK(other.status == 409);
  CHECK(str(json_of(other), "code") == "Conflict");

  // The end reaches a waiting poll; the state then holds the result.
  const auto seen = running["generation"].GetUint64();
  auto poll = std::async(std::launch::async, [&] {
    return call(base, "GET", "/syncs?after=" + std::to_string(seen) + "&epoch=" + epoch + "&waitSeconds=50");
  });
  gate->open();
  auto done = json_of(poll.get());
  CHECK(repos_of(done) == "mycharts@team/mycharts");
  auto state = json_of(call(base, "GET", "/repo/mycharts"));
  CHECK(state["syncing"].IsFalse());
  CHECK(str(state, "lastCommit") == git.work.head());
  CHECK(state["charts"].Size() == 2);
  // The served index has what the sync published as soon as it answered.
  auto index = call(base, "GET", "/charts/index.yaml").body;
  CHECK(index.find("alpha") != std::string::npos);
  CHECK(index.find("beta") != std::string::npos);

  // The synchronous form is unchanged: it answers with the report.
  auto sync = call(base, "POST", "/repo/new",
                   "{\"name\":\"mycharts\",\"git\":\"" + git.git_url() + "\",\"owner\":\"team/mycharts\"}");
  CHECK(sync.status == 200);
  CHECK(json_of(sync)["ok"].IsTrue());
}

TEST_CASE("every error answer carries its category as \"code\"", "[serve][errors]") {
  test::ChartsRepo git;
  serve::Server server(test::local_options(git.state));
  server.start();
  auto base = server.url();
  auto code_of = [&](const std::string& method, const std::string& path, const std::string& body = "") {
    auto res = call(base, method, path, body);
    return std::to_string(res.status) + " " + str(json_of(res), "code");
  };
  CHECK(code_of("GET", "/repo/nope") == "404 NotFound");
  CHECK(code_of("GET", "/nowhere") == "404 NotFound");
  CHECK(code_of("POST", "/repo/new", "{\"name\":\"Bad.Name\",\"git\":\"https://x.example/r\"}") == "400 InvalidArgument");
  CHECK(code_of("PUT", "/repo/new") == "405 MethodNotAllowed");
  CHECK(code_of("POST", "/repo/new", "{\"name\":\"gone\",\"git\":\"git://127.0.0.1:1/nothing.git\"}") == "502 SyncFailed");
  REQUIRE(call(base, "POST", "/repo/new", "{\"name\":\"mine\",\"git\":\"" + git.git_url() + "\",\"owner\":\"a/mine\"}").status ==
          200);
  CHECK(code_of("DELETE", "/repo/mine?owner=b/mine") == "409 Conflict");
}
