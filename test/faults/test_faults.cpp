// Faults, end to end: a ChartMuseum that answers 500 or too slowly, a dependency
// chart repository that is down, a git server killed in the middle of a fetch, a
// state dir that runs out of room (RLIMIT_FSIZE), and `cmop serve` killed -9 in the
// middle of publishing. The sync reports the failure with a reason naming what
// failed, keeps what was published before, leaves no torn file behind, and the next
// sync after the fault is gone publishes what was missing, once.
//
// Covered elsewhere and not repeated here: ChartMuseum killed (test/serve/test_sync.cpp),
// git server down (test/sync/test_workspace.cpp), a failed fetch keeping the previous
// commit and crash leftovers in the mirror (test/git/repository_test.cpp), kill -9
// of `cmop serve` after a sync (test/serve/test_binary.cpp).
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <future>
#include <sstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "cmop/git/repository.hpp"

#include "cmop/error.hpp"
#include "cmop/package/archive.hpp"
#include "cmop/util/file_tree.hpp"
#include "cmop/util/hash.hpp"
#include "hostile/hostile_fixtures.hpp"
#include "support/black_hole.hpp"

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

// Bytes that neither git's zlib nor gzip can shrink.
std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

// Polls `done` every 10 ms; fails the test naming `what` after `timeout`.
template <typename Predicate>
void wait_until(Predicate done, std::chrono::milliseconds timeout, const std::string& what) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) FAIL("timed out waiting for " << what);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// The state dir as a crash or a failed write may leave it must still be whole: every
// state file parses, index.yaml parses, its entries and the .tgz files match one to
// one, every package reads back, and no temp file of an atomic write is left over.
// `serve` is the running server: its index.yaml writes are coalesced (one writer, at
// most 200 ms after a change), and reading the served index first writes what is
// pending, so the folder then holds everything the answered syncs published.
void check_state_dir_consistent(const fs::path& state, const test::ServeChild& serve) {
  REQUIRE(serve.call("GET", "/charts/index.yaml").status == 200);
  for (auto& e : fs::recursive_directory_iterator(state / "repos")) {
    const std::string name = e.path().filename().string();
    INFO(e.path());
    CHECK(name.find(".tmp-") == std::string::npos);
    if (e.path().extension() != ".json") continue;
    rapidjson::Document doc;
    std::string text = test::slurp(e.path());
    doc.Parse(text.c_str());
    CHECK_FALSE(doc.HasParseError());
  }
  const fs::path charts = state / "charts";
  auto index = deps::RepoIndex::parse(util::read_file(charts / "index.yaml"), "index.yaml");
  std::set<std::string> indexed, packages;
  for (auto& [name, versions] : index.entries)
    for (auto& v : versions) {
      indexed.insert(name + "-" + v.metadata.version + ".tgz");
      CHECK(v.digest == util::sha256_hex(util::read_file(charts / (name + "-" + v.metadata.version + ".tgz"))));
    }
  for (auto& e : fs::directory_iterator(charts)) {
    const std::string name = e.path().filename().string();
    INFO(e.path());
    CHECK(name.find(".tmp-") == std::string::npos);
    if (e.path().extension() != ".tgz") continue;
    packages.insert(name);
    CHECK_NOTHROW(package::read_tgz(test::slurp(e.path()), 5u << 20, 100u << 20));
  }
  CHECK(indexed == packages);
}

// name-version -> digest of a repo's publications as `GET /repo/NAME` reports them.
std::map<std::string, std::string> published_by(const test::ServeChild& serve, const std::string& repo) {
  auto res = serve.call("GET", "/repo/" + repo);
  REQUIRE(res.status == 200);
  auto doc = test::parse_json(res.body);
  std::map<std::string, std::string> out;
  for (auto& c : doc["charts"].GetArray())
    out[test::json_str(c, "name") + "-" + test::json_str(c, "version")] = test::json_str(c, "digest");
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
  CHECK(test::outcome(report, "charts/good").status == Status::published);
  auto& needy = test::outcome(report, "charts/needy");
  CHECK(needy.status == Status::failed);
  CHECK_THAT(needy.reason, Catch::Contains("redis") && Catch::Contains(down));
  CHECK_FALSE(fs::exists(r.out / "needy-1.0.0.tgz"));
  // The failure is not remembered as done: the next sync tries the dependency again.
  auto again = ws->update("hostile");
  CHECK(test::outcome(again, "charts/needy").status == Status::failed);
  CHECK(test::outcome(again, "charts/good").status == Status::unchanged);
}

TEST_CASE("a git server killed mid-fetch fails the sync naming git, keeps the last good checkout and charts",
          "[faults]") {
  test::SyncedRepo r;
  const std::string first_commit = r.work.commit("one chart");
  const fs::path bare = test::make_bare(r.work, r.served, "charts.git");
  // git http-backend behind test/support/git_http_server.py on one port throughout,
  // so the repo's URL survives the server's restarts.
  const int port = test::free_port();
  const fs::path stalled_marker = r.tmp.path() / "git-server-stalled";
  auto serve_git = [&](std::vector<std::string> fault) {
    std::vector<std::string> argv{test::python3(), (test::support_dir() / "git_http_server.py").string(),
                                  "--root", r.served.string(), "--port", std::to_string(port)};
    argv.insert(argv.end(), fault.begin(), fault.end());
    auto server = std::make_unique<test::Process>(argv);
    REQUIRE(test::wait_for_port(port));
    return server;
  };
  sync::RepoSpec spec;
  spec.name = "hostile";
  spec.git = "http://127.0.0.1:" + std::to_string(port) + "/charts.git";

  auto server = serve_git({});
  auto ws = r.workspace();
  auto cold = ws->apply(spec);
  INFO(cold.error);
  REQUIRE(cold.ok());
  const std::string index_before = test::slurp(r.out / "index.yaml");

  // The next commit's pack (256 KiB of noise) is far more than the 2 KiB the faulty
  // server sends before it stalls.
  test::write_chart(r.work, "charts/good", "good", "1.1.0");
  test::write_chart(r.work, "charts/bulky", "bulky", "1.0.0");
  r.work.write("charts/bulky/files/noise.bin", random_bytes(256u << 10, 1));
  const std::string second_commit = r.work.commit("bump good, add bulky");
  test::push_to_bare(r.work, bare);

  server->kill(SIGKILL);
  REQUIRE(server->wait() != -1);
  server = serve_git({"--stall-after-bytes", "2048", "--stall-marker", stalled_marker.string()});
  auto pending = std::async(std::launch::async, [&] { return ws->update("hostile"); });
  wait_until([&] { return fs::exists(stalled_marker); }, std::chrono::seconds(30),
             "the fetch to be halfway through the pack");
  server->kill(SIGKILL);  // the server dies with the pack half sent
  REQUIRE(server->wait() != -1);
  REQUIRE(pending.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
  auto failed = pending.get();

  INFO("error: " << failed.error);
  CHECK_FALSE(failed.ok());
  CHECK_THAT(failed.error, Catch::Contains(spec.git) && Catch::Contains("fetch"));
  CHECK(failed.charts.empty());
  CHECK(test::slurp(r.out / "index.yaml") == index_before);
  CHECK_FALSE(fs::exists(r.out / "bulky-1.0.0.tgz"));
  CHECK_FALSE(fs::exists(r.out / "good-1.1.0.tgz"));
  auto state = ws->get("hostile");
  CHECK(state->last_commit == first_commit);
  CHECK(state->last_error == failed.error);
  CHECK(state->published.size() == 1);
  {
    git::Repository mirror(r.state / "mirrors" / sync::MirrorPool::mirror_id(spec));
    auto tree = mirror.tree_at(first_commit);
    CHECK_THAT(util::read_tree_file(tree, "charts/good/Chart.yaml", "Chart.yaml", 0), Catch::Contains("version: 1.0.0"));
    CHECK(tree.kind("charts/bulky") == util::FileTree::Kind::missing);
  }

  server = serve_git({});
  auto recovered = ws->update("hostile");
  INFO("after restart: " << recovered.error);
  CHECK(recovered.ok());
  CHECK(recovered.commit == second_commit);
  CHECK(recovered.count(Status::published) == 2);
  auto index = r.index();
  CHECK(index.entries["good"].size() == 2);
  CHECK(index.entries["bulky"].size() == 1);
}

TEST_CASE("a full state dir fails the publish with the write error, corrupts nothing, and recovers",
          "[faults]") {
  test::SyncedRepo r;
  r.publish_commit("a small chart");
  test::ServeChild serve;
  // No file in the state dir may grow past 1 MiB (RLIMIT_FSIZE, in 1 KiB blocks):
  // such writes fail with EFBIG, as on a full disk, instead of raising SIGXFSZ (a
  // signal ignored before exec stays ignored). State files and the small chart fit.
  serve.launcher = {"bash", "-c", "trap '' XFSZ && ulimit -f 1024 && exec \"$0\" \"$@\""};
  serve.start(r.state);
  auto created = serve.call("POST", "/repo/new", "{\"name\":\"hostile\",\"git\":\"" + r.url() + "\"}");
  INFO(created.body);
  REQUIRE(created.status == 200);
  REQUIRE(test::parse_json(created.body)["ok"].IsTrue());

  // 48 copies of one 64 KiB block of noise: git stores the content once (the fetch
  // and the checkout's files stay small), the package holds it 48 times and gzip's
  // 32 KiB window never sees one copy from the next, so the archive is 3 MiB.
  const std::string block = random_bytes(64u << 10, 2);
  test::write_chart(r.work, "charts/wide", "wide", "1.0.0");
  for (int i = 0; i < 48; ++i) r.work.write("charts/wide/files/copy" + std::to_string(i) + ".bin", block);
  r.publish_commit("a chart whose package is 3 MiB");

  auto full = serve.call("GET", "/repo/hostile/update");
  INFO(full.body);
  CHECK(full.status == 502);
  auto answer = test::parse_json(full.body);
  CHECK_THAT(test::json_str(answer, "error"), Catch::Contains("wide-1.0.0.tgz") && Catch::Contains("File too large"));
  check_state_dir_consistent(r.state, serve);
  CHECK_FALSE(fs::exists(r.state / "charts" / "wide-1.0.0.tgz"));
  CHECK(published_by(serve, "hostile").size() == 1);
  auto state = test::parse_json(serve.call("GET", "/repo/hostile").body);
  CHECK_THAT(test::json_str(state, "lastError"), Catch::Contains("File too large"));

  serve.process.reset();  // stopped (SIGTERM) and started again with room to write
  serve.launcher.clear();
  serve.start(r.state);
  auto recovered = serve.call("GET", "/repo/hostile/update");
  INFO(recovered.body);
  REQUIRE(recovered.status == 200);
  auto report = test::parse_json(recovered.body);
  CHECK(report["ok"].IsTrue());
  check_state_dir_consistent(r.state, serve);
  CHECK(fs::file_size(r.state / "charts" / "wide-1.0.0.tgz") > (2u << 20));
  auto published = published_by(serve, "hostile");
  CHECK(published.size() == 2);
  CHECK(published["wide-1.0.0"] == util::sha256_hex(util::read_file(r.state / "charts" / "wide-1.0.0.tgz")));
}

TEST_CASE("kill -9 of cmop serve in the middle of uploads: the restart finishes the job, each chart once",
          "[faults]") {
  test::SyncedRepo r;
  for (auto name : {"alpha", "bravo", "charlie"}) test::write_chart(r.work, std::string("charts/") + name, name, "1.0.0");
  r.publish_commit("four charts");
  auto museum = test::start_python_peer("fake_chartmuseum.py");
  // The first upload is stored, the second is held (body received, nothing stored).
  REQUIRE(post_json(museum.url() + "/__faults", R"({"stall_uploads_after": 1})").status == 200);

  test::ServeChild serve;
  serve.start(r.state, {"--chartmuseum-url", museum.url()});
  auto doomed = std::async(std::launch::async, [&] {
    try {
      return serve.call("POST", "/repo/new", "{\"name\":\"hostile\",\"git\":\"" + r.url() + "\"}").status;
    } catch (const std::exception&) {
      return -1;  // the connection dies with the server
    }
  });
  auto museum_state = [&] {
    net::Request req;
    req.url = museum.url() + "/__state";
    req.timeout = std::chrono::milliseconds(30000);
    return test::parse_json(net::HttpClient().send(req).body);
  };
  wait_until([&] { return museum_state()["stalled"].GetInt() == 1; }, std::chrono::seconds(30),
             "the second upload to be held");
  serve.process->kill(SIGKILL);
  REQUIRE(serve.process->wait() == 128 + SIGKILL);
  REQUIRE(doomed.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  CHECK(doomed.get() != 200);
  // The held upload now lands although its client is gone: cmop never learnt that
  // it succeeded.
  REQUIRE(post_json(museum.url() + "/__faults", R"({"stall_uploads_after": -1})").status == 200);
  wait_until([&] { return stored(museum).size() == 2; }, std::chrono::seconds(30), "the held upload to be stored");
  const auto before_restart = museum_state();
  std::map<std::string, std::string> first_digests;
  for (auto& chart : before_restart["charts"].GetObject())
    for (auto& version : chart.value.GetObject())
      first_digests[std::string(chart.name.GetString()) + "-" + version.name.GetString()] = version.value.GetString();

  serve.start(r.state, {"--chartmuseum-url", museum.url()});
  // What the crash left on record is claimed, never lost: both uploads that may
  // have happened are ours to replace.
  auto claimed = published_by(serve, "hostile");
  for (auto& [chart, digest] : first_digests) CHECK(claimed.count(chart) == 1);

  auto res = serve.call("GET", "/repo/hostile/update");
  INFO(res.body);
  REQUIRE(res.status == 200);
  CHECK(test::parse_json(res.body)["ok"].IsTrue());

  auto after = museum_state();
  std::map<std::string, std::string> in_museum;
  for (auto& chart : after["charts"].GetObject())
    for (auto& version : chart.value.GetObject())
      in_museum[std::string(chart.name.GetString()) + "-" + version.name.GetString()] = version.value.GetString();
  CHECK(in_museum.size() == 4);
  // The ledger matches the chart repo, digest for digest, and a chart uploaded
  // before the crash was not replaced by different bytes.
  CHECK(published_by(serve, "hostile") == in_museum);
  for (auto& [chart, digest] : first_digests) CHECK(in_museum[chart] == digest);
  // And a second update has nothing left to do.
  auto again = test::parse_json(serve.call("GET", "/repo/hostile/update").body);
  for (auto& c : again["charts"].GetArray()) CHECK(test::json_str(c, "status") == "unchanged");
}

TEST_CASE("kill -9 of cmop serve while it writes the local chart repo leaves it consistent", "[faults]") {
  test::SyncedRepo r;
  constexpr int kCharts = 40;
  for (int i = 0; i < kCharts; ++i) {
    const std::string name = "chart" + std::to_string(i);
    test::write_chart(r.work, "charts/" + name, name, "1.0.0");
    r.work.write("charts/" + name + "/files/noise.bin", random_bytes(16u << 10, 100 + i));
  }
  r.publish_commit("many charts");
  test::ServeChild serve;
  serve.start(r.state);
  auto doomed = std::async(std::launch::async, [&] {
    try {
      return serve.call("POST", "/repo/new", "{\"name\":\"hostile\",\"git\":\"" + r.url() + "\"}").status;
    } catch (const std::exception&) {
      return -1;
    }
  });
  // Killed as soon as the first package is in the folder: the rest is in flight.
  auto any_package = [&] {
    std::error_code ec;
    for (auto& e : fs::directory_iterator(r.state / "charts", ec))
      if (e.path().extension() == ".tgz") return true;
    return false;
  };
  wait_until(any_package, std::chrono::seconds(30), "the first package");
  serve.process->kill(SIGKILL);
  REQUIRE(serve.process->wait() == 128 + SIGKILL);
  REQUIRE(doomed.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  std::size_t published_at_kill = 0;
  for (auto& e : fs::directory_iterator(r.state / "charts")) published_at_kill += e.path().extension() == ".tgz";
  std::map<std::string, std::string> digests_at_kill;
  for (auto& e : fs::directory_iterator(r.state / "charts"))
    if (e.path().extension() == ".tgz")
      digests_at_kill[e.path().stem().string()] = util::sha256_hex(util::read_file(e.path()));

  serve.start(r.state);
  auto res = serve.call("GET", "/repo/hostile/update");
  INFO(res.body);
  REQUIRE(res.status == 200);
  CHECK(test::parse_json(res.body)["ok"].IsTrue());
  check_state_dir_consistent(r.state, serve);
  auto published = published_by(serve, "hostile");
  CHECK(published.size() == kCharts + 1);
  auto index = deps::RepoIndex::parse(util::read_file(r.state / "charts" / "index.yaml"), "index.yaml");
  std::map<std::string, std::string> indexed;
  for (auto& [name, versions] : index.entries)
    for (auto& v : versions) indexed[name + "-" + v.metadata.version] = v.digest;
  CHECK(indexed == published);
  for (auto& [chart, digest] : digests_at_kill) CHECK(indexed[chart] == digest);
  WARN("local chart repo: killed after " << published_at_kill << " of " << kCharts + 1 << " packages were written");
}

// --- issue 11: remotes that never answer, hostile indexes, descriptor exhaustion,
// and a crash inside a large sync ---------------------------------------------------

namespace {

long status_kib(int pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) return std::stol(line.substr(prefix.size()));
  return 0;
}

// CPU seconds (user + system) the process has used.
double cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i)
    if (i == 14 || i == 15) ticks += std::stod(f);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// One sample of a Prometheus text exposition ("" when absent).
std::string metric(const std::string& text, const std::string& series) {
  auto pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) return {};
  pos += series.size() + 2;
  return text.substr(pos, text.find('\n', pos) - pos);
}

std::string with_dependency(const std::string& repo) {
  return "dependencies:\n- name: x\n  version: ^1.0.0\n  repository: " + repo + "\n";
}

}  // namespace

TEST_CASE("a black-hole git remote and a black-hole dependency repo time out, naming them", "[faults][deadline]") {
  test::BlackHole hole;
  test::SyncedRepo r;
  const std::string hole_repo = hole.url("http", "charts");
  test::write_chart(r.work, "charts/needy", "needy", "1.0.0", with_dependency(hole_repo));
  r.publish_commit("a chart whose dependency repo never answers");
  test::ServeChild serve;
  serve.start(r.state, {"--network-timeout", "2", "--dependency-hosts", "127.0.0.1"});

  auto started = std::chrono::steady_clock::now();
  auto git = serve.call("POST", "/repo/new", "{\"name\":\"blackhole\",\"git\":\"" + hole.url("http", "x.git") + "\"}");
  CHECK(git.status == 502);
  CHECK_THAT(test::json_str(test::parse_json(git.body), "error"),
             Catch::Contains(hole.url("http", "x.git")) && Catch::Contains("timed out"));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(20));

  started = std::chrono::steady_clock::now();
  auto deps = serve.call("POST", "/repo/new", "{\"name\":\"hostile\",\"git\":\"" + r.url() + "\"}");
  REQUIRE(deps.status == 200);
  auto report = test::parse_json(deps.body);
  for (auto& c : report["charts"].GetArray()) {
    if (test::json_str(c, "path") == "charts/good") CHECK(test::json_str(c, "status") == "published");
    if (test::json_str(c, "path") == "charts/needy")
      CHECK_THAT(test::json_str(c, "reason"), Catch::Contains(hole_repo) && Catch::Contains("no answer for 2000 ms"));
  }
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(20));
  CHECK(serve.call("GET", "/healthz").status == 200);
  CHECK(metric(serve.call("GET", "/metrics").body, "cmop_sync_workers_stuck") == "0");
  WARN("black holes: git gave up after " << 2 << " s without an answer; the dependency fetch likewise");
}

TEST_CASE("an alias-bomb index and a big index cost bounded memory in cmop serve", "[faults][memory]") {
  const char* env = std::getenv("CMOP_FAULT_INDEX_MIB");
  const std::size_t big_mib = env ? std::stoul(env) : 24;
  test::SyncedRepo r;
  util::TempDir site("cmop-indexes-");
  fs::create_directories(site.path() / "bomb");
  fs::create_directories(site.path() / "big");
  {
    // ~0.9 MiB of aliases that would expand to ~1.4 billion index entries.
    std::ofstream out(site.path() / "bomb" / "index.yaml");
    out << "apiVersion: v1\nx:\n  e: &e {name: x, version: 1.0.0, urls: [http://x/x.tgz]}\n  l: &l [*e";
    for (int i = 1; i < 38000; ++i) out << ",*e";
    out << "]\nentries:\n";
    for (int j = 0; j < 38000; ++j) out << "  c" << j << ": *l\n";
  }
  {
    std::ofstream out(site.path() / "big" / "index.yaml");
    out << "apiVersion: v1\nentries:\n";
    std::size_t written = 0;
    for (int chart = 0; written < (big_mib << 20); ++chart) {
      std::string block = "  chart" + std::to_string(chart) + ":\n";
      for (int v = 0; v < 50; ++v)
        block += "  - name: chart" + std::to_string(chart) + "\n    version: 1." + std::to_string(v) +
                 ".0\n    description: a description of some length as public indexes carry for every version\n"
                 "    digest: " + std::string(64, 'a') + "\n    urls: [https://example.com/c-1." +
                 std::to_string(v) + ".0.tgz]\n";
      out << block;
      written += block.size();
    }
  }
  auto server = test::start_python_peer("static_http_server.py", {"--root", site.path().string()});
  test::write_chart(r.work, "charts/bombed", "bombed", "1.0.0", with_dependency(server.url() + "/bomb"));
  test::write_chart(r.work, "charts/big", "big", "1.0.0", with_dependency(server.url() + "/big"));
  r.publish_commit("dependencies on hostile indexes");
  test::ServeChild serve;
  // One worker: with several, each worker thread's malloc arena keeps its own high
  // water mark, which would measure glibc rather than the parse.
  serve.start(r.state, {"--dependency-hosts", "127.0.0.1", "--workers", "1"});
  const long base_kib = status_kib(serve.process->pid(), "VmHWM");
  const auto started = std::chrono::steady_clock::now();
  auto res = serve.call("POST", "/repo/new", "{\"name\":\"hostile\",\"git\":\"" + r.url() + "\"}");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  REQUIRE(res.status == 200);
  auto report = test::parse_json(res.body);
  for (auto& c : report["charts"].GetArray()) {
    const std::string path = test::json_str(c, "path");
    if (path == "charts/bombed") CHECK_THAT(test::json_str(c, "reason"), Catch::Contains("excessive aliasing"));
    if (path == "charts/big")  // parsed: the chart it asks for is simply not in it
      CHECK_THAT(test::json_str(c, "reason"), Catch::Contains("not found in the repository index"));
    if (path == "charts/good") CHECK(test::json_str(c, "status") == "published");
  }
  const long peak_mib = status_kib(serve.process->pid(), "VmHWM") / 1024;
  WARN("alias bomb refused; " << big_mib << " MiB index parsed; sync took " << seconds << " s; cmop serve peak RSS "
                              << peak_mib << " MiB (" << base_kib / 1024 << " MiB at start)");
  CHECK(peak_mib < 40 + static_cast<long>(big_mib) * 8);  // a node tree of the index alone was ~26x its size
  // Every sync repeats the fetch (and the refusal) without growing on and on.
  for (int i = 0; i < 3; ++i) REQUIRE(serve.call("GET", "/repo/hostile/update").status == 200);
  const long after_mib = status_kib(serve.process->pid(), "VmHWM") / 1024;
  WARN("peak RSS after three more syncs: " << after_mib << " MiB");
  CHECK(after_mib < peak_mib * 3 / 2);
}

TEST_CASE("5000 idle connections against ulimit -n 256: /healthz answers, accept does not spin", "[faults][connections]") {
  rlimit own{};
  ::getrlimit(RLIMIT_NOFILE, &own);
  if (own.rlim_max < 6000) {
    WARN("skipped: this process may open only " << own.rlim_max << " files");
    return;
  }
  rlimit raised = own;
  raised.rlim_cur = std::min<rlim_t>(own.rlim_max, 8000);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &raised) == 0);
  struct Restore {
    rlimit l;
    ~Restore() { ::setrlimit(RLIMIT_NOFILE, &l); }
  } restore{own};
  util::TempDir tmp("cmop-fds-");
  // The default cap (half the descriptor limit), then a cap above the limit so that
  // accept() itself runs out of descriptors.
  for (const std::string cap : {"0", "1000"}) {
    INFO("--max-connections " << cap);
    test::ServeChild serve;
    serve.launcher = {"bash", "-c", "ulimit -n 256 && exec \"$0\" \"$@\""};
    serve.start(tmp.path() / ("state-" + cap), {"--max-connections", cap});
    const int pid = serve.process->pid();
    std::vector<int> idle;
    for (int i = 0; i < 5000; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      REQUIRE(fd >= 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(serve.port));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);  // in progress or done; never read
      idle.push_back(fd);
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const double cpu_before = cpu_seconds(pid);
    const auto t0 = std::chrono::steady_clock::now();
    int answered = 0;
    for (int i = 0; i < 5; ++i) {
      net::Request req;
      req.url = serve.base() + "/healthz";
      req.timeout = std::chrono::seconds(5);
      try {
        answered += net::HttpClient().send(req).status == 200;
      } catch (const Error&) {
      }
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const double cpu = cpu_seconds(pid) - cpu_before;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto metrics = serve.call("GET", "/metrics").body;
    WARN("cap " << cap << ": " << answered << "/5 health checks answered; server CPU " << cpu << " s in " << wall
                << " s; open " << metric(metrics, "cmop_http_connections_open") << ", fd exhaustions "
                << metric(metrics, "cmop_http_accept_fd_exhausted_total"));
    CHECK(answered == 5);
    CHECK(cpu < 0.5 * wall);  // before: ~1 core spinning on EMFILE
    for (int fd : idle) ::close(fd);
    if (cap == "1000") {
      CHECK(std::stoi(metric(metrics, "cmop_http_accept_fd_exhausted_total")) > 0);
      // Logged once, not per failed accept.
      auto log = test::slurp(serve.log);
      std::size_t lines = 0;
      for (std::size_t p = 0; (p = log.find("out of file descriptors", p)) != std::string::npos; ++p) ++lines;
      CHECK(lines == 1);
    }
  }
}

// Issue 11, item 5: kill -9 2-5 s into a large sync left index.yaml naming the old
// digest of a package whose file held new bytes, and later syncs reported ok:true
// without repairing it. Every chart here changes its bytes but not its version, the
// worst case: nothing but the digest tells old from new.
TEST_CASE("kill -9 at random points of a 200-chart sync: index, files and state agree byte for byte after",
          "[faults][crash]") {
  constexpr int kCharts = 200;
  test::SyncedRepo r;
  auto write_all = [&](unsigned round) {
    for (int i = 0; i < kCharts; ++i) {
      const std::string name = "chart" + std::to_string(i);
      test::write_chart(r.work, "charts/" + name, name, "1.0.0");
      r.work.write("charts/" + name + "/files/noise.bin", random_bytes(96u << 10, round * 1000 + i));
    }
  };
  write_all(0);
  r.publish_commit("200 charts");
  test::ServeChild serve;
  serve.start(r.state);
  auto t0 = std::chrono::steady_clock::now();
  // Same versions with new bytes are re-published only under `overwrite` (the
  // default keeps published versions immutable).
  REQUIRE(serve.call("POST", "/repo/new",
                     "{\"name\":\"big\",\"versioning\":\"overwrite\",\"git\":\"" + r.url() + "\"}")
              .status == 200);
  const double cold = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::mt19937 rng(std::random_device{}());
  for (unsigned round = 1; round <= 3; ++round) {
    INFO("round " << round);
    write_all(round);
    r.publish_commit("new bytes, same versions, round " + std::to_string(round));
    // Killed once a random share (30-95 %) of the packages has been rewritten: mid-sync
    // for sure, and late enough that a state checkpoint (every 2 s) may already
    // record new digests whose index entries are not written yet.
    const auto update_started = fs::file_time_type::clock::now();
    const int threshold = std::uniform_int_distribution<int>(kCharts * 30 / 100, kCharts * 95 / 100)(rng);
    t0 = std::chrono::steady_clock::now();
    auto doomed = std::async(std::launch::async, [&] {
      try {
        return serve.call("GET", "/repo/big/update").status;
      } catch (const std::exception&) {
        return -1;
      }
    });
    auto rewritten = [&] {
      int n = 0;
      std::error_code ec;
      for (auto& e : fs::directory_iterator(r.state / "charts", ec))
        if (e.path().extension() == ".tgz" && fs::last_write_time(e.path(), ec) >= update_started) ++n;
      return n;
    };
    wait_until([&] { return rewritten() >= threshold; }, std::chrono::seconds(120), "the rewritten packages");
    const double at = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    serve.process->kill(SIGKILL);
    REQUIRE(serve.process->wait() == 128 + SIGKILL);
    const bool mid_sync = doomed.get() == -1;
    serve.start(r.state);
    auto res = serve.call("GET", "/repo/big/update");
    INFO(res.body.substr(0, 2000));
    REQUIRE(res.status == 200);
    CHECK(test::parse_json(res.body)["ok"].IsTrue());
    check_state_dir_consistent(r.state, serve);  // index digests == sha256 of each file
    auto index = deps::RepoIndex::parse(util::read_file(r.state / "charts" / "index.yaml"), "index.yaml");
    std::map<std::string, std::string> indexed;
    for (auto& [name, versions] : index.entries)
      for (auto& v : versions) indexed[name + "-" + v.metadata.version] = v.digest;
    CHECK(indexed == published_by(serve, "big"));  // ...== what the state records
    // ...and == what a clean sync of the same commit produces (packaging is reproducible).
    util::TempDir clean("cmop-reference-");
    sync::Workspace reference(clean.path() / "state", publish::make_local_publisher((clean.path() / "out").string()));
    sync::RepoSpec spec;
    spec.name = "big";
    spec.git = r.url();
    spec.versioning = sync::Versioning::overwrite;
    auto ref = reference.apply(spec);
    REQUIRE(ref.ok());
    std::map<std::string, std::string> expected;
    for (auto& c : ref.charts) expected[c.name + "-" + c.version] = c.digest;
    CHECK(indexed == expected);
    WARN("round " << round << ": killed " << at << " s into the sync, " << threshold << " of " << kCharts
                  << " packages rewritten (cold sync " << cold << " s)" << (mid_sync ? "" : ", after it had answered"));
    CHECK(mid_sync);
  }
}
