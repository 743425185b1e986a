// What lands in the chart repo is what `helm install` takes: real git repos served
// by `git daemon`, a real chart repository over HTTP, the local chart-repo folder
// as publish target, and the packages read back from it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>

#include "cmop/deps/repo_index.hpp"
#include "cmop/error.hpp"
#include "cmop/package/archive.hpp"
#include "cmop/sync/workspace.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "support/git_fixture.hpp"
#include "support/served_repo.hpp"
#include "support/sync_report.hpp"

using namespace cmop;
using Status = sync::ChartOutcome::Status;
using test::outcome;
namespace fs = std::filesystem;

namespace {

// One git repo of charts (written by each test), served by git daemon, synced
// into the local chart-repo folder `out`.
struct Monorepo : test::ServedRepo {
  Monorepo() : ServedRepo("charts", "cmop-fidelity-") {}
  // Commits what the test wrote and starts serving it (once).
  void serve() { commit_and_serve("initial"); }
  void push(const std::string& message) { commit_and_serve(message); }
  sync::RepoSpec spec(sync::Versioning versioning = sync::Versioning::immutable) const {
    auto s = spec_named("charts");
    s.versioning = versioning;
    return s;
  }
  std::string package(const std::string& file) { return util::read_file(out / file); }
  std::vector<std::string> members(const std::string& file) {
    std::vector<std::string> names;
    for (auto& e : package::read_tgz(package(file), 5 << 20, 100 << 20)) names.push_back(e.name);
    return names;
  }
  std::string member(const std::string& file, const std::string& name) {
    for (auto& e : package::read_tgz(package(file), 5 << 20, 100 << 20))
      if (e.name == name) return e.content;
    FAIL("no " << name << " in " << file);
    return {};
  }
};

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// A chart repository over HTTP with one chart in it, packaged with tar.
struct HttpChartRepo {
  util::TempDir dir{"cmop-fidelity-repo-"};
  deps::RepoIndex index;
  test::Peer peer;

  explicit HttpChartRepo(const std::string& name, const std::string& version)
      : peer(start(dir.path(), name, version, index)) {}
  std::string url() const { return peer.url(); }
  // Publishes another version into the served repo.
  void add(const std::string& name, const std::string& version) { write(dir.path(), name, version, index); }

  static test::Peer start(const fs::path& root, const std::string& name, const std::string& version,
                          deps::RepoIndex& index) {
    write(root, name, version, index);
    return test::start_python_peer("static_http_server.py", {"--root", (root / "served").string()});
  }
  static void write(const fs::path& root, const std::string& name, const std::string& version, deps::RepoIndex& index) {
    const fs::path src = root / ("src-" + version);
    fs::create_directories(src / name / "templates");
    std::ofstream(src / name / "Chart.yaml") << "apiVersion: v2\nname: " << name << "\nversion: " << version << "\n";
    std::ofstream(src / name / "templates" / "cm.yaml") << "kind: ConfigMap\n";
    fs::create_directories(root / "served");
    const std::string file = name + "-" + version + ".tgz";
    test::run_ok({"tar", "czf", (root / "served" / file).string(), "-C", src.string(), name});
    deps::IndexEntry e;
    e.metadata.api_version = "v2";
    e.metadata.name = name;
    e.metadata.version = version;
    e.urls = {file};
    e.digest = util::sha256_hex(util::read_file(root / "served" / file));
    e.created = "2024-01-01T00:00:00Z";
    index.add(e);
    index.generated = "2024-01-02T00:00:00Z";
    std::ofstream(root / "served" / "index.yaml") << index.to_yaml();
  }
};

}  // namespace

TEST_CASE("an apiVersion v1 chart's requirements.yaml dependencies are resolved, vendored and locked") {
  HttpChartRepo upstream("redis", "17.3.1");
  Monorepo m;
  m.work.write("old/Chart.yaml", "apiVersion: v1\nname: old\nversion: 0.9.0\n");
  m.work.write("old/requirements.yaml",
               "dependencies:\n- name: redis\n  version: ~17.3.0\n  repository: " + upstream.url() + "\n");
  m.work.write("old/templates/cm.yaml", "kind: ConfigMap\n");
  m.serve();

  auto report = m.workspace()->apply(m.spec());
  INFO(report.error << (report.charts.empty() ? "" : report.charts[0].reason));
  REQUIRE(report.ok());
  auto files = m.members("old-0.9.0.tgz");
  CHECK(contains(files, "old/charts/redis/Chart.yaml"));
  CHECK(contains(files, "old/requirements.yaml"));
  // v1 keeps its lock as requirements.lock, naming the version chosen.
  const std::string lock = m.member("old-0.9.0.tgz", "old/requirements.lock");
  CHECK_THAT(lock, Catch::Contains("version: 17.3.1"));
  CHECK_THAT(lock, Catch::Contains("repository: " + upstream.url()));
}

TEST_CASE("a declared dependency missing from charts/ fails that chart, naming it, and nothing is published for it") {
  Monorepo m;
  test::write_chart(m.work, "good", "good", "1.0.0");
  test::write_chart(m.work, "needs", "needs", "1.0.0",
                    "dependencies:\n- name: common\n  version: 2.x\n- name: other\n  version: '*'\n");
  // v1: the same rule for requirements.yaml
  m.work.write("legacy/Chart.yaml", "apiVersion: v1\nname: legacy\nversion: 1.0.0\n");
  m.work.write("legacy/requirements.yaml", "dependencies:\n- name: common\n  version: 2.x\n");
  // a vendored copy in a version outside the constraint is no better than none
  test::write_chart(m.work, "stale", "stale", "1.0.0", "dependencies:\n- name: common\n  version: 2.x\n");
  test::write_chart(m.work, "stale/charts/common", "common", "1.4.0");
  m.serve();

  auto report = m.workspace()->apply(m.spec());
  CHECK(outcome(report, "good").status == Status::published);
  auto& needs = outcome(report, "needs");
  CHECK(needs.status == Status::failed);
  CHECK_THAT(needs.reason, Catch::Contains("missing in charts/ directory: common, other"));
  auto& legacy = outcome(report, "legacy");
  CHECK(legacy.status == Status::failed);
  CHECK_THAT(legacy.reason, Catch::Contains("found in requirements.yaml, but missing in charts/ directory: common"));
  auto& stale = outcome(report, "stale");
  CHECK(stale.status == Status::failed);
  CHECK_THAT(stale.reason, Catch::Contains("charts/ holds version 1.4.0"));
  CHECK_FALSE(fs::exists(m.out / "needs-1.0.0.tgz"));
  CHECK_FALSE(fs::exists(m.out / "legacy-1.0.0.tgz"));
  CHECK_FALSE(fs::exists(m.out / "stale-1.0.0.tgz"));
  CHECK(m.index().entries.count("needs") == 0);
}

TEST_CASE("a file://./charts/X dependency naming the vendored charts/X packages it once") {
  Monorepo m;
  test::write_chart(m.work, "app", "app", "1.0.0",
                    "dependencies:\n- name: lib\n  version: 0.1.0\n  repository: file://./charts/lib\n");
  test::write_chart(m.work, "app/charts/lib", "lib", "0.1.0");
  m.serve();

  auto report = m.workspace()->apply(m.spec());
  INFO((report.charts.empty() ? report.error : report.charts[0].reason));
  REQUIRE(outcome(report, "app").status == Status::published);
  auto files = m.members("app-1.0.0.tgz");
  CHECK(std::count(files.begin(), files.end(), "app/charts/lib/Chart.yaml") == 1);
  CHECK_THAT(m.member("app-1.0.0.tgz", "app/Chart.lock"), Catch::Contains("repository: file://./charts/lib"));
}

TEST_CASE(".helmignore with a byte order mark keeps its first rule, and an ignored broken symlink still fails the chart") {
  Monorepo m;
  test::write_chart(m.work, "bom", "bom", "1.0.0");
  m.work.write("bom/.helmignore", "\xEF\xBB\xBFsecret.txt\n*.bak\n");
  m.work.write("bom/secret.txt", "do not ship\n");
  m.work.write("bom/old.bak", "nor this\n");
  test::write_chart(m.work, "linked", "linked", "1.0.0");
  m.work.write("linked/.helmignore", "dangling\n");
  m.work.symlink("linked/dangling", "does-not-exist");
  m.serve();

  auto report = m.workspace()->apply(m.spec());
  REQUIRE(outcome(report, "bom").status == Status::published);
  auto files = m.members("bom-1.0.0.tgz");
  CHECK_FALSE(contains(files, "bom/secret.txt"));
  CHECK_FALSE(contains(files, "bom/old.bak"));
  auto& linked = outcome(report, "linked");
  CHECK(linked.status == Status::failed);
  CHECK_THAT(linked.reason, Catch::Contains("linked/dangling") && Catch::Contains("broken symlink"));
  CHECK_FALSE(fs::exists(m.out / "linked-1.0.0.tgz"));
}

TEST_CASE("one sync publishes a monorepo whose umbrella charts name their siblings by the chart repo URL") {
  const std::string published_at = "https://example.github.io/charts";
  Monorepo m;
  // Umbrellas sort before the charts they need, so discovery order alone would fail them.
  test::write_chart(m.work, "charts/aa-platform", "aa-platform", "3.0.0",
                    "dependencies:\n- name: ab-stack\n  version: ^2.0.0\n  repository: " + published_at +
                        "\n- name: svc-1\n  version: 1.x\n  repository: " + published_at + "\n");
  test::write_chart(m.work, "charts/ab-stack", "ab-stack", "2.1.0",
                    "dependencies:\n- name: svc-0\n  version: ~1.0.0\n  repository: " + published_at +
                        "/\n- name: svc-2\n  version: '>=1.0.0'\n  repository: '@ours'\n");
  for (int i = 0; i < 12; ++i)
    test::write_chart(m.work, "charts/svc-" + std::to_string(i), "svc-" + std::to_string(i), "1.0." + std::to_string(i));
  m.serve();

  auto spec = m.spec();
  spec.dependencies.push_back({"ours", deps::kSelfRepositoryUrl, "", "", published_at});
  auto ws = m.workspace();
  auto report = ws->apply(spec);
  INFO(test::describe(report));
  REQUIRE(report.ok());
  CHECK(report.count(Status::published) == 14);

  auto platform = m.members("aa-platform-3.0.0.tgz");
  CHECK(contains(platform, "aa-platform/charts/ab-stack/Chart.yaml"));
  CHECK(contains(platform, "aa-platform/charts/ab-stack/charts/svc-0/Chart.yaml"));
  CHECK(contains(platform, "aa-platform/charts/svc-1/Chart.yaml"));
  // The lock names the URL the chart names, not where cmop read it from.
  const std::string lock = m.member("aa-platform-3.0.0.tgz", "aa-platform/Chart.lock");
  CHECK_THAT(lock, Catch::Contains("repository: " + published_at));
  CHECK_THAT(lock, !Catch::Contains("self"));
  // The vendored sibling is byte for byte what was published for it.
  CHECK(m.member("aa-platform-3.0.0.tgz", "aa-platform/charts/svc-1/Chart.yaml") ==
        m.member("svc-1-1.0.1.tgz", "svc-1/Chart.yaml"));

  // A sibling's new version reaches its umbrellas in the same sync.
  test::write_chart(m.work, "charts/svc-1", "svc-1", "1.1.0");
  test::write_chart(m.work, "charts/aa-platform", "aa-platform", "3.0.1",
                    "dependencies:\n- name: ab-stack\n  version: ^2.0.0\n  repository: " + published_at +
                        "\n- name: svc-1\n  version: 1.x\n  repository: " + published_at + "\n");
  m.push("bump svc-1 and the platform");
  auto second = ws->update("charts");
  REQUIRE(second.ok());
  CHECK(outcome(second, "charts/svc-1").status == Status::published);
  CHECK_THAT(m.member("aa-platform-3.0.1.tgz", "aa-platform/Chart.lock"), Catch::Contains("version: 1.1.0"));
}

TEST_CASE("a mirror without the chart it should hold fails the umbrella, naming the dependency") {
  Monorepo m;
  test::write_chart(m.work, "umbrella", "umbrella", "1.0.0",
                    "dependencies:\n- name: ghost\n  version: 1.x\n  repository: https://charts.example.com\n");
  m.serve();
  auto spec = m.spec();
  spec.dependencies.push_back({"mirror", deps::kSelfRepositoryUrl, "", "", "https://charts.example.com/"});
  auto report = m.workspace()->apply(spec);
  auto& u = outcome(report, "umbrella");
  CHECK(u.status == Status::failed);
  CHECK_THAT(u.reason, Catch::Contains("ghost") && Catch::Contains("not found"));
}

TEST_CASE("published versions are immutable by default: changed content without a bump fails and keeps the package") {
  Monorepo m;
  test::write_chart(m.work, "app", "app", "1.0.0");
  m.serve();
  auto ws = m.workspace();
  REQUIRE(ws->apply(m.spec()).ok());
  const std::string before = m.package("app-1.0.0.tgz");

  m.work.write("app/templates/extra.yaml", "kind: Secret\n");
  m.push("change without a bump");
  for (int attempt = 0; attempt < 2; ++attempt) {  // and it stays failed until bumped
    auto report = ws->update("charts");
    auto& app = outcome(report, "app");
    CHECK(app.status == Status::failed);
    CHECK_THAT(app.reason, Catch::Contains("content changed but version 1.0.0 was not bumped"));
    CHECK(m.package("app-1.0.0.tgz") == before);
    CHECK(m.index().entries["app"].at(0).digest == util::sha256_hex(before));
  }

  test::write_chart(m.work, "app", "app", "1.0.1");
  m.push("bump");
  auto bumped = ws->update("charts");
  REQUIRE(bumped.ok());
  CHECK(outcome(bumped, "app").version == "1.0.1");
  CHECK(m.package("app-1.0.0.tgz") == before);  // the earlier version stays as it was
}

TEST_CASE("versioning revision publishes <version>+<commit> per content change, overwrite replaces") {
  Monorepo m;
  test::write_chart(m.work, "app", "app", "1.0.0");
  m.work.write("app/.helmignore", "*.md\n");
  m.serve();

  SECTION("revision") {
    auto ws = m.workspace();
    auto first = ws->apply(m.spec(sync::Versioning::revision));
    REQUIRE(first.ok());
    const std::string v1 = "1.0.0+" + first.commit.substr(0, 12);
    CHECK(outcome(first, "app").version == v1);
    REQUIRE(fs::exists(m.out / ("app-" + v1 + ".tgz")));
    CHECK_THAT(m.member("app-" + v1 + ".tgz", "app/Chart.yaml"), Catch::Contains("version: " + v1));

    CHECK(outcome(ws->update("charts"), "app").status == Status::unchanged);
    m.work.write("app/README.md", "ignored\n");
    m.push("touch only an ignored file");
    auto ignored = ws->update("charts");
    CHECK(outcome(ignored, "app").status == Status::unchanged);
    CHECK(outcome(ignored, "app").version == v1);

    m.work.write("app/templates/extra.yaml", "kind: Secret\n");
    m.push("change");
    auto changed = ws->update("charts");
    REQUIRE(changed.ok());
    const std::string v2 = "1.0.0+" + changed.commit.substr(0, 12);
    CHECK(outcome(changed, "app").version == v2);
    CHECK(fs::exists(m.out / ("app-" + v1 + ".tgz")));  // earlier revisions stay installable
    CHECK(m.index().entries["app"].size() == 2);
  }
  SECTION("overwrite") {
    auto ws = m.workspace();
    REQUIRE(ws->apply(m.spec(sync::Versioning::overwrite)).ok());
    const std::string before = m.package("app-1.0.0.tgz");
    m.work.write("app/templates/extra.yaml", "kind: Secret\n");
    m.push("change");
    auto report = ws->update("charts");
    REQUIRE(report.ok());
    CHECK(outcome(report, "app").status == Status::published);
    CHECK(m.package("app-1.0.0.tgz") != before);
    CHECK(m.index().entries["app"].size() == 1);
  }
}

TEST_CASE("under versioning revision, new dependency versions at the same commit never replace a published revision") {
  HttpChartRepo upstream("lib", "1.0.0");
  Monorepo m;
  test::write_chart(m.work, "app", "app", "2.0.0",
                    "dependencies:\n- name: lib\n  version: 1.x\n  repository: " + upstream.url() + "\n");
  m.serve();
  auto ws = m.workspace();
  auto first = ws->apply(m.spec(sync::Versioning::revision));
  REQUIRE(first.ok());
  const std::string v = "2.0.0+" + first.commit.substr(0, 12);
  const std::string before = m.package("app-" + v + ".tgz");

  upstream.add("lib", "1.1.0");  // the constraint now picks another version, git did not move
  auto again = ws->update("charts");
  auto& app = outcome(again, "app");
  CHECK(app.status == Status::failed);
  CHECK_THAT(app.reason, Catch::Contains("was not bumped"));
  CHECK(m.package("app-" + v + ".tgz") == before);
}
