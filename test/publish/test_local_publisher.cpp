// The local-folder publisher: a Helm chart repository on disk, checked with
// Python's YAML parser (independent of ours) and served by the fake ChartMuseum
// from the same folder.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>
#include <vector>

#include "cmop/error.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/util/fs.hpp"
#include "publish_fixtures.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using namespace cmop;
using test::error_of;
using test::make_package;

namespace {

// index.yaml through PyYAML: safe_load must accept it (what Helm-compatible tools
// need), and BaseLoader gives every scalar as the exact string written.
rapidjson::Document read_index(const fs::path& dir) {
  const char* script =
      "import json, sys, yaml\n"
      "text = open(sys.argv[1]).read()\n"
      "yaml.safe_load(text)\n"
      "print(json.dumps(yaml.load(text, Loader=yaml.BaseLoader)))\n";
  std::string out = test::run_ok({test::python3(), "-c", script, (dir / "index.yaml").string()});
  rapidjson::Document doc;
  doc.Parse(out.data(), out.size());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsObject());
  return doc;
}

const rapidjson::Value* entry(const rapidjson::Document& index, const std::string& name, const std::string& version) {
  auto entries = index.FindMember("entries");
  if (entries == index.MemberEnd() || !entries->value.IsObject()) return nullptr;
  auto chart = entries->value.FindMember(name.c_str());
  if (chart == entries->value.MemberEnd()) return nullptr;
  for (const auto& e : chart->value.GetArray())
    if (e["version"].GetString() == version) return &e;
  return nullptr;
}

std::string str(const rapidjson::Value& v, const char* key) { return v[key].GetString(); }

void write_bytes(const fs::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
}

const std::regex kRfc3339Utc(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z)");

}  // namespace

TEST_CASE("local: publish writes the package and a valid index.yaml", "[local]") {
  util::TempDir dir;
  auto publisher = publish::make_local_publisher(dir.path().string());
  auto web = make_package("web", "1.2.0");
  auto db = make_package("db", "0.3.1");
  publisher->publish(web, false);
  publisher->publish(db, false);

  CHECK(util::read_file(dir.path() / "web-1.2.0.tgz") == web.bytes);
  CHECK(util::read_file(dir.path() / "db-0.3.1.tgz") == db.bytes);
  auto index = read_index(dir.path());
  CHECK(str(index, "apiVersion") == "v1");
  CHECK(std::regex_match(str(index, "generated"), kRfc3339Utc));
  auto* e = entry(index, "web", "1.2.0");
  REQUIRE(e);
  CHECK(str(*e, "name") == "web");
  CHECK(str(*e, "digest") == web.digest);
  CHECK(str(*e, "appVersion") == "1.0");
  CHECK(str(*e, "description") == "test chart web");
  REQUIRE((*e)["urls"].Size() == 1);
  CHECK(std::string((*e)["urls"][0].GetString()) == "web-1.2.0.tgz");
  CHECK(std::regex_match(str(*e, "created"), kRfc3339Utc));
  REQUIRE(entry(index, "db", "0.3.1"));
  CHECK(str(*entry(index, "db", "0.3.1"), "digest") == db.digest);
  CHECK_THAT(publisher->describe(), Catch::Contains(dir.path().string()));
  publisher->probe();
  // Nothing but the packages, the index and the hidden lock file.
  std::vector<std::string> names;
  for (const auto& d : fs::directory_iterator(dir.path())) names.push_back(d.path().filename().string());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{".cmop-publish.lock", "db-0.3.1.tgz", "index.yaml", "web-1.2.0.tgz"});
}

TEST_CASE("local: urls are absolute under base_url", "[local]") {
  util::TempDir dir;
  auto publisher = publish::make_local_publisher(dir.path().string(), "https://charts.example.org/stable/");
  publisher->publish(make_package("web", "1.0.0"), false);
  auto index = read_index(dir.path());
  CHECK(std::string((*entry(index, "web", "1.0.0"))["urls"][0].GetString()) ==
        "https://charts.example.org/stable/web-1.0.0.tgz");
}

TEST_CASE("local: same-digest republish keeps created, a different digest conflicts unless replaced", "[local]") {
  util::TempDir dir;
  auto publisher = publish::make_local_publisher(dir.path().string());
  auto first = make_package("web", "1.0.0", "one");
  auto second = make_package("web", "1.0.0", "two");
  publisher->publish(first, false);
  std::string created = str(*entry(read_index(dir.path()), "web", "1.0.0"), "created");

  publisher->publish(first, false);
  publisher->publish(first, true);
  CHECK(str(*entry(read_index(dir.path()), "web", "1.0.0"), "created") == created);
  // A new base URL rewrites the entry's urls but not its created time.
  publish::make_local_publisher(dir.path().string(), "http://moved.example")->publish(first, false);
  auto moved = read_index(dir.path());
  CHECK(str(*entry(moved, "web", "1.0.0"), "created") == created);
  CHECK(std::string((*entry(moved, "web", "1.0.0"))["urls"][0].GetString()) == "http://moved.example/web-1.0.0.tgz");

  auto err = test::error_of([&] { publisher->publish(second, false); });
  CHECK(err.code() == Errc::conflict);
  CHECK(err.subject() == (dir.path() / "web-1.0.0.tgz").string());
  CHECK_THAT(err.reason(), Catch::Contains(first.digest) && Catch::Contains(second.digest));
  CHECK(util::read_file(dir.path() / "web-1.0.0.tgz") == first.bytes);
  CHECK(str(*entry(read_index(dir.path()), "web", "1.0.0"), "digest") == first.digest);

  publisher->publish(second, true);
  CHECK(util::read_file(dir.path() / "web-1.0.0.tgz") == second.bytes);
  auto index = read_index(dir.path());
  CHECK(str(*entry(index, "web", "1.0.0"), "digest") == second.digest);
  CHECK(index["entries"]["web"].Size() == 1);
}

TEST_CASE("local: a package file without an index entry still guards against overwrite", "[local]") {
  util::TempDir dir;
  auto first = make_package("web", "1.0.0", "one");
  write_bytes(dir.path() / "web-1.0.0.tgz", first.bytes);
  write_bytes(dir.path() / "index.yaml", "apiVersion: v1\nentries: {}\ngenerated: \"2020-01-01T00:00:00Z\"\n");
  auto publisher = publish::make_local_publisher(dir.path().string());
  CHECK(test::error_of([&] { publisher->publish(make_package("web", "1.0.0", "two"), false); }).code() ==
        Errc::conflict);
  CHECK(str(*entry(read_index(dir.path()), "web", "1.0.0"), "digest") == first.digest);
}

TEST_CASE("local: remove deletes file and entry, removing a missing chart is fine", "[local]") {
  util::TempDir dir;
  auto publisher = publish::make_local_publisher(dir.path().string());
  publisher->publish(make_package("web", "1.0.0"), false);
  publisher->publish(make_package("web", "1.1.0"), false);
  publisher->remove("web", "1.0.0");
  CHECK_FALSE(fs::exists(dir.path() / "web-1.0.0.tgz"));
  auto index = read_index(dir.path());
  CHECK_FALSE(entry(index, "web", "1.0.0"));
  CHECK(entry(index, "web", "1.1.0"));
  publisher->remove("web", "1.0.0");
  publisher->remove("ghost", "0.0.1");
  publisher->remove("web", "1.1.0");
  index = read_index(dir.path());
  CHECK_FALSE(entry(index, "web", "1.1.0"));
  CHECK(test::error_of([&] { publisher->remove("../etc", "1.0.0"); }).code() == Errc::invalid_argument);
}

TEST_CASE("local: the index is rebuilt from the packages when missing", "[local]") {
  util::TempDir dir;
  auto web = make_package("web", "1.0.0");
  auto db = make_package("db", "2.0.0-rc.1");
  write_bytes(dir.path() / "web-1.0.0.tgz", web.bytes);
  write_bytes(dir.path() / "db-2.0.0-rc.1.tgz", db.bytes);
  write_bytes(dir.path() / "junk.tgz", "not a chart");
  write_bytes(dir.path() / "renamed-9.9.9.tgz", make_package("other", "1.0.0").bytes);
  REQUIRE_FALSE(fs::exists(dir.path() / "index.yaml"));

  auto publisher = publish::make_local_publisher(dir.path().string(), "http://h/charts");
  auto index = read_index(dir.path());
  REQUIRE(entry(index, "web", "1.0.0"));
  CHECK(str(*entry(index, "web", "1.0.0"), "digest") == web.digest);
  CHECK(std::string((*entry(index, "web", "1.0.0"))["urls"][0].GetString()) == "http://h/charts/web-1.0.0.tgz");
  REQUIRE(entry(index, "db", "2.0.0-rc.1"));
  CHECK(str(*entry(index, "db", "2.0.0-rc.1"), "digest") == db.digest);
  CHECK(std::regex_match(str(*entry(index, "db", "2.0.0-rc.1"), "created"), kRfc3339Utc));
  CHECK(index["entries"].MemberCount() == 2);  // junk and misnamed files are not charts of this repo

  // A corrupt index is rebuilt too, and an entry whose file vanished is dropped.
  fs::remove(dir.path() / "web-1.0.0.tgz");
  write_bytes(dir.path() / "index.yaml", "entries: [this is: not: an index");
  publish::make_local_publisher(dir.path().string());
  index = read_index(dir.path());
  CHECK_FALSE(entry(index, "web", "1.0.0"));
  CHECK(entry(index, "db", "2.0.0-rc.1"));
}

TEST_CASE("local: concurrent publishers on one folder lose no entries", "[local]") {
  util::TempDir dir;
  // Two publishers stand for two processes: each has its own mutex, only the
  // flock on the folder's lock file serializes them.
  auto a = publish::make_local_publisher(dir.path().string());
  auto b = publish::make_local_publisher(dir.path().string());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto& publisher = (t % 2 == 0) ? a : b;
      for (int i = 0; i < 5; ++i) publisher->publish(make_package("c" + std::to_string(t), "1." + std::to_string(i) + ".0"), false);
    });
  }
  for (auto& th : threads) th.join();
  auto index = read_index(dir.path());
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 5; ++i) {
      INFO("c" << t << " 1." << i << ".0");
      CHECK(entry(index, "c" + std::to_string(t), "1." + std::to_string(i) + ".0"));
    }
  }
}

TEST_CASE("local: the folder works as ChartMuseum's local storage, both ways", "[local][chartmuseum]") {
  util::TempDir dir;
  auto publisher = publish::make_local_publisher(dir.path().string());
  auto web = make_package("web", "1.0.0");
  publisher->publish(web, false);

  auto museum = test::start_python_peer("fake_chartmuseum.py", {"--storage-local-rootdir", dir.path().string()});
  CHECK(test::stored_charts(museum.url()) == test::StoredCharts{{"web", {{"1.0.0", web.digest}}}});
  auto listed = test::http_get(museum.url() + "/api/charts/web/1.0.0");
  CHECK(listed.status == 200);
  CHECK_THAT(listed.body, Catch::Contains(web.digest));

  // A chart uploaded through ChartMuseum into the same folder is indexed by the
  // next publisher started on it.
  publish::ChartMuseumOptions o;
  o.url = museum.url();
  auto db = make_package("db", "0.1.0");
  publish::make_chartmuseum_publisher(o)->publish(db, false);
  REQUIRE(fs::exists(dir.path() / "db-0.1.0.tgz"));
  publish::make_local_publisher(dir.path().string());
  auto index = read_index(dir.path());
  REQUIRE(entry(index, "db", "0.1.0"));
  CHECK(str(*entry(index, "db", "0.1.0"), "digest") == db.digest);
  CHECK(entry(index, "web", "1.0.0"));
}

TEST_CASE("local: names that would leave the folder are refused", "[local]") {
  util::TempDir dir;
  auto publisher = publish::make_local_publisher(dir.path().string());
  auto pkg = make_package("web", "1.0.0");
  pkg.metadata.name = "../web";
  CHECK(test::error_of([&] { publisher->publish(pkg, false); }).code() == Errc::invalid_argument);
  CHECK(test::error_of([&] { publish::make_local_publisher(""); }).code() == Errc::invalid_argument);
}

TEST_CASE("local: republishing identical bytes leaves index.yaml untouched", "[local]") {
  util::TempDir dir;
  auto publisher = publish::make_local_publisher(dir.path().string());
  auto web = make_package("web", "1.0.0");
  publisher->publish(web, false);
  std::string before = util::read_file(dir.path() / "index.yaml");
  publisher->publish(web, false);
  publisher->publish(web, true);
  CHECK(util::read_file(dir.path() / "index.yaml") == before);
}

// Issue 11, item 5: a sync killed inside its batch left the new bytes in the .tgz
// while index.yaml kept the old digest, and reconcile only checked that the file
// existed, so nothing ever repaired it.
TEST_CASE("local: after a crash between a package and its index, the next start re-reads the package", "[local]") {
  util::TempDir dir;
  auto v1 = make_package("web", "1.0.0", "one");
  auto v2 = make_package("web", "1.0.0", "two");
  REQUIRE(v1.digest != v2.digest);
  {
    auto publisher = publish::make_local_publisher(dir.path().string());
    publisher->publish(v1, false);
    publisher->publish(make_package("db", "1.0.0"), false);
  }
  // What the crash leaves: the package replaced after the index was last written.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  write_bytes(dir.path() / "web-1.0.0.tgz", v2.bytes);
  REQUIRE(str(*entry(read_index(dir.path()), "web", "1.0.0"), "digest") == v1.digest);

  auto restarted = publish::make_local_publisher(dir.path().string());
  auto index = read_index(dir.path());
  CHECK(str(*entry(index, "web", "1.0.0"), "digest") == v2.digest);
  CHECK(str(*entry(index, "db", "1.0.0"), "digest") == make_package("db", "1.0.0").digest);
}

// Issue 13, item 9: with the embedded chart repo every sync rewrote the whole
// index.yaml, so each sync cost more as the repository grew (quadratic over 1000
// repos). Deferred, the operations only change the index in memory; one writer
// writes it, coalescing everything that changed meanwhile.
TEST_CASE("local: deferred index writes leave index.yaml alone per operation, one write covers them all",
          "[local][deferred]") {
  util::TempDir dir;
  auto publisher = publish::make_local_publisher(dir.path().string(), "", std::chrono::hours(1));
  publisher->publish(make_package("seed", "1.0.0"), false);
  publisher->flush();
  const std::string before = util::read_file(dir.path() / "index.yaml");
  for (int i = 0; i < 40; ++i) {
    publisher->begin_batch();
    publisher->publish(make_package("chart" + std::to_string(i), "1.0.0"), false);
    publisher->end_batch();
  }
  publisher->remove("seed", "1.0.0");
  // Packages are durable at once; the index has not been touched by any of it.
  CHECK(fs::exists(dir.path() / "chart39-1.0.0.tgz"));
  CHECK_FALSE(fs::exists(dir.path() / "seed-1.0.0.tgz"));
  CHECK(util::read_file(dir.path() / "index.yaml") == before);
  publisher->flush();
  auto index = read_index(dir.path());
  for (int i = 0; i < 40; ++i) CHECK(entry(index, "chart" + std::to_string(i), "1.0.0"));
  CHECK_FALSE(entry(index, "seed", "1.0.0"));
}

TEST_CASE("local: the deferred writer writes within its delay without a flush", "[local][deferred]") {
  util::TempDir dir;
  auto publisher = publish::make_local_publisher(dir.path().string(), "", std::chrono::milliseconds(50));
  publisher->publish(make_package("web", "1.0.0"), false);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!fs::exists(dir.path() / "index.yaml") || !entry(read_index(dir.path()), "web", "1.0.0")) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

TEST_CASE("local: a process killed before its deferred index write loses nothing on the next start",
          "[local][deferred]") {
  util::TempDir dir;
  {
    auto publisher = publish::make_local_publisher(dir.path().string());
    publisher->publish(make_package("old", "1.0.0"), false);
    publisher->publish(make_package("gone", "1.0.0"), false);
  }
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // publishes and removes, then dies before any index write
    auto publisher = publish::make_local_publisher(dir.path().string(), "", std::chrono::hours(1));
    publisher->publish(make_package("new", "2.0.0"), false);
    publisher->remove("gone", "1.0.0");
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE_FALSE(entry(read_index(dir.path()), "new", "2.0.0"));  // the index as the crash left it
  auto restarted = publish::make_local_publisher(dir.path().string(), "", std::chrono::hours(1));
  auto index = read_index(dir.path());
  CHECK(entry(index, "old", "1.0.0"));
  CHECK(entry(index, "new", "2.0.0"));
  CHECK_FALSE(entry(index, "gone", "1.0.0"));
}

namespace {

// The chart folder `dir`/`name` packaged as a sync would (package::package_chart).
package::Package package_folder(const fs::path& root, const std::string& name, const std::string& version_override = {}) {
  package::PackageInput in;
  in.clone_root = root;
  in.chart_dir = name;
  in.version_override = version_override;
  return package::package_chart(in);
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  write_bytes(path, text);
}

// index.yaml without its volatile fields (`generated`, each entry's `created`), as
// PyYAML reads it: what a rebuilt index must say exactly as the incremental one did.
std::string index_without_times(const fs::path& dir) {
  const char* script =
      "import json, sys, yaml\n"
      "doc = yaml.safe_load(open(sys.argv[1]).read())\n"
      "doc.pop('generated', None)\n"
      "for versions in doc.get('entries', {}).values():\n"
      "    for v in versions: v.pop('created', None)\n"
      "print(json.dumps(doc, sort_keys=True, indent=1))\n";
  return test::run_ok({test::python3(), "-c", script, (dir / "index.yaml").string()});
}

}  // namespace

TEST_CASE("local: an index rebuilt from the packages says exactly what the incremental one said", "[local]") {
  util::TempDir src;
  // Free text Helm sanitizes (a folded block with newlines, a tab, a control
  // character): the package's Chart.yaml carries the sanitized text, and so must
  // both indexes.
  write_text(src.path() / "prose/Chart.yaml",
             "apiVersion: v2\nname: prose\nversion: 1.0.0\n"
             "description: |\n  first line\n  second\tline\n"
             "home: \"https://example.com/\\x01x\"\n"
             "keywords: [\"a\\tb\"]\n"
             "maintainers:\n- name: \"Ann\\nLee\"\n  email: ann@example.com\n");
  write_text(src.path() / "prose/templates/cm.yaml", "kind: ConfigMap\n");
  // apiVersion v1: dependencies live in requirements.yaml, and the index lists them.
  write_text(src.path() / "legacy/Chart.yaml", "apiVersion: v1\nname: legacy\nversion: 0.3.0\ndescription: old style\n");
  write_text(src.path() / "legacy/requirements.yaml",
             "dependencies:\n- name: sub\n  version: \"~1.2.0\"\n  repository: \"\"\n");
  write_text(src.path() / "legacy/charts/sub/Chart.yaml", "apiVersion: v1\nname: sub\nversion: 1.2.3\n");
  write_text(src.path() / "legacy/templates/cm.yaml", "kind: ConfigMap\n");

  auto prose = package_folder(src.path(), "prose");
  auto legacy = package_folder(src.path(), "legacy");
  CHECK(prose.metadata.description == "first line second line ");
  CHECK(prose.metadata.home == "https://example.com/x");
  CHECK(prose.metadata.maintainers.at(0).name == "Ann Lee");
  REQUIRE(legacy.metadata.dependencies.size() == 1);

  util::TempDir repo;
  {
    auto publisher = publish::make_local_publisher(repo.path().string(), "http://h/charts");
    publisher->publish(prose, false);
    publisher->publish(legacy, false);
  }
  const std::string incremental = index_without_times(repo.path());
  CHECK(incremental.find("first line second line ") != std::string::npos);
  CHECK(incremental.find("Ann Lee") != std::string::npos);
  CHECK(incremental.find("\"~1.2.0\"") != std::string::npos);

  fs::remove(repo.path() / "index.yaml");
  publish::make_local_publisher(repo.path().string(), "http://h/charts");
  CHECK(index_without_times(repo.path()) == incremental);
}

TEST_CASE("local: revisions of one version are listed newest first, and real Helm picks the newest",
          "[local][helm]") {
  util::TempDir repo;
  const std::string older = "1.0.0+bbbbbbbbbbbb", newer = "1.0.0+aaaaaaaaaaaa";
  {
    auto publisher = publish::make_local_publisher(repo.path().string(), "");
    // More than 12 versions: past that, Go's sort is not stable, so only an index
    // already in Helm's order keeps equal-precedence revisions where they are.
    for (int patch = 0; patch < 7; ++patch) publisher->publish(make_package("app", "0.1." + std::to_string(patch)), false);
    publisher->publish(make_package("app", older, "old"), false);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (int patch = 7; patch < 14; ++patch) publisher->publish(make_package("app", "0.1." + std::to_string(patch)), false);
    publisher->publish(make_package("app", newer, "new"), false);
  }
  // Newest first among equals, in the file itself...
  auto index = read_index(repo.path());
  const auto& versions = index["entries"]["app"];
  REQUIRE(versions.Size() == 16);
  CHECK(std::string(versions[0]["version"].GetString()) == newer);
  CHECK(std::string(versions[1]["version"].GetString()) == older);

  // ...and as real Helm 3 and 4 read it.
  auto server = test::start_python_peer("static_http_server.py", {"--root", repo.path().string()});
  for (const auto& helm : test::helm_clients()) {
    INFO(helm.name);
    util::TempDir home;
    const std::map<std::string, std::string> env{{"HELM_CONFIG_HOME", (home.path() / "config").string()},
                                                 {"HELM_CACHE_HOME", (home.path() / "cache").string()},
                                                 {"HELM_DATA_HOME", (home.path() / "data").string()}};
    test::run_ok({helm.path, "repo", "add", "cmop", server.url()}, {}, env);
    // Everything that resolves a chart through the index (pull, show, install,
    // dependency update) takes its first version that matches. (`helm search repo`
    // is no judge: it collects versions through a Go map, so among versions of
    // equal precedence its pick is random from run to run, in Helm 3 and 4 alike.)
    CHECK_THAT(test::run_ok({helm.path, "show", "chart", "cmop/app"}, {}, env), Catch::Contains("version: " + newer));
    test::run_ok({helm.path, "pull", "cmop/app", "-d", home.path().string()}, {}, env);
    CHECK(fs::exists(home.path() / ("app-" + newer + ".tgz")));
    CHECK_FALSE(fs::exists(home.path() / ("app-" + older + ".tgz")));
  }
}

TEST_CASE("local: holds() is true only for the very bytes at the url index.yaml would give", "[local]") {
  util::TempDir dir;
  auto pkg = make_package("web", "1.2.0", "one");
  {
    auto publisher = publish::make_local_publisher(dir.path().string(), "https://charts.example/x");
    CHECK_FALSE(publisher->holds(pkg));
    publisher->publish(pkg, false);
    CHECK(publisher->holds(pkg));
    CHECK_FALSE(publisher->holds(make_package("web", "1.2.0", "other bytes")));
    CHECK_FALSE(publisher->holds(make_package("web", "1.3.0", "one")));
  }
  // Served at another URL now: publishing would rewrite the index, so it is not held.
  auto moved = publish::make_local_publisher(dir.path().string(), "https://elsewhere.example");
  CHECK_FALSE(moved->holds(pkg));
  moved->publish(pkg, false);
  CHECK(moved->holds(pkg));
  // A package file changed behind the index's back is not held either.
  std::ofstream(dir.path() / "web-1.2.0.tgz", std::ios::binary) << "tampered";
  CHECK_FALSE(moved->holds(pkg));
}
