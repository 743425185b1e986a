// Mirroring an upstream chart repository (issue 26): an index of N versions
// (default 1000: 10 charts x 100 versions, about 2 KiB each) served by
// test/support/static_http_server.py on 127.0.0.1, mirrored by a Workspace into a
// local chart-repo folder. Prints the time and the requests the upstream answered
// for the first sync, a sync where nothing changed, and a sync after one new version.
//
//   build/bench/bench_upstream [versions=1000]
#include <rapidjson/document.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "cmop/deps/repo_index.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/package/packager.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/sync/workspace.hpp"
#include "cmop/util/fs.hpp"
#include "support/process.hpp"

using namespace cmop;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Packages chart `name` at `version` (cmop's packager: `helm package`-identical
// content) into `repo`, and lists it in `index`.
void add_version(const fs::path& sources, const fs::path& repo, deps::RepoIndex& index, const std::string& name,
                 const std::string& version) {
  const fs::path root = sources / (name + "-" + version);
  fs::create_directories(root / name / "templates");
  std::ofstream(root / name / "Chart.yaml") << "apiVersion: v2\nname: " << name << "\nversion: " << version
                                            << "\nappVersion: \"" << version << "\"\ndescription: mirrored chart\n";
  std::ofstream(root / name / "values.yaml") << "image: example/" << name << ":" << version << "\nreplicas: 2\n";
  std::ofstream(root / name / "templates" / "deployment.yaml")
      << "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: "
         "{{ .Values.replicas }}\n";
  package::PackageInput in;
  in.clone_root = root;
  in.chart_dir = name;
  auto pkg = package::package_chart(in);
  util::write_file_atomic(repo / pkg.filename, pkg.bytes);
  deps::IndexEntry e;
  e.metadata = pkg.metadata;
  e.urls = {pkg.filename};
  e.digest = pkg.digest;
  e.created = "2026-12-01T00:00:00Z";
  index.add(std::move(e));
}

long total_requests(const std::string& server) {
  net::Request req;
  req.url = server + "/__requests";
  auto res = net::HttpClient().send(req);
  rapidjson::Document doc;
  doc.Parse(res.body.c_str());
  long n = 0;
  for (auto& m : doc.GetObject()) n += m.value.GetInt();
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  const int versions = argc > 1 ? std::stoi(argv[1]) : 1000;
  const int charts = versions >= 100 ? 10 : 1;
  util::TempDir tmp("cmop-bench-upstream-");
  const fs::path repo = tmp.path() / "upstream";
  fs::create_directories(repo);
  deps::RepoIndex index;
  auto t0 = Clock::now();
  for (int i = 0; i < versions; ++i)
    add_version(tmp.path() / "src", repo, index, "chart" + std::to_string(i % charts),
                "1." + std::to_string(i / charts) + ".0");
  util::write_file_atomic(repo / "index.yaml", index.to_yaml());
  std::printf("upstream: %d versions of %d charts, index.yaml %llu bytes, made in %.2f s\n", versions, charts,
              static_cast<unsigned long long>(fs::file_size(repo / "index.yaml")), seconds_since(t0));
  auto server = test::start_python_peer("static_http_server.py", {"--root", repo.string()});

  const fs::path out = tmp.path() / "out";
  fs::create_directories(out);
  sync::Workspace ws(tmp.path() / "state", publish::make_local_publisher(out.string()));
  sync::RepoSpec spec;
  spec.name = "mirror";
  spec.upstream.url = server.url() + "/";

  auto step = [&](const char* what, const std::function<sync::SyncReport()>& run) {
    const long before = total_requests(server.url());
    const auto t = Clock::now();
    const auto report = run();
    const double s = seconds_since(t);
    const long requests = total_requests(server.url()) - before;
    std::printf("%-34s %7.3f s  %5ld upstream requests  published %zu, unchanged %zu, failed %zu%s%s\n", what, s,
                requests, report.count(sync::ChartOutcome::Status::published),
                report.count(sync::ChartOutcome::Status::unchanged), report.count(sync::ChartOutcome::Status::failed),
                report.error.empty() ? "" : "  error: ", report.error.c_str());
    return report.ok();
  };
  bool ok = step("first sync", [&] { return ws.apply(spec); });
  ok = step("no-change sync", [&] { return ws.update("mirror"); }) && ok;
  add_version(tmp.path() / "src", repo, index, "chart0", "2.0.0");
  util::write_file_atomic(repo / "index.yaml", index.to_yaml());
  ok = step("sync after one new version", [&] { return ws.update("mirror"); }) && ok;
  return ok ? 0 : 1;
}
