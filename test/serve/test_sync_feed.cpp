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

std::string repos_of(const rapidjson::Document& doc) {
  std::string out;
  for (auto& r : doc["repos"].GetArray()) out += (out.empty() ? "" : ",") + str(r, "name") + "@" + str(r, "owner");
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

  // A poll waiting with nothing new answers when the sync is done, not at its timeout.
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
  CHECK(repos_of(doc) == "mycharts@team/mycharts");
  CHECK(seconds < 25);  // well before the 50 s the poll would otherwise wait
  const std::uint64_t generation = doc["generation"].GetUint64();
  CHECK(generation == 1);

  // Nothing new: the poll waits its waitSeconds and answers with no repos.
  auto idle_start = Clock::now();
  auto idle = json_of(call(base, "GET", "/syncs?after=1&epoch=" + epoch + "&waitSeconds=1"));
  CHECK(idle["repos"].Empty());
  CHECK(std::chrono::duration<double>(Clock::now() - idle_start).count() >= 0.9);

  // A scheduled update counts like any sync; a stale epoch (a restarted sidecar) gets everything.
  REQUIRE(call(base, "POST", "/repo/mycharts/update").status == 200);
  auto after_update = json_of(call(base, "GET", "/syncs?after=1&epoch=" + epoch));
  CHECK(after_update["generation"].GetUint64() == 2);
  CHECK(repos_of(after_update) == "mycharts@team/mycharts");
  CHECK(repos_of(json_of(call(base, "GET", "/syncs?after=2&epoch=0000000000000000"))) == "mycharts@team/mycharts");
  CHECK(call(base, "GET", "/syncs?after=x").status == 400);

  // Deleted repos are no longer listed; shutdown answers waiting polls at once.
  REQUIRE(call(base, "DELETE", "/repo/mycharts").status == 200);
  CHECK(json_of(call(base, "GET", "/syncs"))["repos"].Empty());
  auto waiting = std::async(std::launch::async, [&] {
    return call(base, "GET", "/syncs?after=2&epoch=" + epoch + "&waitSeconds=60");
  });
  test::eventually([&] { return test::metric(call(base, "GET", "/metrics").body, "cmop_ready") == "1"; }, "ready");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto stop_start = Clock::now();
  CHECK(server.shutdown(std::chrono::seconds(20)));
  CHECK(waiting.get().status == 200);
  CHECK(std::chrono::duration<double>(Clock::now() - stop_start).count() < 15);
}
