// Sync benchmark: a generated git repo of N charts (realistic sizes, some with
// dependencies from a served chart repo), synced through the core to the local
// chart-repo publisher. Reports cold sync, no-change update and one-chart-change
// times beside the baseline a CI pipeline would run (`git clone` + `tar czf` per
// chart) in the same run, and peak RSS; then the same repo pushed into an OCI
// registry (cold push, and a no-change update that pushes nothing).
//
// Then the issue-15 targets on a second generated repo (100 charts, 600 files,
// over `git daemon`), each figure the best of 3 runs on a fresh state dir, with
// their ratios: a one-chart update against 3 x the no-change update plus the
// time to package that one chart (and against 0.15 s), and a cold sync against
// 0.5 x the CI baseline (`git clone` + `tar czf` per chart).
//
// Then issue 29's "many paths, one remote": 100 repos, each its own `path`, on one
// 1000-folder repo: registered one after another, then a one-folder commit
// re-synced by all of them at once, with fetch counts and bytes.
//
// Then issue 28 item 5: a cold sync over file:// against the same over git daemon,
// on a 100-chart repo with history.
//
//   build/bench/bench_sync [charts=100]
//   build/bench/bench_sync monorepo [repos=100] [folders=1000]   (that case alone)
//   build/bench/bench_sync local [charts=100] [commits=50]        (that case alone)
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "cmop/git/repository.hpp"
#include "cmop/oci/registry.hpp"
#include "cmop/package/packager.hpp"
#include "cmop/sync/workspace.hpp"
#include "bench_charts.hpp"
#include "cmop/util/fs.hpp"
#include "support/git_fixture.hpp"
#include "support/process.hpp"
#include "support/registry_fixture.hpp"

using namespace cmop;
using bench::filler;
using bench::write_bench_chart;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Six files a chart: 100 charts make the ~600-file repo of the targets.
void write_small_chart(test::GitWorkRepo& repo, int i, const std::string& version) {
  std::string dir = "charts/chart" + std::to_string(i);
  repo.write(dir + "/Chart.yaml", "apiVersion: v2\nname: chart" + std::to_string(i) + "\nversion: " + version +
                                      "\ndescription: benchmark chart\n");
  repo.write(dir + "/values.yaml", "replicaCount: 1\n" + filler(1500, i));
  repo.write(dir + "/.helmignore", "*.swp\n*.bak\n");
  repo.write(dir + "/templates/deployment.yaml", "kind: Deployment\n" + filler(2500, i));
  repo.write(dir + "/templates/service.yaml", "kind: Service\n" + filler(800, i));
  repo.write(dir + "/templates/_helpers.tpl", "{{- define \"x.name\" -}}x{{- end -}}\n" + filler(600, i));
}

// `charts` small charts committed in `work` and served as <name>.git from `served`:
// returns the bare repo's path.
fs::path generate_served(test::GitWorkRepo& work, const fs::path& served, int charts, const std::string& name) {
  for (int i = 0; i < charts; ++i) write_small_chart(work, i, "1.0.0");
  work.commit("generated charts");
  return test::make_bare(work, served, name);
}

struct Best {
  double s = 1e9;
  void take(double v) { s = std::min(s, v); }
};

// The targets on a 100-chart, 600-file repo; returns false when a sync failed.
bool small_repo_targets(const fs::path& tmp) {
  constexpr int kCharts = 100;
  test::GitWorkRepo work(tmp / "small-work");
  fs::path served = tmp / "small-served";
  fs::path bare = generate_served(work, served, kCharts, "small.git");
  test::GitDaemon daemon(served);
  const std::string url = daemon.url("small.git");
  std::size_t files = 0;
  for (auto& e : fs::recursive_directory_iterator(work.dir() / "charts"))
    if (e.is_regular_file()) ++files;

  Best baseline, cold, nochange, one, package_one;
  for (int run = 0; run < 3; ++run) {
    const fs::path dir = tmp / ("small-run" + std::to_string(run));
    auto t0 = Clock::now();
    test::run_ok({"git", "clone", "-q", url, (dir / "baseline").string()});
    fs::create_directories(dir / "baseline-out");
    for (int i = 0; i < kCharts; ++i) {
      std::string name = "chart" + std::to_string(i);
      test::run_ok({"tar", "czf", (dir / "baseline-out" / (name + ".tgz")).string(), "-C",
                    (dir / "baseline" / "charts").string(), name});
    }
    baseline.take(seconds_since(t0));

    fs::create_directories(dir / "out");
    sync::Workspace ws(dir / "state", publish::make_local_publisher((dir / "out").string()));
    sync::RepoSpec spec;
    spec.name = "small";
    spec.git = url;
    t0 = Clock::now();
    auto first = ws.apply(spec);
    cold.take(seconds_since(t0));
    t0 = Clock::now();
    auto again = ws.update("small");
    nochange.take(seconds_since(t0));

    // One chart changes (a template and its version), a new commit is pushed.
    const int changed = 7 + run;
    write_small_chart(work, changed, "1.0." + std::to_string(run + 1));
    work.write("charts/chart" + std::to_string(changed) + "/templates/service.yaml",
               "kind: Service\n# run " + std::to_string(run) + "\n");
    work.commit("change chart" + std::to_string(changed));
    test::push_to_bare(work, bare);
    t0 = Clock::now();
    auto after = ws.update("small");
    one.take(seconds_since(t0));
    if (!first.ok() || !again.ok() || !after.ok() || after.count(sync::ChartOutcome::Status::published) != 1) {
      std::cerr << "600-file repo: a sync failed: " << first.error << again.error << after.error << "\n";
      return false;
    }

    // Packaging that one chart alone, from the same commit's objects.
    git::Repository mirror(dir / "state" / "mirrors" / sync::MirrorPool::mirror_id(spec));
    t0 = Clock::now();
    auto tree = mirror.tree_at(after.commit);
    package::PackageInput in{{}, "charts/chart" + std::to_string(changed), {}, {}, {}, {}, &tree};
    package::package_chart(in);
    package_one.take(seconds_since(t0));
  }

  const double one_budget = 3 * nochange.s + package_one.s;
  std::printf("600-file repo: %d charts, %zu files, over git daemon, best of 3 runs each\n", kCharts, files);
  std::printf("600-file repo: baseline git clone + tar czf per chart: %.3f s\n", baseline.s);
  std::printf("600-file repo: cmop cold sync:        %.3f s  (%.2f x baseline; target <= 0.5)\n", cold.s,
              cold.s / baseline.s);
  std::printf("600-file repo: cmop no-change update: %.3f s\n", nochange.s);
  std::printf("600-file repo: package one chart:     %.3f s\n", package_one.s);
  std::printf("600-file repo: cmop one-chart change: %.3f s  (%.2f x (3 x no-change + package one chart = %.3f s); "
              "target <= 1; %s 0.15 s)\n",
              one.s, one.s / one_budget, one_budget, one.s <= 0.15 ? "within" : "over");
  return true;
}

// Issue 29: N repos, each its own `path`, on one repo of `folders` chart folders
// over git daemon. Registered one after another (apply), then one folder changes
// and all N are asked to sync at once (4 workers, as `cmop serve` by default).
bool many_paths_one_remote(const fs::path& tmp, int repos, int folders) {
  test::GitWorkRepo work(tmp / "mono-work");
  fs::path served = tmp / "mono-served";
  fs::path bare = generate_served(work, served, folders, "mono.git");
  test::GitDaemon daemon(served);
  fs::create_directories(tmp / "mono-out");
  sync::Workspace ws(tmp / "mono-state", publish::make_local_publisher((tmp / "mono-out").string()));
  auto spec = [&](int i) {
    sync::RepoSpec s;
    s.name = "team" + std::to_string(i);
    s.git = daemon.url("mono.git");
    s.path = "charts/chart" + std::to_string(i * (folders / repos));
    return s;
  };
  auto s0 = ws.mirror_stats();
  auto t0 = Clock::now();
  std::size_t published = 0;
  for (int i = 0; i < repos; ++i) {
    auto r = ws.apply(spec(i));
    if (!r.ok()) {
      std::cerr << "monorepo: apply " << spec(i).name << " failed: " << r.error << "\n";
      return false;
    }
    published += r.count(sync::ChartOutcome::Status::published);
  }
  const double first_s = seconds_since(t0);
  auto s1 = ws.mirror_stats();
  std::printf("monorepo: %d repos on one %d-folder repo, registered one after another: %.3f s (target <= 10 s), "
              "%zu published, %llu fetches (%llu reused), %llu bytes fetched, %zu mirror(s), %llu bytes on disk\n",
              repos, folders, first_s, published, static_cast<unsigned long long>(s1.fetches - s0.fetches),
              static_cast<unsigned long long>(s1.joined - s0.joined),
              static_cast<unsigned long long>(s1.fetched_bytes - s0.fetched_bytes), s1.mirrors,
              static_cast<unsigned long long>(s1.disk_bytes));

  // One folder changes; every repo is asked to sync at the same moment.
  const int changed = 5 * (folders / repos);
  write_small_chart(work, changed, "1.0.1");
  work.write("charts/chart" + std::to_string(changed) + "/templates/service.yaml", "kind: Service\n# changed\n");
  work.commit("change one folder");
  test::push_to_bare(work, bare);
  const auto asked = Clock::now();
  std::atomic<int> next{0};
  std::atomic<std::size_t> resynced_published{0}, failed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < repos;) {
        auto r = ws.update(spec(i).name, asked);
        if (!r.ok()) ++failed;
        resynced_published += r.count(sync::ChartOutcome::Status::published);
      }
    });
  for (auto& w : workers) w.join();
  const double change_s = seconds_since(asked);
  auto s2 = ws.mirror_stats();
  std::printf("monorepo: one-folder commit, all %d re-synced: %.3f s, %llu fetch(es) (%llu reused), %llu bytes "
              "fetched, %zu package(s) published, %zu failed\n",
              repos, change_s, static_cast<unsigned long long>(s2.fetches - s1.fetches),
              static_cast<unsigned long long>(s2.joined - s1.joined),
              static_cast<unsigned long long>(s2.fetched_bytes - s1.fetched_bytes), resynced_published.load(),
              failed.load());

  // For comparison: each repo asked separately, one after another (a fetch each, nothing new).
  t0 = Clock::now();
  for (int i = 0; i < repos; ++i) ws.update(spec(i).name);
  auto s3 = ws.mirror_stats();
  std::printf("monorepo: no change, %d updates one after another: %.3f s, %llu fetches, %llu bytes fetched\n", repos,
              seconds_since(t0), static_cast<unsigned long long>(s3.fetches - s2.fetches),
              static_cast<unsigned long long>(s3.fetched_bytes - s2.fetched_bytes));
  return failed == 0 && resynced_published == 1 && s2.fetches - s1.fetches == 1 && first_s <= 10;
}

// Issue 28 item 5: a cold sync over file:// against the same over git daemon, on a
// repo of `charts` charts with history: `commits` commits after the first, each
// changing a template and the values of every fifth chart (similar files, as a
// real monorepo's history). The served repo is packed (`git repack -ad`), as a
// real one is. Best of 5 cold syncs each, on a fresh state dir every time, and
// the fetch alone (a new git::Repository synced once).
bool local_against_daemon(const fs::path& tmp, int charts, int commits) {
  test::GitWorkRepo work(tmp / "local-work");
  for (int i = 0; i < charts; ++i) write_bench_chart(work, i, false, "");
  work.commit("generated charts");
  for (int c = 1; c <= commits; ++c) {
    for (int i = c % 5; i < charts; i += 5) {
      const std::string dir = "charts/chart" + std::to_string(i);
      work.write(dir + "/values.yaml", "replicaCount: " + std::to_string(c) + "\nimage:\n  repository: nginx\n" +
                                           filler(3000 + 40 * c, i));
      work.write(dir + "/templates/deployment.yaml",
                 "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rev" + std::to_string(c) + "\n" + filler(2500, i));
    }
    work.commit("change every fifth chart, round " + std::to_string(c));
  }
  fs::path served = tmp / "local-served";
  fs::path bare = test::make_bare(work, served, "local.git");
  test::run_ok({"git", "-C", bare.string(), "repack", "-adq"});
  test::GitDaemon daemon(served);
  std::string objects = test::run_ok({"git", "-C", bare.string(), "count-objects", "-vH"});
  for (auto& c : objects)
    if (c == '\n') c = ',';

  sync::WorkspaceOptions options;
  options.allow_local_git = true;
  auto cold = [&](const std::string& url, const fs::path& dir, Best& best) {
    fs::create_directories(dir / "out");
    sync::Workspace ws(dir / "state", publish::make_local_publisher((dir / "out").string()), options);
    sync::RepoSpec spec;
    spec.name = "local";
    spec.git = url;
    auto t0 = Clock::now();
    auto result = ws.apply(spec);
    best.take(seconds_since(t0));
    if (!result.ok() || result.count(sync::ChartOutcome::Status::published) != static_cast<std::size_t>(charts)) {
      std::cerr << "file:// vs git://: cold sync of " << url << " failed: " << result.error << "\n";
      return false;
    }
    return true;
  };
  // The fetch alone: a new mirror synced once (git::Repository, what a cold sync starts with).
  auto fetch = [&](const std::string& url, const fs::path& dir, Best& best) {
    git::Repository mirror(dir);
    git::SyncOptions sync_options;
    sync_options.url = url;
    sync_options.allow_local = true;
    auto t0 = Clock::now();
    mirror.sync(sync_options);
    best.take(seconds_since(t0));
  };
  // Alternating which goes first, so that neither always runs on a warmer cache.
  Best local, remote, local_fetch, remote_fetch;
  for (int run = 0; run < 5; ++run) {
    const fs::path dir = tmp / ("local-run" + std::to_string(run));
    const bool file_first = run % 2 == 0;
    for (int turn = 0; turn < 2; ++turn) {
      if ((turn == 0) == file_first) {
        fetch("file://" + bare.string(), dir / "file-mirror", local_fetch);
        if (!cold("file://" + bare.string(), dir / "file", local)) return false;
      } else {
        fetch(daemon.url("local.git"), dir / "git-mirror", remote_fetch);
        if (!cold(daemon.url("local.git"), dir / "git", remote)) return false;
      }
    }
  }
  std::printf("file:// vs git://: %d charts, %d commits of history, served repo packed (%s)\n", charts,
              commits + 1, objects.c_str());
  std::printf("file:// vs git://: cmop cold sync over file://:     %.3f s (best of 5)\n", local.s);
  std::printf("file:// vs git://: cmop cold sync over git daemon: %.3f s (best of 5)\n", remote.s);
  std::printf("file:// vs git://: file:// / git:// = %.2f (target <= 1)\n", local.s / remote.s);
  std::printf("file:// vs git://: the fetch alone (a new mirror): file:// %.3f s, git daemon %.3f s\n",
              local_fetch.s, remote_fetch.s);
  return true;
}

long peak_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "monorepo") {  // bench_sync monorepo [repos=100] [folders=1000]
    util::TempDir tmp("cmop-bench-");
    return many_paths_one_remote(tmp.path(), argc > 2 ? std::stoi(argv[2]) : 100, argc > 3 ? std::stoi(argv[3]) : 1000)
               ? 0
               : 1;
  }
  if (argc > 1 && std::string(argv[1]) == "local") {  // bench_sync local [charts=100] [commits=50]
    util::TempDir tmp("cmop-bench-");
    return local_against_daemon(tmp.path(), argc > 2 ? std::stoi(argv[2]) : 100, argc > 3 ? std::stoi(argv[3]) : 50)
               ? 0
               : 1;
  }
  int charts = argc > 1 ? std::stoi(argv[1]) : 100;
  util::TempDir tmp("cmop-bench-");

  // A dependency chart repo served over HTTP.
  fs::path dep_dir = tmp.path() / "deprepo";
  {
    test::GitWorkRepo common(tmp.path() / "common-src");
    test::write_chart(common, "common", "common", "1.2.0");
    fs::create_directories(dep_dir);
    test::run_ok({"tar", "czf", (dep_dir / "common-1.2.0.tgz").string(), "-C", common.dir().string(), "common"});
    std::string digest = test::run_ok({"sh", "-c", "sha256sum " + (dep_dir / "common-1.2.0.tgz").string() + " | cut -d' ' -f1"});
    digest.erase(digest.find_last_not_of("\n") + 1);
    util::write_file_atomic(dep_dir / "index.yaml",
                            "apiVersion: v1\nentries:\n  common:\n  - apiVersion: v2\n    name: common\n"
                            "    version: 1.2.0\n    digest: " + digest + "\n    urls:\n    - common-1.2.0.tgz\n"
                            "generated: \"2026-01-01T00:00:00Z\"\n");
  }
  auto dep_server = test::start_python_peer("static_http_server.py", {"--root", dep_dir.string()});

  test::GitWorkRepo work(tmp.path() / "work");
  for (int i = 0; i < charts; ++i) write_bench_chart(work, i, i % 10 == 0, dep_server.url());
  work.commit("generated charts");
  fs::path served = tmp.path() / "served";
  fs::path bare = test::make_bare(work, served, "bench.git");
  test::GitDaemon daemon(served);

  // Baseline: what a CI job per repo does — clone, then tar czf each chart.
  auto t0 = Clock::now();
  fs::path baseline = tmp.path() / "baseline";
  test::run_ok({"git", "clone", "-q", daemon.url("bench.git"), baseline.string()});
  fs::create_directories(tmp.path() / "baseline-out");
  for (int i = 0; i < charts; ++i) {
    std::string name = "chart" + std::to_string(i);
    test::run_ok({"tar", "czf", (tmp.path() / "baseline-out" / (name + ".tgz")).string(), "-C",
                  (baseline / "charts").string(), name});
  }
  double baseline_s = seconds_since(t0);

  fs::path out = tmp.path() / "out";
  fs::create_directories(out);
  sync::Workspace ws(tmp.path() / "state", publish::make_local_publisher(out.string()));
  sync::RepoSpec spec;
  spec.name = "bench";
  spec.git = daemon.url("bench.git");

  t0 = Clock::now();
  auto cold = ws.apply(spec);
  double cold_s = seconds_since(t0);
  if (!cold.ok()) {
    std::cerr << "cold sync failed: " << cold.error << "\n";
    for (auto& c : cold.charts)
      if (!c.reason.empty()) std::cerr << "  " << c.path << ": " << c.reason << "\n";
    return 1;
  }

  t0 = Clock::now();
  auto nochange = ws.update("bench");
  double nochange_s = seconds_since(t0);

  // A real change: new content and a version bump (published versions are immutable).
  work.write("charts/chart7/templates/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: changed\n");
  work.write("charts/chart7/Chart.yaml", "apiVersion: v2\nname: chart7\nversion: 1.1.7\ndescription: benchmark chart\n");
  work.commit("change one chart");
  test::push_to_bare(work, bare);
  t0 = Clock::now();
  auto one = ws.update("bench");
  double one_s = seconds_since(t0);

  std::printf("charts: %d (%d with a dependency)\n", charts, (charts + 9) / 10);
  std::printf("baseline git clone + tar czf per chart: %.3f s\n", baseline_s);
  std::printf("cmop cold sync:        %.3f s  (%zu published)\n", cold_s, cold.count(sync::ChartOutcome::Status::published));
  std::printf("cmop no-change update: %.3f s  (%zu published)\n", nochange_s, nochange.count(sync::ChartOutcome::Status::published));
  std::printf("cmop one-chart change: %.3f s  (%zu published)\n", one_s, one.count(sync::ChartOutcome::Status::published));
  std::printf("peak RSS: %.1f MiB\n", peak_rss_kib() / 1024.0);
  if (!small_repo_targets(tmp.path())) return 1;
  if (!many_paths_one_remote(tmp.path(), 100, 1000)) return 1;
  if (!local_against_daemon(tmp.path(), 100, 50)) return 1;
  std::printf("peak RSS after the 600-file runs: %.1f MiB\n", peak_rss_kib() / 1024.0);

  // The same repo published into an OCI registry (the CNCF Distribution registry
  // on loopback, plain HTTP), when Debian's docker-registry is installed.
  if (test::run({"sh", "-c", "command -v docker-registry"}) != 0) {
    std::printf("oci: skipped (docker-registry not installed)\n");
    return 0;
  }
  test::Registry registry;
  oci::ClientOptions registry_options;
  registry_options.plain_http_hosts = {registry.host()};
  auto client = std::make_shared<oci::RegistryClient>(registry_options);
  sync::WorkspaceOptions wo;
  wo.registry = client;
  sync::Workspace oci_ws(tmp.path() / "oci-state",
                         publish::make_oci_publisher({registry.oci("bench"), {}, client}), wo);
  auto requests = client->requests_sent();
  t0 = Clock::now();
  auto pushed = oci_ws.apply(spec);
  double push_s = seconds_since(t0);
  auto push_requests = client->requests_sent() - requests;
  requests = client->requests_sent();
  t0 = Clock::now();
  auto oci_nochange = oci_ws.update("bench");
  double oci_nochange_s = seconds_since(t0);
  std::printf("oci cold sync (push):  %.3f s  (%zu published, %llu registry requests)\n", push_s,
              pushed.count(sync::ChartOutcome::Status::published), static_cast<unsigned long long>(push_requests));
  std::printf("oci no-change update:  %.3f s  (%zu published, %llu registry requests)\n", oci_nochange_s,
              oci_nochange.count(sync::ChartOutcome::Status::published),
              static_cast<unsigned long long>(client->requests_sent() - requests));
  std::printf("oci connections opened: %llu (keep-alive: one per registry until a sync's end)\n",
              static_cast<unsigned long long>(client->connections_opened()));
  return pushed.ok() && oci_nochange.ok() ? 0 : 1;
}
