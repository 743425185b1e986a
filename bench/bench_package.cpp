// `cmop package` against `helm package` (real Helm 4) on the same generated repo
// of N charts (about 20 KiB each: values, README, seven templates), in one run:
//   - cmop package charts/ -d OUT        one process for every chart
//   - helm package charts/chartI -d OUT  once per chart, the loop CI scripts run
//   - helm package charts/* -d OUT       one invocation naming every chart
// each the best of 3 runs into a fresh folder (wall time, and the CPU time of the
// processes run), with the packages' total size and whether a second run wrote
// the same bytes (reproducible output).
//
//   build/bench/bench_package [charts=100]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "bench_charts.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "support/process.hpp"

using namespace cmop;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// file name -> sha256 of every package in `dir`.
std::map<std::string, std::string> digests_in(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    out[e.path().filename().string()] = util::sha256_hex(util::read_file(e.path()));
  return out;
}

std::uintmax_t bytes_in(const fs::path& dir) {
  std::uintmax_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.file_size();
  return n;
}

double children_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Measured {
  double best = 1e9;
  double cpu = 1e9;  // user + system of the processes run, least of the 3
  std::size_t packages = 0;
  std::uintmax_t bytes = 0;
  bool reproducible = true;
};

// Runs `once(out_dir)` three times into fresh folders.
template <typename F>
Measured measure(const fs::path& tmp, const std::string& what, F once) {
  Measured m;
  std::map<std::string, std::string> first;
  for (int run = 0; run < 3; ++run) {
    const fs::path out = tmp / (what + "-" + std::to_string(run));
    fs::create_directories(out);
    const auto started = Clock::now();
    const double cpu_before = children_cpu_seconds();
    once(out);
    m.best = std::min(m.best, std::chrono::duration<double>(Clock::now() - started).count());
    m.cpu = std::min(m.cpu, children_cpu_seconds() - cpu_before);
    auto digests = digests_in(out);
    if (run == 0) first = digests;
    else if (digests != first) m.reproducible = false;
    m.packages = digests.size();
    m.bytes = bytes_in(out);
  }
  return m;
}

void print(const char* what, const Measured& m, double baseline) {
  std::printf("%-40s %7.3f s  %5.2f x  %6.3f s  %3zu packages, %6.1f KiB, second run %s\n", what, m.best,
              m.best / baseline, m.cpu, m.packages, static_cast<double>(m.bytes) / 1024, m.reproducible ? "byte-identical" : "different bytes");
}

}  // namespace

int main(int argc, char** argv) {
  const int charts = argc > 1 ? std::max(1, std::atoi(argv[1])) : 100;
  util::TempDir tmp("cmop-bench-package-");
  test::GitWorkRepo work(tmp.path() / "repo");
  for (int i = 0; i < charts; ++i) bench::write_bench_chart(work, i, false, "");
  work.commit("generated charts");
  const std::string helm = test::helm_clients().back().path;  // Helm 4
  std::string version;
  test::run({helm, "version", "--short"}, &version);
  std::printf("%d charts; cmop %s; helm %s", charts, CMOP_VERSION, version.c_str());

  std::vector<std::string> paths;
  for (int i = 0; i < charts; ++i) paths.push_back("charts/chart" + std::to_string(i));

  const auto cmop = measure(tmp.path(), "cmop", [&](const fs::path& out) {
    test::run_ok({test::cmop_binary(), "package", "charts", "-d", out.string()}, work.dir());
  });
  const auto helm_loop = measure(tmp.path(), "helm-loop", [&](const fs::path& out) {
    for (const auto& p : paths) test::run_ok({helm, "package", p, "-d", out.string()}, work.dir());
  });
  const auto helm_once = measure(tmp.path(), "helm-once", [&](const fs::path& out) {
    std::vector<std::string> argv{helm, "package"};
    argv.insert(argv.end(), paths.begin(), paths.end());
    argv.insert(argv.end(), {"-d", out.string()});
    test::run_ok(argv, work.dir());
  });
  std::printf("%-40s %9s  %7s  %8s\n", "", "wall", "vs loop", "CPU");
  print("helm package, once per chart (CI loop)", helm_loop, helm_loop.best);
  print("helm package, every chart in one call", helm_once, helm_loop.best);
  print("cmop package charts/ (one process)", cmop, helm_loop.best);
  return cmop.packages == static_cast<std::size_t>(charts) && helm_loop.packages == cmop.packages ? 0 : 1;
}
