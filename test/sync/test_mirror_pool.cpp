// Shared git mirrors (issue 29): many repo specs on one remote read one mirror and
// share its fetches; refs, credentials, deletion, bounds and repacks. Real git
// repos served by `git daemon` (and `git http-backend` with basic auth).
#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <thread>

#include "cmop/error.hpp"
#include "cmop/git/repository.hpp"
#include "cmop/sync/mirror_pool.hpp"
#include "cmop/sync/workspace.hpp"
#include "cmop/util/fs.hpp"
#include "support/git_fixture.hpp"
#include "support/process.hpp"
#include "support/served_repo.hpp"
#include "support/sync_report.hpp"

using namespace cmop;
using Status = sync::ChartOutcome::Status;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// A monorepo of `teams` folders, one chart each (team<i>/chart, named t<i>).
struct Monorepo : test::ServedRepo {
  explicit Monorepo(int teams) : ServedRepo("mono") {
    for (int i = 0; i < teams; ++i) test::write_chart(work, "team" + std::to_string(i), "t" + std::to_string(i), "1.0.0");
    commit_and_serve("initial");
  }
  sync::RepoSpec team(int i) const {
    auto s = spec_named("team" + std::to_string(i));
    s.path = "team" + std::to_string(i);
    return s;
  }
  std::unique_ptr<sync::Workspace> workspace_with(sync::MirrorLimits limits) const {
    sync::WorkspaceOptions o;
    o.mirrors = limits;
    return std::make_unique<sync::Workspace>(state, publish::make_local_publisher(out.string()), o);
  }
  std::size_t mirror_dirs() const {
    std::size_t n = 0;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(state / "mirrors", ec)) n += e.is_directory() ? 1 : 0;
    return n;
  }
};

std::size_t count_packs(const fs::path& mirror) {
  std::size_t n = 0;
  for (auto& e : fs::directory_iterator(mirror / "repo.git" / "objects" / "pack"))
    n += e.path().extension() == ".pack" ? 1 : 0;
  return n;
}

std::size_t count_loose(const fs::path& mirror) {
  std::size_t n = 0;
  for (auto& e : fs::directory_iterator(mirror / "repo.git" / "objects")) {
    auto name = e.path().filename().string();
    if (name.size() == 2 && e.is_directory())
      for (auto& f : fs::directory_iterator(e.path())) n += f.is_regular_file() ? 1 : 0;
  }
  return n;
}

}  // namespace

TEST_CASE("repos on one remote share one mirror, and syncs asked for at once share one fetch") {
  Monorepo r(10);
  auto ws = r.workspace();
  for (int i = 0; i < 10; ++i) {
    auto report = ws->apply(r.team(i));
    INFO(report.error);
    REQUIRE(report.ok());
    REQUIRE(report.count(Status::published) == 1);
  }
  CHECK(r.mirror_dirs() == 1);
  CHECK(fs::exists(r.state / "mirrors" / sync::MirrorPool::mirror_id(r.team(0))));
  auto before = ws->mirror_stats();
  CHECK(before.mirrors == 1);
  CHECK(before.users == 10);
  CHECK(before.disk_bytes > 0);

  // One folder changes; all ten are asked to sync at the same moment.
  r.work.write("team3/templates/new.yaml", "kind: ConfigMap\n");
  r.work.write("team3/Chart.yaml", "apiVersion: v2\nname: t3\nversion: 1.1.0\n");
  r.commit_and_serve("team3 changes");
  const auto asked = Clock::now();
  std::vector<sync::SyncReport> reports(10);
  std::vector<std::thread> threads;
  for (int i = 0; i < 10; ++i)
    threads.emplace_back([&, i] { reports[i] = ws->update("team" + std::to_string(i), asked); });
  for (auto& t : threads) t.join();
  auto after = ws->mirror_stats();
  CHECK(after.fetches - before.fetches == 1);
  CHECK(after.joined - before.joined == 9);
  std::size_t published = 0;
  for (int i = 0; i < 10; ++i) {
    INFO("team" << i << ": " << reports[i].error);
    CHECK(reports[i].ok());
    CHECK(reports[i].commit == r.work.head());
    CHECK(reports[i].fetched_changes);
    published += reports[i].count(Status::published);
    if (i != 3) CHECK(test::outcome(reports[i], "team" + std::to_string(i)).status == Status::unchanged);
  }
  CHECK(published == 1);
  CHECK(test::outcome(reports[3], "team3").version == "1.1.0");
  CHECK(r.index().entries["t3"].size() == 2);

  // Asked for one after another, each after the last fetch began: each fetches
  // (a push made meanwhile is never missed); asked for while one runs: that one
  // or the next serves them all.
  before = ws->mirror_stats();
  threads.clear();
  std::atomic<int> go{0};
  for (int i = 0; i < 10; ++i)
    threads.emplace_back([&, i] {
      while (go.load() == 0) std::this_thread::yield();
      reports[i] = ws->update("team" + std::to_string(i));
    });
  go = 1;
  for (auto& t : threads) t.join();
  after = ws->mirror_stats();
  for (auto& report : reports) CHECK(report.ok());
  CHECK(after.fetches - before.fetches >= 1);
  CHECK(after.fetches - before.fetches <= 4);  // not ten
  CHECK(after.fetches - before.fetches + after.joined - before.joined == 10);
}

TEST_CASE("specs on one remote naming different refs each read their own ref's tip from the shared mirror") {
  Monorepo r(2);
  const std::string main_commit = r.work.head();
  r.work.git({"tag", "v1"});
  r.work.git({"checkout", "-q", "-b", "dev"});
  test::write_chart(r.work, "team1", "t1", "2.0.0-dev");
  const std::string dev_commit = r.work.commit("dev bumps t1");
  r.work.git({"checkout", "-q", "-"});
  r.work.remove("team0");
  test::write_chart(r.work, "team9", "t9", "1.0.0");
  const std::string main_tip = r.work.commit("main drops team0");
  r.work.git({"push", "-q", "--force", r.bare.string(), "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*"});

  auto ws = r.workspace();
  auto on = [&](const std::string& name, const std::string& ref, const std::string& path) {
    auto s = r.spec_named(name);
    s.ref = ref;
    s.path = path;
    return ws->apply(s);
  };
  auto tagged = on("tagged", "v1", "team0");  // team0 exists at v1 only
  auto dev = on("dev", "dev", "team1");
  auto pinned = on("pinned", main_commit.substr(0, 12), "team1");  // a commit id: full history
  auto head = on("head", "", "team9");
  for (auto* report : {&tagged, &dev, &pinned, &head}) {
    INFO(report->repo << ": " << report->error);
    CHECK(report->ok());
    CHECK(report->count(Status::published) == 1);
  }
  CHECK(tagged.commit == main_commit);
  CHECK(dev.commit == dev_commit);
  CHECK(pinned.commit == main_commit);
  CHECK(head.commit == main_tip);
  CHECK(test::outcome(dev, "team1").version == "2.0.0-dev");
  CHECK(test::outcome(pinned, "team1").version == "1.0.0");
  CHECK(r.mirror_dirs() == 1);
  CHECK(ws->mirror_stats().users == 4);
}

TEST_CASE("credentials of one repo never serve another's fetch: a mirror per credentials identity") {
  test::ServedRepo r("private");
  test::write_chart(r.work, "a", "a", "1.0.0");
  test::write_chart(r.work, "b", "b", "1.0.0");
  test::write_chart(r.work, "c", "c", "1.0.0");
  r.commit_and_serve("initial");
  test::GitHttpServer http(r.served, "alice:s3cret");
  const std::string url = http.url("private.git");
  auto spec = [&](const std::string& name, const std::string& user, const std::string& password) {
    sync::RepoSpec s;
    s.name = name;
    s.git = url;
    s.path = name;
    s.credentials.username = user;
    s.credentials.password = password;
    return s;
  };
  auto ws = r.workspace();
  auto good = ws->apply(spec("a", "alice", "s3cret"));
  INFO(good.error);
  REQUIRE(good.ok());
  // The mirror holding the objects exists; the same URL with wrong or no
  // credentials still has to authenticate itself, and fails.
  auto wrong = ws->apply(spec("b", "alice", "wrong"));
  CHECK_FALSE(wrong.ok());
  CHECK_THAT(wrong.error, Catch::Contains("rejected") || Catch::Contains("401") || Catch::Contains("auth"));
  CHECK(wrong.charts.empty());
  auto anonymous = ws->apply(spec("c", "", ""));
  CHECK_FALSE(anonymous.ok());
  CHECK(anonymous.charts.empty());
  CHECK_FALSE(fs::exists(r.out / "b-1.0.0.tgz"));
  CHECK_FALSE(fs::exists(r.out / "c-1.0.0.tgz"));
  // Three identities, three mirror ids; no secret in a path.
  auto ids = std::set<std::string>{sync::MirrorPool::mirror_id(spec("a", "alice", "s3cret")),
                                   sync::MirrorPool::mirror_id(spec("b", "alice", "wrong")),
                                   sync::MirrorPool::mirror_id(spec("c", "", ""))};
  CHECK(ids.size() == 3);
  CHECK(sync::MirrorPool::mirror_id(spec("x", "alice", "s3cret")) == sync::MirrorPool::mirror_id(spec("a", "alice", "s3cret")));
  for (auto& e : fs::recursive_directory_iterator(r.state / "mirrors"))
    CHECK(e.path().string().find("s3cret") == std::string::npos);

  // The same credentials share: a second repo with alice's password reads a's mirror.
  auto also_good = ws->apply(spec("b", "alice", "s3cret"));
  INFO(also_good.error);
  CHECK(also_good.ok());
  CHECK(also_good.count(Status::published) == 1);
  auto stats = ws->mirror_stats();
  CHECK(stats.users == 3);
  CHECK(stats.mirrors == 2);  // alice's (a, b) and the anonymous one (c); "wrong" left with b's change
}

TEST_CASE("deleting one repo keeps the mirror the others still use, the last one takes it along") {
  Monorepo r(3);
  auto ws = r.workspace();
  for (int i = 0; i < 3; ++i) REQUIRE(ws->apply(r.team(i)).ok());
  const fs::path mirror = r.state / "mirrors" / sync::MirrorPool::mirror_id(r.team(0));
  REQUIRE(fs::exists(mirror));
  ws->remove("team0");
  CHECK(fs::exists(mirror));
  CHECK(ws->mirror_stats().users == 2);
  test::write_chart(r.work, "team1", "t1", "1.0.1");
  r.commit_and_serve("bump t1");
  auto report = ws->update("team1");
  INFO(report.error);
  CHECK(report.ok());
  CHECK(test::outcome(report, "team1").version == "1.0.1");
  ws->remove("team1");
  CHECK(fs::exists(mirror));
  ws->remove("team2");
  CHECK_FALSE(fs::exists(mirror));
  CHECK(ws->mirror_stats().mirrors == 0);
  CHECK(r.mirror_dirs() == 0);
}

TEST_CASE("mirrors are bounded in number and repacked when no sync runs, /metrics figures come from their stats") {
  Monorepo r(2);
  const std::string other_url = r.add_repo("other", "o", "1.0.0");
  sync::MirrorLimits limits;
  limits.max_mirrors = 1;
  limits.gc_after_fetches = 2;
  limits.max_fetches_per_host = 1;
  auto ws = r.workspace_with(limits);
  REQUIRE(ws->apply(r.team(0)).ok());
  auto refused = ws->apply([&] {
    sync::RepoSpec s;
    s.name = "other";
    s.git = other_url;
    return s;
  }());
  CHECK_FALSE(refused.ok());
  CHECK_THAT(refused.error, Catch::Contains("--max-git-mirrors"));
  auto stats = ws->mirror_stats();
  CHECK(stats.refused == 1);
  CHECK(stats.mirrors == 1);
  CHECK(stats.limits.max_mirrors == 1);
  CHECK(stats.limits.max_fetches_per_host == 1);
  // The same remote is no new mirror.
  REQUIRE(ws->apply(r.team(1)).ok());

  // Fetches that bring objects add packs until the repack folds them into one.
  const fs::path mirror = r.state / "mirrors" / sync::MirrorPool::mirror_id(r.team(0));
  // clone (1 fetch with objects), round 0 (2: repacked), round 1 (1), round 2 (2: repacked)
  for (int round = 0; round < 3; ++round) {
    test::write_chart(r.work, "team0", "t0", "1.0." + std::to_string(round + 1));
    r.commit_and_serve("bump");
    auto report = ws->update("team0");
    INFO(report.error);
    REQUIRE(report.ok());
  }
  stats = ws->mirror_stats();
  CHECK(stats.gcs == 2);
  CHECK(count_packs(mirror) == 1);
  CHECK(count_loose(mirror) == 0);
  CHECK(stats.fetched_bytes > 0);
  CHECK(stats.disk_bytes > 0);
  CHECK(stats.fetching_by_host.size() == 1);
  CHECK(stats.fetching_by_host.begin()->second == 0);
  // Still whole: both refs' trees read, a new commit fetched on top.
  test::write_chart(r.work, "team1", "t1", "1.0.9");
  r.commit_and_serve("bump t1");
  auto report = ws->update("team1");
  INFO(report.error);
  CHECK(report.ok());
  CHECK(test::outcome(report, "team1").version == "1.0.9");
  CHECK(ws->update("team0").ok());
}

TEST_CASE("a state dir with per-repo mirrors of an earlier version is adopted: nothing fetched again, nothing lost") {
  Monorepo r(3);
  std::string id;
  {
    auto ws = r.workspace();
    for (int i = 0; i < 3; ++i) REQUIRE(ws->apply(r.team(i)).ok());
    id = sync::MirrorPool::mirror_id(r.team(0));
  }
  // What an earlier version left: clones/<name>/ per repo (repo.git + current), no mirrors/.
  const std::string commit = r.work.head();
  for (int i = 0; i < 3; ++i) {
    const fs::path clone = r.state / "clones" / ("team" + std::to_string(i));
    fs::create_directories(clone);
    test::run_ok({"cp", "-a", (r.state / "mirrors" / id / "repo.git").string(), (clone / "repo.git").string()});
    util::write_file_atomic(clone / "current", commit + "\n");
  }
  fs::remove_all(r.state / "mirrors");
  auto ws = r.workspace();
  CHECK(fs::exists(r.state / "mirrors" / id / "repo.git"));
  CHECK_FALSE(fs::exists(r.state / "clones"));
  CHECK(r.mirror_dirs() == 1);
  for (int i = 0; i < 3; ++i) {
    auto report = ws->update("team" + std::to_string(i));
    INFO(report.error);
    CHECK(report.ok());
    CHECK(report.commit == commit);
    CHECK(report.count(Status::unchanged) == 1);
  }
  CHECK(ws->mirror_stats().fetched_objects == 0);  // adopted, not cloned again
  CHECK(ws->get("team1")->published.size() == 1);
}

TEST_CASE("the git server sees one connection for a commit that ten repos on its remote sync at once") {
  Monorepo r(10);
  // Counts the connections made to git daemon (one per fetch).
  const fs::path count_file = r.tmp.path() / "accepted";
  const std::string daemon_url = r.url();  // git://127.0.0.1:<port>/mono.git
  const std::string daemon_host = daemon_url.substr(6, daemon_url.find('/', 6) - 6);
  auto proxy = test::start_python_peer("counting_proxy.py", {"--target", daemon_host, "--count-file", count_file.string()});
  for (int i = 0; i < 500 && !fs::exists(count_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto accepted = [&] { return std::stoi(util::read_file(count_file)); };
  const std::string url = "git://127.0.0.1:" + std::to_string(proxy.port) + "/mono.git";
  auto ws = r.workspace();
  for (int i = 0; i < 10; ++i) {
    auto s = r.team(i);
    s.git = url;
    REQUIRE(ws->apply(s).ok());
  }
  r.work.write("team7/templates/new.yaml", "kind: ConfigMap\n");
  r.work.write("team7/Chart.yaml", "apiVersion: v2\nname: t7\nversion: 1.1.0\n");
  r.commit_and_serve("team7 changes");
  const int before = accepted();
  const auto asked = Clock::now();
  std::vector<std::thread> threads;
  std::atomic<int> published{0}, ok{0};
  for (int i = 0; i < 10; ++i)
    threads.emplace_back([&, i] {
      auto report = ws->update("team" + std::to_string(i), asked);
      published += static_cast<int>(report.count(Status::published));
      ok += report.ok() && report.commit == r.work.head() ? 1 : 0;
    });
  for (auto& t : threads) t.join();
  CHECK(ok == 10);
  CHECK(published == 1);
  CHECK(accepted() - before == 1);
}

TEST_CASE("fetches per remote host are bounded: mirrors of one host fetch one at a time under a limit of 1") {
  Monorepo r(1);
  std::vector<std::string> urls;
  for (int i = 0; i < 4; ++i) urls.push_back(r.add_repo("other" + std::to_string(i), "o" + std::to_string(i), "1.0.0"));
  sync::MirrorLimits limits;
  limits.max_fetches_per_host = 1;
  auto ws = r.workspace_with(limits);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      sync::RepoSpec s;
      s.name = "other" + std::to_string(i);
      s.git = urls[i];
      ok += ws->apply(s).ok() ? 1 : 0;
    });
  for (auto& t : threads) t.join();
  CHECK(ok == 4);
  auto stats = ws->mirror_stats();
  CHECK(stats.mirrors == 4);
  CHECK(stats.fetches == 4);
  REQUIRE(stats.peak_by_host.size() == 1);
  CHECK(stats.peak_by_host.begin()->second == 1);
  CHECK(stats.fetching_by_host.begin()->second == 0);
  CHECK(stats.waiting_by_host.begin()->second == 0);
}
