// Operator benchmark: the real `cmop operate` binary against the fake kube-apiserver
// (test/support/fake_kube_apiserver.py) and the fake sidecar (fake_sidecar.py), so
// what is measured is the controller, not git or packaging.
//
// N Chartmuseum resources are created while the operator runs. Reported:
//   - time from the first create until every CR is Ready=True for its generation;
//   - API requests the operator made per CR until then (by apiserver verb and resource),
//     and sidecar requests per CR;
//   - a steady-state window that spans a full resync of every CR and several watch
//     renewals, during which the operator should write nothing (goal: 0 API writes,
//     0 sidecar mutations);
//   - the operator's peak RSS (VmHWM) and the CPU time of each process, which shows
//     whether the python fakes or the operator bound the throughput.
//
//   build/bench/bench_operate [crs=1000] [workers=2] [resync_seconds=30] [real|fake] [churn_rounds=0]
//
// churn_rounds > 0: after the steady state, that many rounds each change every CR's
// spec (spec.ref) and wait until all are Ready for the new generation; the operator's
// RSS is printed after each round (memory under churn).
//
// With "real", the sidecar is the real `cmop serve` (embedded chart repo, its 4
// default sync workers) and every CR names a git repo of its own, served by `git
// daemon`, holding one chart: what is measured is then the whole path, sidecar
// syncs included (a fetch, a package and a publish per CR), not the controller alone.
// With "monorepo" after the churn rounds, the CRs instead share one repo of N chart
// folders, each CR its own folder (spec.path): the sidecar's shared mirror then
// fetches that repo once for all of them.
//
// The harness's own requests (creating the CRs) carry X-Fake-Uncounted so they stay out
// of the counts; readiness is read from the fake's /__stats hook, which costs the fake
// far less than listing N objects every poll would.
#include <rapidjson/document.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "cmop/error.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/util/fs.hpp"
#include "support/git_fixture.hpp"
#include "support/process.hpp"

using namespace cmop;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kApiToken = "bench-api-token";
const std::string kSidecarToken = "bench-sidecar-token";
const std::string kNamespace = "bench";

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

rapidjson::Document parse(const std::string& text, const std::string& what) {
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  if (doc.HasParseError()) throw Error(Errc::internal, what, "response is not JSON: " + text.substr(0, 200));
  return doc;
}

net::Response send(const std::string& method, const std::string& url, const std::string& body = "",
                   net::Headers headers = {}) {
  net::Request req;
  req.method = method;
  req.url = url;
  req.body = body;
  req.headers = std::move(headers);
  if (!body.empty()) req.headers.push_back({"Content-Type", "application/json"});
  req.timeout = std::chrono::seconds(60);
  return net::HttpClient().send(req);
}

// Counters of one fake, by a label, read at one moment; differences give a phase's counts.
using Counts = std::map<std::string, long>;

Counts operator-(Counts a, const Counts& b) {
  for (auto& [k, v] : b) a[k] -= v;
  std::erase_if(a, [](auto& kv) { return kv.second == 0; });
  return a;
}

long total(const Counts& c) {
  long n = 0;
  for (auto& [k, v] : c) n += v;
  return n;
}

struct ApiServer {
  test::Peer peer = test::start_python_peer("fake_kube_apiserver.py", {"--token", kApiToken, "--bookmark-interval", "1", "--namespaces", std::string("default,ops,") + kNamespace});

  rapidjson::Document stats() const {
    auto res = send("GET", peer.url() + "/__stats");
    if (res.status != 200) throw Error(Errc::internal, "fake apiserver /__stats", "HTTP " + std::to_string(res.status));
    return parse(res.body, "fake apiserver /__stats");
  }
  static Counts counts(const rapidjson::Value& v) {
    Counts c;
    for (auto& m : v.GetObject()) c[m.name.GetString()] = m.value.GetInt64();
    return c;
  }
  // Ready for the current generation (the fake's count).
  long ready_crs() const {
    auto s = stats();
    auto it = s["ready"].FindMember("chartmuseums");
    return it == s["ready"].MemberEnd() ? 0 : it->value.GetInt64();
  }
  void change_spec(int i, const std::string& ref) const {
    std::string name = "repo-" + std::to_string(i);
    auto res = send("PATCH", peer.url() + "/apis/cm.bitnami.com/v1alpha1/namespaces/" + kNamespace + "/chartmuseums/" + name,
                    R"({"spec":{"ref":")" + ref + R"("}})",
                    {{"Authorization", "Bearer " + kApiToken}, {"X-Fake-Uncounted", "1"},
                     {"Content-Type", "application/merge-patch+json"}});
    if (res.status != 200) throw Error(Errc::internal, "patch " + name, "HTTP " + std::to_string(res.status) + ": " + res.body);
  }
  // `git`: the CR's repo in the real-sidecar mode; "" for the fake sidecar (a URL
  // that nothing fetches).
  // `path`: the folder of the repo the CR publishes ("charts" unless the layout is
  // one monorepo with a folder per CR).
  void create_cr(int i, const std::string& git = "", const std::string& path = "charts") const {
    std::string name = "repo-" + std::to_string(i);
    std::string url = git.empty() ? "https://git.example/team/" + name + ".git" : git;
    std::string ref = "main";
    std::string body = R"({"apiVersion":"cm.bitnami.com/v1alpha1","kind":"Chartmuseum","metadata":{"name":")" + name +
                       R"("},"spec":{"git":")" + url + R"(","ref":")" + ref +
                       R"(","path":")" + path + R"(","updateEveryMinutes":)" + std::to_string(5 + i % 120) +
                       R"(,"dependencies":[{"name":"bitnami","url":"https://charts.bitnami.com/bitnami"}]}})";
    auto res = send("POST", peer.url() + "/apis/cm.bitnami.com/v1alpha1/namespaces/" + kNamespace + "/chartmuseums",
                    body, {{"Authorization", "Bearer " + kApiToken}, {"X-Fake-Uncounted", "1"}});
    if (res.status != 201) throw Error(Errc::internal, "create " + name, "HTTP " + std::to_string(res.status) + ": " + res.body);
  }
};

// A bare repo per CR, r-<i>.git, whose main branch holds charts/c-<i> (chart c-<i>
// 1.0.0): made by `git fast-import` in one shell loop, served by `git daemon`.
// With `monorepo`, one repo, mono.git, holds every charts/c-<i> and CR i
// publishes its folder (spec.path): the layout of a folder per team.
struct ChartRepos {
  util::TempDir dir{"cmop-bench-git-"};
  std::unique_ptr<test::GitDaemon> daemon;
  bool monorepo;
  ChartRepos(int crs, bool mono) : monorepo(mono) {
    fs::path served = dir.path() / "served";
    fs::create_directories(served);
    if (monorepo) {
      std::string stream;
      for (int i = 0; i < crs; ++i) {
        std::string chart = "apiVersion: v2\nname: c-" + std::to_string(i) + "\nversion: 1.0.0\n";
        stream += "blob\nmark :" + std::to_string(i + 1) + "\ndata " + std::to_string(chart.size()) + "\n" + chart + "\n";
      }
      stream += "commit refs/heads/main\ncommitter bench <bench@example.org> 1764460800 +0000\ndata 6\ncharts\n";
      for (int i = 0; i < crs; ++i)
        stream += "M 100644 :" + std::to_string(i + 1) + " charts/c-" + std::to_string(i) + "/Chart.yaml\n";
      util::write_file_atomic(dir.path() / "stream-mono", stream + "\n");
      test::run_ok({"sh", "-c",
                    "set -e; cd " + dir.path().string() +
                        "; git init -q --bare served/mono.git; git --git-dir=served/mono.git fast-import --quiet "
                        "< stream-mono"});
      daemon = std::make_unique<test::GitDaemon>(served);
      return;
    }
    for (int i = 0; i < crs; ++i) {
      std::string chart = "apiVersion: v2\nname: c-" + std::to_string(i) + "\nversion: 1.0.0\n";
      util::write_file_atomic(dir.path() / ("stream-" + std::to_string(i)),
                              "blob\nmark :1\ndata " + std::to_string(chart.size()) + "\n" + chart +
                                  "\ncommit refs/heads/main\ncommitter bench <bench@example.org> 1764460800 +0000\n"
                                  "data 5\nchart\nM 100644 :1 charts/c-" + std::to_string(i) + "/Chart.yaml\n\n");
    }
    test::run_ok({"sh", "-c",
                  "set -e; cd " + dir.path().string() + "; i=0; while [ $i -lt " + std::to_string(crs) +
                      " ]; do git init -q --bare served/r-$i.git; git --git-dir=served/r-$i.git fast-import --quiet "
                      "< stream-$i; i=$((i+1)); done"});
    daemon = std::make_unique<test::GitDaemon>(served);
  }
  std::string url(int i) const { return daemon->url(monorepo ? "mono.git" : "r-" + std::to_string(i) + ".git"); }
  std::string path(int i) const { return monorepo ? "charts/c-" + std::to_string(i) : "charts"; }
};

// The sidecar under test: the fake (python) or the real `cmop serve`.
struct SidecarUnderTest {
  std::unique_ptr<test::Peer> fake;
  std::unique_ptr<util::TempDir> state;
  std::unique_ptr<test::Process> real;
  int port = 0;

  explicit SidecarUnderTest(bool real_sidecar) {
    if (!real_sidecar) {
      fake = std::make_unique<test::Peer>(test::start_python_peer("fake_sidecar.py", {"--token", kSidecarToken}));
      return;
    }
    state = std::make_unique<util::TempDir>("cmop-bench-serve-");
    port = test::free_port();
    real = std::make_unique<test::Process>(
        std::vector<std::string>{test::cmop_binary(), "serve", "--listen", "127.0.0.1:" + std::to_string(port),
                                 "--state-dir", (state->path() / "state").string(), "--token", kSidecarToken,
                                 "--log-level", "warn"},
        std::map<std::string, std::string>{}, fs::path{}, state->path() / "serve.log");
    if (!test::wait_for_port(port, 30000)) throw Error(Errc::internal, "cmop serve", "did not listen");
  }
  std::string url() const { return fake ? fake->url() : "http://127.0.0.1:" + std::to_string(port); }
  int pid() const { return fake ? fake->process.pid() : real->pid(); }
  const char* kind() const { return fake ? "fake sidecar (python)" : "real cmop serve"; }

  // Requests so far by "METHOD route", with the repo name folded into {name} (the
  // fake's record; the real one's requests are not counted).
  Counts counts() const {
    if (!fake) return {};
    auto doc = parse(send("GET", fake->url() + "/__requests").body, "fake sidecar /__requests");
    Counts c;
    for (auto& r : doc.GetArray()) {
      std::string path = r["path"].GetString();
      if (path.rfind("/repo/", 0) == 0 && path != "/repo/new" && path != "/repo/dependency") path = "/repo/{name}";
      ++c[std::string(r["method"].GetString()) + " " + path];
    }
    return c;
  }
};

// Fields of /proc/PID/status (kB values) and CPU seconds from /proc/PID/stat.
long proc_status_kib(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

double cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream fields(text.substr(close_paren + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i) fields >> skip;  // state .. cmajflt (fields 3-13)
  long utime = 0, stime = 0;
  fields >> utime >> stime;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct Operator {
  util::TempDir dir{"cmop-bench-operate-"};
  int port = test::free_port();
  std::unique_ptr<test::Process> process;

  Operator(const ApiServer& api, const SidecarUnderTest& sidecar, int workers, int resync_seconds) {
    std::ofstream(dir.path() / "kubeconfig")
        << "apiVersion: v1\ncurrent-context: bench\n"
           "contexts: [{name: bench, context: {cluster: fake, user: bench, namespace: ops}}]\n"
           "clusters: [{name: fake, cluster: {server: \""
        << api.peer.url() << "\"}}]\nusers: [{name: bench, user: {token: " << kApiToken << "}}]\n";
    process = std::make_unique<test::Process>(
        std::vector<std::string>{test::cmop_binary(), "operate", "--kubeconfig", (dir.path() / "kubeconfig").string(),
                                 "--sidecar-url", sidecar.url(), "--token", kSidecarToken, "--image",
                                 "example.org/cmop:bench", "--token-secret", "cmop-token/token", "--listen",
                                 "127.0.0.1:" + std::to_string(port), "--workers", std::to_string(workers),
                                 "--resync-seconds", std::to_string(resync_seconds), "--watch-timeout-seconds", "5"},
        std::map<std::string, std::string>{}, fs::path{}, dir.path() / "operator.log");
    if (!test::wait_for_port(port)) throw Error(Errc::internal, "cmop operate", "did not listen; log:\n" + log());
  }
  std::string log() const {
    std::ifstream in(dir.path() / "operator.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port) + path; }
  long metric(const std::string& series) const {
    auto body = send("GET", url("/metrics")).body;
    auto pos = body.find("\n" + series + " ");
    if (pos == std::string::npos) throw Error(Errc::internal, "operator /metrics", series + " is missing");
    return std::stol(body.substr(pos + series.size() + 2));
  }
  long reconciles() const {
    return metric("cmop_operator_reconcile_total{result=\"success\"}") +
           metric("cmop_operator_reconcile_total{result=\"error\"}");
  }
  // Waits until the queue is empty and no reconcile finished for a second: whatever the
  // last writes triggered (their own watch events) has been worked off.
  void wait_quiet() const {
    long last = reconciles();
    auto quiet_since = Clock::now();
    while (seconds_since(quiet_since) < 1.0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      long now = reconciles();
      if (now != last || metric("cmop_operator_workqueue_depth") != 0) {
        last = now;
        quiet_since = Clock::now();
      }
    }
  }
};

bool is_write(const std::string& verb_and_resource) {
  auto verb = verb_and_resource.substr(0, verb_and_resource.find(' '));
  return verb == "create" || verb == "update" || verb == "patch" || verb == "delete";
}

long writes_of(const Counts& by_resource) {
  long n = 0;
  for (auto& [k, v] : by_resource)
    if (is_write(k)) n += v;
  return n;
}

long sidecar_mutations(const Counts& c) {
  long n = 0;
  for (auto& [k, v] : c)
    if (k.rfind("GET ", 0) != 0) n += v;
  return n;
}

void print_per_cr(const char* title, const Counts& c, int crs) {
  std::printf("%s", title);
  for (auto& [k, v] : c) std::printf("    %-34s %8ld  %6.2f/CR\n", k.c_str(), v, static_cast<double>(v) / crs);
}

int run(int crs, int workers, int resync_seconds, bool real_sidecar, int churn_rounds, bool monorepo) {
  std::unique_ptr<ChartRepos> git;
  if (real_sidecar) git = std::make_unique<ChartRepos>(crs, monorepo);
  ApiServer api;
  SidecarUnderTest sidecar(real_sidecar);
  Operator op(api, sidecar, workers, resync_seconds);
  auto ready_deadline = Clock::now() + std::chrono::seconds(60);
  while (send("GET", op.url("/readyz")).status != 200) {
    if (Clock::now() > ready_deadline) throw Error(Errc::network, "cmop operate", "never synced; log:\n" + op.log());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  auto stats0 = api.stats();
  Counts api_before = ApiServer::counts(stats0["byResource"]);
  Counts sidecar_before = sidecar.counts();
  double cpu_op0 = cpu_seconds(op.process->pid()), cpu_api0 = cpu_seconds(api.peer.process.pid()),
         cpu_side0 = cpu_seconds(sidecar.pid());

  // --- ramp: create every CR, wait until all are Ready -----------------------------------
  // Created from a thread of their own while readiness is polled, so the first 100
  // are timed as they come, not after the last create.
  auto start = Clock::now();
  std::atomic<double> create_s{-1};
  std::string create_error;
  std::thread creator([&] {
    try {
      for (int i = 0; i < crs; ++i) api.create_cr(i, git ? git->url(i) : "", git ? git->path(i) : "charts");
    } catch (const std::exception& e) {
      create_error = e.what();
    }
    create_s = seconds_since(start);
  });
  struct Join {
    std::thread& t;
    ~Join() { t.join(); }
  } join_creator{creator};
  auto deadline = start + std::chrono::seconds(60 + crs);  // a hang guard, far above any expected time
  long ready = 0;
  double first_100_s = -1;  // when the first min(100, crs) were Ready
  while ((ready = api.ready_crs()) < crs) {
    if (first_100_s < 0 && ready >= std::min(100, crs)) first_100_s = seconds_since(start);
    if (!create_error.empty() && create_s >= 0) throw Error(Errc::internal, "creating the CRs", create_error);
    if (Clock::now() > deadline) {
      std::fprintf(stderr, "only %ld of %d CRs Ready after %.0f s; operator log tail:\n", ready, crs, seconds_since(start));
      auto log = op.log();
      std::cerr << log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  double ready_s = seconds_since(start);
  if (first_100_s < 0) first_100_s = ready_s;
  double cpu_op_ready = cpu_seconds(op.process->pid()) - cpu_op0;
  double cpu_api_ready = cpu_seconds(api.peer.process.pid()) - cpu_api0;
  double cpu_side_ready = cpu_seconds(sidecar.pid()) - cpu_side0;
  op.wait_quiet();
  double settled_s = seconds_since(start);
  Counts api_ramp = ApiServer::counts(api.stats()["byResource"]) - api_before;
  Counts sidecar_ramp = sidecar.counts() - sidecar_before;

  // --- steady state: a window spanning a full resync and several watch renewals ------------
  Counts api_steady_before = ApiServer::counts(api.stats()["byResource"]);
  Counts sidecar_steady_before = sidecar.counts();
  long reconciles_before = op.reconciles();
  long watch_restarts_before = op.metric("cmop_operator_watch_restarts_total");
  auto window_start = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(resync_seconds + 5));
  // A resync pass over many CRs takes a while: extend the window until one completed.
  auto extend_deadline = Clock::now() + std::chrono::seconds(120);
  while (op.reconciles() - reconciles_before < crs && Clock::now() < extend_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  op.wait_quiet();
  double window_s = seconds_since(window_start);
  Counts api_steady = ApiServer::counts(api.stats()["byResource"]) - api_steady_before;
  Counts sidecar_steady = sidecar.counts() - sidecar_steady_before;
  long steady_reconciles = op.reconciles() - reconciles_before;
  long steady_watch_restarts = op.metric("cmop_operator_watch_restarts_total") - watch_restarts_before;
  long reconcile_errors = op.metric("cmop_operator_reconcile_total{result=\"error\"}");
  long status_writes = op.metric("cmop_operator_status_writes_total");

  long peak_rss_kib = proc_status_kib(op.process->pid(), "VmHWM");
  long rss_kib = proc_status_kib(op.process->pid(), "VmRSS");
  long api_rss_kib = proc_status_kib(api.peer.process.pid(), "VmHWM");
  double cpu_op_total = cpu_seconds(op.process->pid()) - cpu_op0;

  Counts ramp_by_verb;
  for (auto& [k, v] : api_ramp) ramp_by_verb[k.substr(0, k.find(' '))] += v;
  long steady_writes = writes_of(api_steady);
  long steady_sidecar_mutations = sidecar_mutations(sidecar_steady);

  std::printf("operator benchmark: %d Chartmuseums, %d workers, fake kube-apiserver and %s, %ld CPUs\n", crs,
              workers, sidecar.kind(), ::sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("created %d CRs in %.2f s (the harness's requests are not counted below)\n", crs, create_s.load());
  std::printf("all Ready %.2f s after the first create (%.1f CRs/s), the first %d at %.2f s; queue drained at %.2f s\n",
              ready_s, crs / ready_s, std::min(100, crs), first_100_s, settled_s);
  std::printf("CPU until all Ready: operator %.2f s, fake apiserver %.2f s, %s %.2f s (wall %.2f s)\n", cpu_op_ready,
              cpu_api_ready, sidecar.kind(), cpu_side_ready, ready_s);
  std::printf("API requests from create to drained: %ld (%.2f per CR), writes %ld (%.2f per CR)\n", total(api_ramp),
              static_cast<double>(total(api_ramp)) / crs, writes_of(api_ramp),
              static_cast<double>(writes_of(api_ramp)) / crs);
  print_per_cr("  by verb:\n", ramp_by_verb, crs);
  print_per_cr("  by verb and resource:\n", api_ramp, crs);
  print_per_cr("  sidecar requests:\n", sidecar_ramp, crs);
  if (settled_s > resync_seconds)
    std::printf("  (the ramp outlasted the %d s resync period: reads of a resync pass may be counted above too)\n",
                resync_seconds);
  std::printf("steady state: %.1f s window (resync every %d s, watches renewed every 5-6 s): %ld reconciles, "
              "%ld watch renewals\n",
              window_s, resync_seconds, steady_reconciles, steady_watch_restarts);
  std::printf("  API writes: %ld (goal 0), API reads: %ld (%.2f per reconcile), sidecar mutations: %ld (goal 0)\n",
              steady_writes, total(api_steady) - steady_writes,
              steady_reconciles ? static_cast<double>(total(api_steady) - steady_writes) / steady_reconciles : 0.0,
              steady_sidecar_mutations);
  if (steady_writes) print_per_cr("  steady-state API requests:\n", api_steady, crs);
  std::printf("reconcile errors (retried): %ld, status writes: %ld\n", reconcile_errors, status_writes);
  std::printf("operator peak RSS (VmHWM): %.1f MiB (now %.1f MiB); CPU %.2f s in all\n", peak_rss_kib / 1024.0,
              rss_kib / 1024.0, cpu_op_total);
  std::printf("fake apiserver peak RSS: %.1f MiB\n", api_rss_kib / 1024.0);
  // --- churn: every spec changed, round after round ----------------------------------------
  for (int round = 1; round <= churn_rounds; ++round) {
    auto round_start = Clock::now();
    // A ref the real sidecar's repos lack would fail their syncs: alternate main and a
    // branch of the same commit in real mode; the fake sidecar takes any ref.
    const std::string ref = real_sidecar ? (round % 2 ? "refs/heads/main" : "main") : "r" + std::to_string(round);
    for (int i = 0; i < crs; ++i) api.change_spec(i, ref);
    auto round_deadline = Clock::now() + std::chrono::seconds(60 + crs);
    while (api.ready_crs() < crs && Clock::now() < round_deadline) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    op.wait_quiet();
    std::printf("churn round %d: %ld of %d Ready for the new generation in %.2f s; operator RSS %.1f MiB (peak %.1f MiB)\n",
                round, api.ready_crs(), crs, seconds_since(round_start),
                proc_status_kib(op.process->pid(), "VmRSS") / 1024.0, proc_status_kib(op.process->pid(), "VmHWM") / 1024.0);
  }
  return steady_writes == 0 && steady_sidecar_mutations == 0 ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    int crs = argc > 1 ? std::stoi(argv[1]) : 1000;
    int workers = argc > 2 ? std::stoi(argv[2]) : 2;
    int resync_seconds = argc > 3 ? std::stoi(argv[3]) : 30;
    bool real_sidecar = argc > 4 && std::string(argv[4]) == "real";
    int churn_rounds = argc > 5 ? std::stoi(argv[5]) : 0;
    bool monorepo = argc > 6 && std::string(argv[6]) == "monorepo";
    if (crs < 1 || workers < 1 || workers > 64 || resync_seconds < 1 ||
        (argc > 4 && !real_sidecar && std::string(argv[4]) != "fake") || churn_rounds < 0 ||
        (argc > 6 && !monorepo && std::string(argv[6]) != "repos") || (monorepo && !real_sidecar)) {
      std::cerr << "usage: bench_operate [crs=1000 (>= 1)] [workers=2 (1-64)] [resync_seconds=30 (>= 1)] [real|fake] "
                   "[churn_rounds=0] [repos|monorepo (real only: one repo, a folder per CR)]\n";
      return 64;
    }
    return run(crs, workers, resync_seconds, real_sidecar, churn_rounds, monorepo);
  } catch (const std::exception& e) {
    std::cerr << "bench_operate: " << e.what() << "\n";
    return 1;
  }
}
