// Syncs through the API in-process: real git repos served by `git daemon`,
// charts published to the embedded local repo or to the fake ChartMuseum, and
// the concurrency contract (syncs off the I/O threads, per-repo coalescing).
#include <signal.h>

#include <cmath>
#include <ctime>
#include <set>

#include "cmop/util/hash.hpp"
#include "serve_fixtures.hpp"
#include "support/black_hole.hpp"

using namespace cmop;
namespace fs = std::filesystem;
using test::call;
using test::json_of;
using test::str;

namespace {

std::set<std::string> chart_statuses(const rapidjson::Value& report, const char* status) {
  std::set<std::string> out;
  for (auto& c : report["charts"].GetArray())
    if (str(c, "status") == status) out.insert(str(c, "name") + "-" + str(c, "version"));
  return out;
}

}  // namespace

TEST_CASE("end to end: register, publish to the embedded repo, fetch it back, delete", "[serve][e2e]") {
  test::ChartsRepo git;
  std::string other_url = git.add_repo("other", "gamma", "3.0.0");
  serve::Server server(test::local_options(git.state));
  server.start();
  auto base = server.url();

  auto created = call(base, "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url()));
  REQUIRE(created.status == 200);
  auto report = json_of(created);
  CHECK(str(report, "repo") == "mycharts");
  CHECK(report["ok"].IsTrue());
  CHECK(str(report, "commit") == git.work.head());
  CHECK(chart_statuses(report, "published") == std::set<std::string>{"alpha-1.0.0", "beta-0.2.0"});
  REQUIRE(call(base, "POST", "/repo/new", test::new_repo_body("other", other_url)).status == 200);

  // The served repo is what `helm repo add http://host:port/charts` reads.
  auto index = call(base, "GET", "/charts/index.yaml");
  REQUIRE(index.status == 200);
  for (auto name : {"alpha:", "beta:", "gamma:"}) CHECK(index.body.find(name) != std::string::npos);
  auto tgz = call(base, "GET", "/charts/alpha-1.0.0.tgz");
  REQUIRE(tgz.status == 200);
  CHECK(tgz.header("Content-Type") == "application/gzip");
  std::string digest;
  for (auto& c : report["charts"].GetArray())
    if (str(c, "name") == "alpha") digest = str(c, "digest");
  CHECK(util::sha256_hex(tgz.body) == digest);
  CHECK(index.body.find(digest) != std::string::npos);

  // State reads.
  auto state = call(base, "GET", "/repo/mycharts");
  REQUIRE(state.status == 200);
  auto s = json_of(state);
  CHECK(str(s, "name") == "mycharts");
  CHECK(str(s["spec"], "git") == git.git_url());
  CHECK(str(s, "lastCommit") == git.work.head());
  CHECK(s["charts"].Size() == 2);
  auto all = json_of(call(base, "GET", "/repo"));
  CHECK(all["repos"].Size() == 2);

  // An update with nothing new changes nothing.
  auto again = call(base, "POST", "/repo/mycharts/update");
  REQUIRE(again.status == 200);
  auto again_report = json_of(again);
  CHECK(chart_statuses(again_report, "unchanged") == std::set<std::string>{"alpha-1.0.0", "beta-0.2.0"});
  CHECK(again_report["changed"].IsFalse());

  // A new version is published on update (GET works too, for old callers).
  test::write_chart(git.work, "charts/alpha", "alpha", "1.1.0");
  git.work.commit("bump alpha");
  git.push();
  auto bumped = call(base, "GET", "/repo/mycharts/update");
  REQUIRE(bumped.status == 200);
  CHECK(chart_statuses(json_of(bumped), "published") == std::set<std::string>{"alpha-1.1.0"});

  // DELETE removes exactly this repo's charts.
  auto removed = call(base, "DELETE", "/repo/mycharts");
  REQUIRE(removed.status == 200);
  auto r = json_of(removed);
  CHECK(str(r, "removed") == "mycharts");
  std::set<std::string> removed_charts;
  for (auto& c : r["charts"].GetArray()) removed_charts.insert(str(c, "name") + "-" + str(c, "version"));
  CHECK(removed_charts == std::set<std::string>{"alpha-1.0.0", "alpha-1.1.0", "beta-0.2.0"});
  auto after = call(base, "GET", "/charts/index.yaml");
  CHECK(after.body.find("alpha") == std::string::npos);
  CHECK(after.body.find("beta") == std::string::npos);
  CHECK(after.body.find("gamma") != std::string::npos);
  CHECK(call(base, "GET", "/charts/alpha-1.0.0.tgz").status == 404);
  CHECK(call(base, "GET", "/charts/gamma-3.0.0.tgz").status == 200);
  CHECK(call(base, "GET", "/repo/mycharts").status == 404);
  CHECK(call(base, "GET", "/repo/mycharts/update").status == 404);

  auto metrics = call(base, "GET", "/metrics").body;
  CHECK(test::metric(metrics, "cmop_repos") == "1");
  CHECK(test::metric(metrics, "cmop_charts_published_total") == "4");
  // The removed repo's series went with it (issue 22); the other's stay.
  CHECK(metrics.find("repo=\"mycharts\"") == std::string::npos);
  CHECK(test::metric(metrics, "cmop_sync_duration_seconds_count{repo=\"other\"}") == "1");
  CHECK(test::metric(metrics, "cmop_sync_duration_seconds_bucket{repo=\"other\",le=\"+Inf\"}") == "1");
  // The removed repo's success time went with its state; the other's is recent.
  CHECK(test::metric(metrics, "cmop_repo_last_success_timestamp_seconds{repo=\"mycharts\"}").empty());
  double other_success = std::stod(test::metric(metrics, "cmop_repo_last_success_timestamp_seconds{repo=\"other\"}"));
  CHECK(std::abs(other_success - static_cast<double>(std::time(nullptr))) < 600);
}

TEST_CASE("failed charts give 200 with ok=false, unreachable git gives 502 and keeps the state", "[serve][e2e]") {
  test::ChartsRepo git;
  test::write_chart(git.work, "charts/broken", "broken", "1.x");
  git.work.commit("broken chart");
  git.push();
  serve::Server server(test::local_options(git.state));
  server.start();
  auto base = server.url();

  auto res = call(base, "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url()));
  REQUIRE(res.status == 200);
  auto report = json_of(res);
  CHECK(report["ok"].IsFalse());
  CHECK(chart_statuses(report, "published").size() == 2);
  bool saw_reason = false;
  for (auto& c : report["charts"].GetArray())
    if (str(c, "status") == "failed") saw_reason = str(c, "reason").find("1.x") != std::string::npos;
  CHECK(saw_reason);

  auto unreachable = call(base, "POST", "/repo/new", test::new_repo_body("gone", "git://127.0.0.1:1/nothing.git"));
  CHECK(unreachable.status == 502);
  auto body = json_of(unreachable);
  CHECK_FALSE(str(body, "error").empty());
  CHECK(body["report"].IsObject());
  CHECK(str(body["report"], "repo") == "gone");
  auto state = json_of(call(base, "GET", "/repo/gone"));
  CHECK_FALSE(str(state, "lastError").empty());

  auto metrics = call(base, "GET", "/metrics").body;
  CHECK(test::metric(metrics, "cmop_syncs_total{repo=\"mycharts\",result=\"partial\"}") == "1");
  CHECK(test::metric(metrics, "cmop_syncs_total{repo=\"gone\",result=\"error\"}") == "1");
  CHECK(test::metric(metrics, "cmop_sync_failures_total") == "2");
}

TEST_CASE("health, metrics and state reads answer while a sync is held", "[serve][concurrency]") {
  test::ChartsRepo git;
  test::GatedServer gated(git, [](serve::ServerOptions& o) { o.workers = 1; });
  auto& gate = gated.gate;
  const std::string base = gated.base;
  REQUIRE(call(base, "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url())).status == 200);

  test::write_chart(git.work, "charts/alpha", "alpha", "2.0.0");
  git.work.commit("bump");
  git.push();
  gate->close();
  net::Response held_answer;
  std::thread syncing([&] { held_answer = call(base, "POST", "/repo/mycharts/update"); });
  gate->wait_until_held();

  CHECK(call(base, "GET", "/healthz").status == 200);
  CHECK(call(base, "GET", "/readyz").status == 200);
  auto metrics = call(base, "GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(test::metric(metrics.body, "cmop_sync_waiting_requests") == "1");
  CHECK(test::metric(metrics.body, "cmop_sync_workers_busy") == "1");
  CHECK(call(base, "GET", "/repo").status == 200);
  CHECK(call(base, "GET", "/repo/mycharts").status == 200);
  CHECK(call(base, "POST", "/repo/dependency", "{\"name\":\"d\",\"url\":\"https://d.example.com\"}").status == 200);
  CHECK(gate->held() == 1);  // all of the above answered while the sync was still held

  gate->open();
  syncing.join();
  REQUIRE(held_answer.status == 200);
  CHECK(chart_statuses(json_of(held_answer), "published") == std::set<std::string>{"alpha-2.0.0"});
}

TEST_CASE("concurrent updates of one repo share one follow-up sync", "[serve][concurrency]") {
  test::ChartsRepo git;
  test::GatedServer gated(git, [](serve::ServerOptions& o) { o.workers = 4; });
  auto& gate = gated.gate;
  const std::string base = gated.base;
  REQUIRE(call(base, "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url())).status == 200);

  test::write_chart(git.work, "charts/beta", "beta", "0.3.0");
  git.work.commit("bump beta");
  git.push();
  gate->close();
  net::Response first;
  std::thread running([&] { first = call(base, "POST", "/repo/mycharts/update"); });
  gate->wait_until_held();

  // These arrive while the first sync runs: they wait for one fresh sync together.
  constexpr int followers = 5;
  std::vector<net::Response> answers(followers);
  std::vector<std::thread> threads;
  for (int i = 0; i < followers; ++i)
    threads.emplace_back([&, i] { answers[i] = call(base, i % 2 ? "GET" : "POST", "/repo/mycharts/update"); });
  test::eventually(
      [&] {
        return test::metric(call(base, "GET", "/metrics").body, "cmop_sync_waiting_requests") ==
               std::to_string(followers + 1);
      },
      "all updates waiting");
  CHECK(gate->held() == 1);
  gate->open();
  running.join();
  for (auto& t : threads) t.join();

  REQUIRE(first.status == 200);
  CHECK(chart_statuses(json_of(first), "published") == std::set<std::string>{"beta-0.3.0"});
  for (auto& a : answers) {
    REQUIRE(a.status == 200);
    CHECK(a.body == answers[0].body);  // one shared sync, one report
    CHECK(chart_statuses(json_of(a), "unchanged") == std::set<std::string>{"alpha-1.0.0", "beta-0.3.0"});
  }
  auto metrics = call(base, "GET", "/metrics").body;
  // The registration, the held sync, and exactly one follow-up.
  CHECK(test::metric(metrics, "cmop_syncs_total{repo=\"mycharts\",result=\"success\"}") == "3");
  CHECK(test::metric(metrics, "cmop_sync_waiting_requests") == "0");
}

TEST_CASE("different repos sync concurrently on the pool", "[serve][concurrency]") {
  test::ChartsRepo git;
  std::string other_url = git.add_repo("other", "gamma", "3.0.0");
  // Both repos are on one git host: let it have both workers (--max-syncs-per-host).
  test::GatedServer gated(git, [](serve::ServerOptions& o) {
    o.workers = 2;
    o.max_syncs_per_host = 2;
  });
  auto& gate = gated.gate;
  const std::string base = gated.base;
  gate->close();
  net::Response a, b;
  std::thread ta([&] { a = call(base, "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url())); });
  std::thread tb([&] { b = call(base, "POST", "/repo/new", test::new_repo_body("other", other_url)); });
  // Both syncs reach the publisher at the same time: they run side by side.
  test::eventually([&] { return gate->held() == 2; }, "both repos publishing at once");
  gate->open();
  ta.join();
  tb.join();
  CHECK(a.status == 200);
  CHECK(b.status == 200);
}

TEST_CASE("ChartMuseum down: 502 with the report, state kept, next update succeeds", "[serve][e2e][chartmuseum]") {
  test::ChartsRepo git;
  auto storage = git.tmp.path() / "museum";
  std::filesystem::create_directories(storage);
  int port = test::free_port();
  auto start_museum = [&] {
    auto p = std::make_unique<test::Process>(std::vector<std::string>{
        test::python3(), (test::support_dir() / "fake_chartmuseum.py").string(), "--port", std::to_string(port),
        "--storage-local-rootdir", storage.string(), "--basic-auth", "cm:pw"});
    REQUIRE(test::wait_for_port(port));
    return p;
  };
  auto museum = start_museum();
  std::string museum_url = "http://127.0.0.1:" + std::to_string(port);

  auto o = test::local_options(git.state);
  o.chartmuseum_url = museum_url;
  o.chartmuseum_username = "cm";
  o.chartmuseum_password = "pw";
  serve::Server server(o);
  server.start();
  auto base = server.url();
  test::eventually([&] { return call(base, "GET", "/readyz").status == 200; }, "ready after /health answered");
  CHECK(call(base, "GET", "/charts/index.yaml").status == 404);  // not the embedded repo

  REQUIRE(call(base, "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url())).status == 200);
  auto stored = call(museum_url, "GET", "/api/charts", "", {{"Authorization", "Basic Y206cHc="}});
  REQUIRE(stored.status == 200);
  CHECK(stored.body.find("alpha") != std::string::npos);

  museum->kill(SIGKILL);
  museum->wait();
  test::write_chart(git.work, "charts/alpha", "alpha", "1.5.0");
  git.work.commit("bump alpha");
  git.push();

  auto down = call(base, "POST", "/repo/mycharts/update");
  CHECK(down.status == 502);
  auto body = json_of(down);
  CHECK(str(body, "error").find(museum_url) != std::string::npos);
  REQUIRE(body["report"].IsObject());
  CHECK(str(body["report"], "commit") == git.work.head());
  auto state = json_of(call(base, "GET", "/repo/mycharts"));
  CHECK_FALSE(str(state, "lastError").empty());
  CHECK(state["charts"].Size() == 2);  // what was published before is still on record

  museum = start_museum();
  auto back = call(base, "POST", "/repo/mycharts/update");
  REQUIRE(back.status == 200);
  CHECK(chart_statuses(json_of(back), "published") == std::set<std::string>{"alpha-1.5.0"});
  auto after = call(museum_url, "GET", "/api/charts/alpha", "", {{"Authorization", "Basic Y206cHc="}});
  CHECK(after.body.find("1.5.0") != std::string::npos);
  CHECK(str(json_of(call(base, "GET", "/repo/mycharts")), "lastError").empty());
}

TEST_CASE("graceful shutdown lets the request in flight finish and refuses new ones", "[serve][concurrency]") {
  test::ChartsRepo git;
  test::GatedServer gated(git);
  auto& gate = gated.gate;
  auto& server = *gated.server;
  const std::string base = gated.base;
  REQUIRE(call(base, "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url())).status == 200);
  test::write_chart(git.work, "charts/beta", "beta", "0.9.0");
  git.work.commit("bump beta");
  git.push();

  gate->close();
  net::Response in_flight;
  std::thread syncing([&] { in_flight = call(base, "POST", "/repo/mycharts/update"); });
  gate->wait_until_held();
  bool drained = false;
  std::thread stopping([&] { drained = server.shutdown(std::chrono::seconds(120)); });
  test::eventually(
      [&] {
        try {
          call(base, "GET", "/healthz");
          return false;
        } catch (const Error& e) {
          return e.code() == Errc::network;
        }
      },
      "listener closed");
  CHECK(gate->held() == 1);
  gate->open();
  syncing.join();
  stopping.join();
  CHECK(drained);
  REQUIRE(in_flight.status == 200);
  CHECK(chart_statuses(json_of(in_flight), "published") == std::set<std::string>{"beta-0.9.0"});
}

// Issue 11, item 13: a client whose sync outlived the shutdown grace saw its
// connection closed instead of the documented 503.
TEST_CASE("a request outliving the shutdown grace gets 503", "[serve][concurrency]") {
  test::ChartsRepo git;
  test::GatedServer s(git);
  auto& gate = s.gate;
  auto& server = *s.server;
  auto base = s.base;
  gate->close();
  net::Response in_flight;
  std::thread syncing([&] { in_flight = call(base, "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url())); });
  gate->wait_until_held();
  CHECK_FALSE(server.shutdown(std::chrono::milliseconds(300)));
  syncing.join();
  CHECK(in_flight.status == 503);
  CHECK(str(json_of(in_flight), "error") == "server: shutting down");
  gate->open();  // the sync itself finishes on its worker; the destructor waits for it
}

// Issue 11, item 4: four black-hole repos took every worker for many minutes while
// /healthz stayed green. Now a git transfer gives up after --network-timeout, naming
// the remote, and a sync ends by --sync-timeout; stuck workers show in /metrics.
TEST_CASE("a black-hole git remote fails the sync after the git timeout", "[serve][deadline]") {
  cmop::test::BlackHole hole;
  test::ChartsRepo git;
  auto o = test::local_options(git.state);
  o.network_timeout = std::chrono::seconds(1);
  o.workers = 2;
  o.max_syncs_per_host = 2;  // the four holes are one host: this test is about the timeout, not the host cap
  serve::Server server(o);
  server.start();
  auto base = server.url();
  std::vector<std::thread> clients;
  std::vector<net::Response> answers(4);
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i)
    clients.emplace_back([&, i] {
      answers[i] = call(base, "POST", "/repo/new",
                        test::new_repo_body("hole" + std::to_string(i), hole.url("http", "r" + std::to_string(i) + ".git")));
    });
  test::eventually([&] { return test::metric(call(base, "GET", "/metrics").body, "cmop_sync_workers_busy") == "2"; },
                   "both workers busy");
  CHECK(std::stod(test::metric(call(base, "GET", "/metrics").body, "cmop_sync_oldest_running_seconds")) >= 0);
  for (auto& t : clients) t.join();
  // Two rounds of two workers, about one second each.
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(15));
  for (auto& a : answers) {
    CHECK(a.status == 502);
    CHECK_THAT(str(json_of(a), "error"), Catch::Contains("127.0.0.1:" + std::to_string(hole.port())) &&
                                             Catch::Contains("timed out: no answer from the remote for 1 s"));
  }
  // Meanwhile a healthy repo still syncs.
  CHECK(call(base, "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url())).status == 200);
  CHECK(test::metric(call(base, "GET", "/metrics").body, "cmop_sync_workers_stuck") == "0");
}

TEST_CASE("a sync past --sync-timeout stops before the next chart, naming the remote", "[serve][deadline]") {
  test::ChartsRepo git;
  test::GatedServer s(git, [](serve::ServerOptions& o) { o.sync_timeout = std::chrono::seconds(1); });
  auto& gate = s.gate;
  auto base = s.base;
  gate->close();
  net::Response answer;
  std::thread syncing([&] { answer = call(base, "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url())); });
  gate->wait_until_held();
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  gate->open();
  syncing.join();
  REQUIRE(answer.status == 502);
  auto doc = json_of(answer);
  CHECK_THAT(str(doc, "error"), Catch::Contains("sync of " + git.git_url() + " timed out after 1 s"));
  CHECK(chart_statuses(doc["report"], "published").size() == 1);  // the chart begun in time finished
  // The next update (with time to spare) publishes the rest.
  gate->close();
  gate->open();
  auto next = call(base, "POST", "/repo/mycharts/update");
  CHECK(next.status == 200);
}

// Issue 11, item 9: a chart author's dependency URL made the sidecar fetch from its
// own pod and showed, to anyone, the internal server's HTTP status, YAML error
// positions and digests. Loopback and link-local targets are now refused unless
// listed in --dependency-hosts, and unauthenticated state reads do not reflect
// what a remote answered.
TEST_CASE("hostile dependency URLs: loopback refused unless listed, nothing of the answer reflected",
          "[serve][dependency-hosts]") {
  test::ChartsRepo git;
  cmop::util::TempDir site("cmop-internal-");
  fs::create_directories(site.path() / "admin" / "broken");
  util::write_file_atomic(site.path() / "admin" / "broken" / "index.yaml", "apiVersion: v1\nentries: {a: [}\n");
  auto internal = test::start_python_peer("static_http_server.py", {"--root", site.path().string()});
  auto chart_on = [&](const std::string& folder, const std::string& repo) {
    test::write_chart(git.work, "charts/" + folder, folder, "1.0.0",
                      "dependencies:\n- name: x\n  version: ^1.0.0\n  repository: " + repo + "\n");
  };
  chart_on("secret", internal.url() + "/admin/secret#");
  chart_on("broken", internal.url() + "/admin/broken");
  git.work.commit("dependencies on internal URLs");
  git.push();
  auto reason_of = [](const rapidjson::Value& charts, const std::string& path) {
    for (auto& c : charts.GetArray())
      if (str(c, "path") == path) return str(c, "reason");
    return std::string("(no such chart)");
  };
  auto requests = [&] { return call(internal.url(), "GET", "/__requests").body; };

  {
    serve::Server server(test::local_options(git.state));
    server.start();
    auto report = json_of(call(server.url(), "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url())));
    CHECK_THAT(reason_of(report["charts"], "charts/secret"),
               Catch::Contains("refused: 127.0.0.1 is a loopback or link-local address"));
    CHECK(requests() == "{}");  // nothing reached the internal server
  }
  {
    auto o = test::local_options(git.state);
    o.dependency_hosts = {"charts.example.com"};
    serve::Server server(o);
    server.start();
    auto report = json_of(call(server.url(), "POST", "/repo/mycharts/update"));
    CHECK_THAT(reason_of(report["charts"], "charts/secret"), Catch::Contains("not in the allowed list"));
  }
  auto o = test::local_options(git.state);
  o.dependency_hosts = {"127.0.0.1"};  // listed: reached on purpose
  serve::Server server(o);
  server.start();
  auto report = json_of(call(server.url(), "POST", "/repo/mycharts/update"));
  // The requester of the sync sees the details...
  CHECK_THAT(reason_of(report["charts"], "charts/secret"), Catch::Contains("HTTP 404"));
  CHECK_THAT(reason_of(report["charts"], "charts/broken"), Catch::Contains("invalid YAML"));
  // ...an anonymous reader of the state does not.
  auto state = call(server.url(), "GET", "/repo/mycharts");
  auto doc = json_of(state);
  const std::string secret = reason_of(doc["lastSync"]["charts"], "charts/secret");
  const std::string broken = reason_of(doc["lastSync"]["charts"], "charts/broken");
  CHECK_THAT(secret, Catch::Contains(internal.url() + "/admin/secret") && Catch::Contains("an HTTP error"));
  CHECK_THAT(broken, Catch::Contains("not a valid chart repository index"));
  for (const auto& leak : {"404", "line ", "column", "entries"}) {
    INFO(leak);
    CHECK(secret.find(leak) == std::string::npos);
    CHECK(broken.find(leak) == std::string::npos);
  }
}
