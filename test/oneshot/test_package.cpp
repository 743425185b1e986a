// `cmop package` as a CI job runs it: a fresh clone from `git daemon`, its charts
// packaged with their dependencies (an HTTP chart repo, a file:// sibling), a
// refused chart named, the archives served as a chart repo that real Helm 3 and 4
// add, pull and render, and matched by
// `cmop verify` against a rebuild from the commit (the bytes a sync publishes).
#include <rapidjson/document.h>

#include <set>

#include "cmop/util/hash.hpp"
#include "helm/helm_user.hpp"
#include "oneshot_fixtures.hpp"

using namespace cmop;
using namespace cmop::test;
namespace fs = std::filesystem;

TEST_CASE("package: a fresh clone's charts packaged with their dependencies, a refused chart named, Helm reads them") {
  ChartsRepo repo;
  const fs::path job = repo.fresh_dir("job");
  run_ok({git(), "clone", "-q", repo.git_url(), "src"}, job);
  std::string commit = run_ok({git(), "-C", (job / "src").string(), "rev-parse", "HEAD"});
  commit.resize(40);
  // A folder not committed: packaged from the working tree all the same, and refused.
  fs::create_directories(job / "src/charts/broken");
  std::ofstream(job / "src/charts/broken/Chart.yaml") << "apiVersion: v2\nname: broken\n";

  auto r = run_cmop(job, {"package", "src/charts", "-d", "dist", "--dependency-hosts", "127.0.0.1"});
  INFO("stdout:\n" << r.out << "stderr:\n" << r.err);
  CHECK(r.rc == 1);
  CHECK(r.err.find("charts/broken: refused: charts/broken/Chart.yaml: chart.metadata.version is required") !=
        std::string::npos);
  CHECK(r.err.find("[1/") == std::string::npos);  // no progress lines: stderr is not a terminal
  auto digests = digests_of(r.out);
  REQUIRE(digests.size() == 3);
  std::set<std::string> files;
  for (const auto& e : fs::directory_iterator(job / "dist")) files.insert(e.path().filename().string());
  CHECK(files == std::set<std::string>{"lib-0.1.0.tgz", "solo-0.1.0.tgz", "web-1.0.0.tgz"});
  for (const auto& [name, file] : std::map<std::string, std::string>{
           {"lib", "lib-0.1.0.tgz"}, {"solo", "solo-0.1.0.tgz"}, {"web", "web-1.0.0.tgz"}})
    CHECK(util::sha256_hex(util::read_file(job / "dist" / file)) == digests[name]);

  // Served as a chart repository (index by Helm), added and pulled by each Helm.
  run_ok({helm_clients().back().path, "repo", "index", (job / "dist").string()});
  auto served = start_python_peer("static_http_server.py", {"--root", (job / "dist").string()});
  for (const auto& helm : helm_clients()) {
    INFO(helm.name);
    const HelmUser user(helm);
    user.ok({"repo", "add", "dist", served.url()});
    const auto pulled = user.pull({"dist/web", "--version", "1.0.0"});
    CHECK(util::sha256_hex(util::read_file(pulled)) == digests["web"]);
    const std::string chart = (job / "dist/web-1.0.0.tgz").string();
    CHECK(run_ok({helm.path, "show", "chart", chart}).find("name: web") != std::string::npos);
    // Both dependencies are vendored: the HTTP one and the file:// sibling render.
    const std::string manifests = run_ok({helm.path, "template", "rel", chart});
    CHECK(manifests.find("name: rel-common") != std::string::npos);
    CHECK(manifests.find("name: rel-lib") != std::string::npos);
    run_ok({helm.path, "lint", chart});
  }
  // The same bytes as a sync of the commit: cmop verify rebuilds it from git.
  auto verified = run_cmop(job, {"verify", "dist/web-1.0.0.tgz", "--git", repo.git_url(), "--commit", commit,
                                 "--path", "charts"});
  INFO(verified.out << verified.err);
  CHECK(verified.rc == 0);
  CHECK(verified.out.rfind("match sha256:" + digests["web"], 0) == 0);

  SECTION("one chart folder, as JSON") {
    auto j = run_cmop(job, {"package", "src/charts/solo", "-d", "one", "-o", "json"});
    INFO(j.out << j.err);
    CHECK(j.rc == 0);
    rapidjson::Document doc;
    doc.Parse(j.out.c_str());
    REQUIRE(doc.IsObject());
    REQUIRE(doc["charts"].Size() == 1);
    const auto& c = doc["charts"][0];
    CHECK(std::string(c["path"].GetString()) == "charts/solo");
    CHECK(std::string(c["status"].GetString()) == "packaged");
    CHECK(std::string(c["digest"].GetString()) == "sha256:" + digests["solo"]);
    CHECK(fs::exists(job / "one/solo-0.1.0.tgz"));
  }
  SECTION("a folder outside the root, and no chart at all, fail the run") {
    auto outside = run_cmop(job, {"package", "src/charts", "--root", "src/charts/web", "-d", "x"});
    CHECK(outside.rc == 2);
    CHECK(outside.err.find("is outside") != std::string::npos);
    fs::create_directories(job / "empty");
    auto none = run_cmop(job, {"package", "empty", "-d", "x"});
    CHECK(none.rc == 2);
    CHECK(none.err.find("no chart") != std::string::npos);
    auto bad_output = run_cmop(job, {"package", "src/charts/solo", "-d", "x", "-o", "yaml"});
    CHECK(bad_output.rc == 2);  // a flag CLI11 refuses exits 2 too, not CLI11's 105
    CHECK(bad_output.err.find("--output") != std::string::npos);
  }
  SECTION("a terminal gets a progress line per chart") {
    std::string out;
    const std::string cmd = "cd '" + job.string() + "' && '" + cmop_binary() +
                            "' package src/charts/lib src/charts/solo -d tty 2>&1";
    CHECK(run({"script", "-qec", cmd, "/dev/null"}, &out) == 0);
    INFO(out);
    CHECK(out.find("[1/2] charts/lib: packaged lib-0.1.0.tgz") != std::string::npos);
    CHECK(out.find("[2/2] charts/solo: packaged solo-0.1.0.tgz") != std::string::npos);
  }
}

TEST_CASE("package and publish: --help shows a CI example") {
  for (const char* command : {"package", "publish"}) {
    std::string out;
    CHECK(run({cmop_binary(), command, "--help"}, &out) == 0);
    INFO(out);
    CHECK(out.find("GitHub Actions") != std::string::npos);
    CHECK(out.find("Exit codes") != std::string::npos);
  }
}
