// index.yaml parsing and generation, checked against YAML 1.1 (PyYAML reads scalars
// the way go-yaml v2 does, so it catches quoting Helm would misread).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>

#include "cmop/deps/repo_index.hpp"
#include "cmop/error.hpp"
#include "cmop/util/fs.hpp"
#include "support/process.hpp"
#include "support/error_of.hpp"
#include "deps/big_index.hpp"

using namespace cmop;
using cmop::test::error_of;

namespace {

const char* kIndex = R"(apiVersion: v1
entries:
  redis:
  - apiVersion: v2
    name: redis
    version: 1.0.0
    appVersion: "7.0"
    description: "Redis: in-memory store"
    urls: [redis-1.0.0.tgz]
    digest: 1111
    created: "2023-01-01T00:00:00Z"
  - apiVersion: v2
    name: redis
    version: 2.0.0
    appVersion: "7.2"
    urls: [https://cdn.example.com/redis-2.0.0.tgz]
    digest: 2222
    created: "2023-03-01T00:00:00.5Z"
    deprecated: true
    keywords: [cache, db]
    maintainers:
    - name: Jane
      email: jane@example.com
    annotations:
      category: Database
    dependencies:
    - name: common
      version: 1.x.x
      repository: https://charts.example.com
      tags: [infra]
      import-values:
      - data
      - child: exports.x
        parent: x
  - name: redis
    version: 1.5.0-rc.1
    urls: [redis-1.5.0-rc.1.tgz]
  - name: redis
    version: not-a-version
    urls: [broken.tgz]
  - name: redis
    version: 1.1.0
    urls: [redis-1.1.0.tgz]
    removed: true
  - name: redis
    version: 1.0.5
    urls: []
  - null
  empty:
generated: "2023-03-02T00:00:00Z"
)";

std::vector<std::string> versions_of(const deps::RepoIndex& index, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& e : index.entries.at(name)) out.push_back(e.metadata.version);
  return out;
}

deps::IndexEntry entry(const std::string& name, const std::string& version) {
  deps::IndexEntry e;
  e.metadata.api_version = "v2";
  e.metadata.name = name;
  e.metadata.version = version;
  e.urls = {name + "-" + version + ".tgz"};
  e.digest = "d-" + version;
  e.created = "2024-05-06T07:08:09Z";
  return e;
}

}  // namespace

TEST_CASE("index.yaml is parsed with every field, newest version first") {
  auto index = deps::RepoIndex::parse(kIndex, "https://charts.example.com/index.yaml");
  CHECK(index.api_version == "v1");
  CHECK(index.generated == "2023-03-02T00:00:00Z");
  // The unparsable version and the null record are skipped, as Helm does.
  CHECK(versions_of(index, "redis") == std::vector<std::string>{"2.0.0", "1.5.0-rc.1", "1.1.0", "1.0.5", "1.0.0"});
  CHECK(index.entries.at("empty").empty());

  const auto& newest = index.entries.at("redis").front();
  CHECK(newest.metadata.app_version == "7.2");
  CHECK(newest.metadata.deprecated);
  CHECK(newest.metadata.keywords == std::vector<std::string>{"cache", "db"});
  REQUIRE(newest.metadata.maintainers.size() == 1);
  CHECK(newest.metadata.maintainers[0].email == "jane@example.com");
  CHECK(newest.metadata.annotations.at("category") == "Database");
  REQUIRE(newest.metadata.dependencies.size() == 1);
  CHECK(newest.metadata.dependencies[0].tags == std::vector<std::string>{"infra"});
  CHECK(newest.metadata.dependencies[0].import_values.size() == 2);
  CHECK(newest.urls == std::vector<std::string>{"https://cdn.example.com/redis-2.0.0.tgz"});
  CHECK(newest.digest == "2222");
  CHECK(newest.created == "2023-03-01T00:00:00.5Z");

  const auto& oldest = index.entries.at("redis").back();
  CHECK(oldest.metadata.description == "Redis: in-memory store");
  CHECK(index.entries.at("redis")[2].removed);
  CHECK(index.entries.at("redis")[1].metadata.api_version == "v1");  // Helm's default when absent
}

TEST_CASE("malformed index documents are errors naming the origin") {
  const std::string origin = "https://charts.example.com/index.yaml";
  auto bad_yaml = error_of([&] { deps::RepoIndex::parse("apiVersion: v1\nentries: [unclosed", origin); });
  CHECK(bad_yaml.code() == Errc::invalid_argument);
  CHECK(bad_yaml.subject() == origin);
  CHECK(bad_yaml.reason().find("invalid YAML") != std::string::npos);

  CHECK(error_of([&] { deps::RepoIndex::parse("", origin); }).reason() == "empty index.yaml file");
  CHECK(error_of([&] { deps::RepoIndex::parse("- a\n- b\n", origin); }).reason().find("expected a mapping") !=
        std::string::npos);
  CHECK(error_of([&] { deps::RepoIndex::parse("entries: {}\n", origin); }).reason() == "no API version specified");

  auto wrong_type = error_of([&] { deps::RepoIndex::parse("apiVersion: v1\nentries:\n  x: 3\n", origin); });
  CHECK(wrong_type.reason() == "entries.x: expected a list of chart versions");
  auto wrong_field = error_of([&] {
    deps::RepoIndex::parse("apiVersion: v1\nentries:\n  x:\n  - name: x\n    version: 1.0.0\n    urls: {a: b}\n", origin);
  });
  CHECK(wrong_field.subject() == origin);
  CHECK(wrong_field.reason() == "entries.x[0].urls: expected a list of strings");
}

TEST_CASE("to_yaml writes Helm's layout: sorted keys, newest first, go-yaml quoting") {
  deps::RepoIndex index;
  index.generated = "2024-05-06T07:08:09.123Z";
  auto a1 = entry("alpha", "1.0.0");
  a1.metadata.app_version = "1.0";
  a1.metadata.description = "A chart: with colon";
  index.add(a1);
  index.add(entry("alpha", "1.10.0"));
  index.add(entry("alpha", "1.9.0"));
  index.add(entry("zeta", "0.1.0"));

  const std::string expected = R"(apiVersion: v1
entries:
  alpha:
  - apiVersion: v2
    created: "2024-05-06T07:08:09Z"
    digest: d-1.10.0
    name: alpha
    urls:
    - alpha-1.10.0.tgz
    version: 1.10.0
  - apiVersion: v2
    created: "2024-05-06T07:08:09Z"
    digest: d-1.9.0
    name: alpha
    urls:
    - alpha-1.9.0.tgz
    version: 1.9.0
  - apiVersion: v2
    appVersion: "1.0"
    created: "2024-05-06T07:08:09Z"
    description: 'A chart: with colon'
    digest: d-1.0.0
    name: alpha
    urls:
    - alpha-1.0.0.tgz
    version: 1.0.0
  zeta:
  - apiVersion: v2
    created: "2024-05-06T07:08:09Z"
    digest: d-0.1.0
    name: zeta
    urls:
    - zeta-0.1.0.tgz
    version: 0.1.0
generated: "2024-05-06T07:08:09.123Z"
)";
  CHECK(index.to_yaml() == expected);

  deps::RepoIndex empty;
  empty.generated = "2024-01-01T00:00:00Z";
  CHECK(empty.to_yaml() == "apiVersion: v1\nentries: {}\ngenerated: \"2024-01-01T00:00:00Z\"\n");
}

TEST_CASE("index.yaml orders chart names with digits as go-yaml does: app9 before app10") {
  // go-yaml's sorter compares digit runs by value, so `helm repo index` writes
  // app1, app2, app9, app10 (a byte-wise sort would put app10 before app9).
  deps::RepoIndex index;
  index.generated = "2024-01-01T00:00:00Z";
  for (const char* name : {"app10", "app9", "app1", "app2", "app-x", "appx"}) index.add(entry(name, "1.0.0"));
  const std::string yaml = index.to_yaml();
  std::vector<std::size_t> at;
  for (const char* key : {"\n  app-x:\n", "\n  app1:\n", "\n  app2:\n", "\n  app9:\n", "\n  app10:\n", "\n  appx:\n"}) {
    INFO(key << " in\n" << yaml);
    at.push_back(yaml.find(key));
    CHECK(at.back() != std::string::npos);
  }
  INFO(yaml);
  CHECK(std::is_sorted(at.begin(), at.end()));
}

TEST_CASE("index.yaml folds long strings and writes multi-line ones as literal blocks, as Helm does") {
  // The same go-yaml rules as Chart.yaml (test/chart/test_helm_yaml.cpp), four
  // columns further in: continuation lines at the value's indent plus two.
  deps::RepoIndex index;
  index.generated = "2024-01-01T00:00:00Z";
  auto e = entry("app", "1.0.0");
  e.metadata.description =
      "This chart deploys the example application together with its database, cache and ingress configuration for "
      "production use.";
  e.metadata.annotations["notes"] = "line1\nline2\n";
  index.add(e);
  CHECK(index.to_yaml() == R"(apiVersion: v1
entries:
  app:
  - annotations:
      notes: |
        line1
        line2
    apiVersion: v2
    created: "2024-05-06T07:08:09Z"
    description: This chart deploys the example application together with its database,
      cache and ingress configuration for production use.
    digest: d-1.0.0
    name: app
    urls:
    - app-1.0.0.tgz
    version: 1.0.0
generated: "2024-01-01T00:00:00Z"
)");
}

TEST_CASE("parse(to_yaml()) round-trips every field, and YAML 1.1 reads the types Helm expects") {
  auto index = deps::RepoIndex::parse(kIndex, "kIndex");
  auto& tricky = index.entries.at("redis").front().metadata;
  tricky.app_version = "1.10";
  tricky.description = "multi\nline \"quoted\" # not a comment";
  tricky.home = "yes";
  tricky.icon = "'single'";
  tricky.kube_version = ">=1.20.0-0";
  tricky.annotations["artifacthub.io/changes"] = "- kind: added\n  description: x\n";
  tricky.annotations["null-ish"] = "null";
  tricky.type = "application";
  const std::string yaml = index.to_yaml();

  auto again = deps::RepoIndex::parse(yaml, "round-trip");
  CHECK(again.to_yaml() == yaml);
  REQUIRE(again.entries.at("redis").size() == index.entries.at("redis").size());
  const auto& back = again.entries.at("redis").front();
  CHECK(back.metadata.app_version == "1.10");
  CHECK(back.metadata.description == tricky.description);
  CHECK(back.metadata.home == "yes");
  CHECK(back.metadata.icon == "'single'");
  CHECK(back.metadata.kube_version == ">=1.20.0-0");
  CHECK(back.metadata.annotations == tricky.annotations);
  CHECK(back.metadata.deprecated);
  CHECK(back.metadata.dependencies[0].tags == std::vector<std::string>{"infra"});
  CHECK(back.metadata.dependencies[0].import_values.size() == 2);
  CHECK(again.entries.at("redis")[2].removed);

  // Every string Helm reads as a Go string must come back as a YAML string.
  util::TempDir dir;
  std::ofstream(dir.path() / "index.yaml") << yaml;
  const std::string script =
      "import sys, yaml\n"
      "d = yaml.safe_load(open(sys.argv[1]))\n"
      "for name, versions in d['entries'].items():\n"
      "    for v in versions:\n"
      "        for k in ('name','version','appVersion','description','home','icon','kubeVersion','digest','created'):\n"
      "            if k in v: assert isinstance(v[k], str), (k, v[k])\n"
      "        for k, a in v.get('annotations', {}).items(): assert isinstance(a, str), (k, a)\n"
      "        assert isinstance(v['urls'], list)\n"
      "        if 'deprecated' in v: assert v['deprecated'] is True\n"
      "assert isinstance(d['generated'], str)\n"
      "print('ok')\n";
  CHECK(test::run_ok({test::python3(), "-c", script, (dir.path() / "index.yaml").string()}).find("ok") !=
        std::string::npos);
}

TEST_CASE("best_match follows Masterminds constraints") {
  auto index = deps::RepoIndex::parse(kIndex, "kIndex");
  auto pick = [&](const std::string& c) {
    auto m = index.best_match("redis", c);
    return m ? m->metadata.version : std::string("none");
  };
  CHECK(pick("^1.0.0") == "1.0.0");        // 1.1.0 is removed, 1.0.5 has no URL, rc excluded
  CHECK(pick("*") == "2.0.0");
  CHECK(pick("") == "2.0.0");
  CHECK(pick("~1.0.0") == "1.0.0");
  CHECK(pick(">=1.0.0 <2.0.0") == "1.0.0");
  CHECK(pick("^1.5.0-0") == "1.5.0-rc.1");  // a prerelease only when the constraint asks
  CHECK(pick("1.5.0-rc.1") == "1.5.0-rc.1");
  CHECK(pick(">=3.0.0") == "none");
  CHECK_FALSE(index.best_match("unknown", "*").has_value());
  CHECK(error_of([&] { index.best_match("redis", "not a constraint!"); }).code() == Errc::invalid_argument);
}

TEST_CASE("add replaces the same version and remove drops it") {
  deps::RepoIndex index;
  index.add(entry("a", "1.0.0"));
  index.add(entry("a", "2.0.0"));
  auto replacement = entry("a", "1.0.0");
  replacement.digest = "new";
  index.add(replacement);
  CHECK(versions_of(index, "a") == std::vector<std::string>{"2.0.0", "1.0.0"});
  CHECK(index.entries.at("a")[1].digest == "new");

  CHECK(index.remove("a", "2.0.0"));
  CHECK_FALSE(index.remove("a", "2.0.0"));
  CHECK_FALSE(index.remove("b", "1.0.0"));
  CHECK(index.remove("a", "1.0.0"));
  CHECK(index.entries.count("a") == 0);
}

namespace {
// N distinct entry aliases in one anchored list, and M chart names each aliasing
// that list: a few hundred KiB of text that would expand to N*M index entries.
std::string alias_bomb_index(int n, int m) {
  std::string y = "apiVersion: v1\nbomb:\n  e: &e {name: c, version: 1.0.0, urls: [http://x/c.tgz]}\n  l: &l [";
  for (int i = 0; i < n; ++i) y += i ? ",*e" : "*e";
  y += "]\nentries:\n";
  for (int j = 0; j < m; ++j) y += "  c" + std::to_string(j) + ": *l\n";
  return y;
}
}  // namespace

// Issue 11, item 3: an 876 KiB index of aliases expanded until the process was
// OOM-killed. Before the fix this parse built all N*M entries (or died trying).
TEST_CASE("an alias bomb of an index is refused before anything expands", "[limits]") {
  const std::string bomb = alias_bomb_index(30000, 30000);  // ~0.5 MiB of text, 900 million entries
  REQUIRE(bomb.size() < 1u << 20);
  auto started = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(deps::RepoIndex::parse(bomb, "http://h/index.yaml"),
                    Catch::Contains("http://h/index.yaml") && Catch::Contains("excessive aliasing"));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(20));
  // A few aliases, as real indexes may have, are fine.
  CHECK(deps::RepoIndex::parse(alias_bomb_index(3, 3), "ok").entries.size() == 3);
}

TEST_CASE("an index beyond its byte, depth or entry bounds is refused naming the bound", "[limits]") {
  deps::RepoIndex::Limits tight;
  tight.max_bytes = 64;
  CHECK_THROWS_WITH(deps::RepoIndex::parse(kIndex, "i", tight), Catch::Contains("the limit is 64"));

  std::string deep = "apiVersion: v1\nentries: {}\nx: ";
  for (int i = 0; i < 100; ++i) deep += "[";
  for (int i = 0; i < 100; ++i) deep += "]";
  CHECK_THROWS_WITH(deps::RepoIndex::parse(deep, "i"), Catch::Contains("nested deeper than 64 levels"));

  deps::RepoIndex::Limits few;
  few.max_entries = 2;
  CHECK_THROWS_WITH(deps::RepoIndex::parse(kIndex, "i", few), Catch::Contains("more than 2 chart versions"));
  deps::RepoIndex::Limits nodes;
  nodes.max_nodes = 10;
  CHECK_THROWS_WITH(deps::RepoIndex::parse(kIndex, "i", nodes), Catch::Contains("more than 10 nodes"));
}


// Issue 11, item 7: a 100 MB index cost about 2.6 GB per parse (the whole
// document as a yaml-cpp node tree). It is now built entry by entry from parse
// events. The figure the README quotes: CMOP_INDEX_MIB=100 build/test/test_deps "[bigindex]".
TEST_CASE("a big index parses with memory proportional to what is kept", "[limits][bigindex]") {
  const char* env = std::getenv("CMOP_INDEX_MIB");
  const std::size_t mib = env ? std::stoul(env) : 16;
  const std::string text = test::big_index(mib);
  const long before = test::peak_rss_kib();
  const auto started = std::chrono::steady_clock::now();
  auto index = deps::RepoIndex::parse(text, "big");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const long grown_mib = (test::peak_rss_kib() - before) / 1024;
  std::size_t versions = 0;
  for (auto& [n, v] : index.entries) versions += v.size();
  WARN(mib << " MiB index, " << versions << " versions: parsed in " << seconds << " s, peak RSS +" << grown_mib
           << " MiB");
  CHECK(versions > 0);
  CHECK(grown_mib < static_cast<long>(mib) * 6);  // the node tree alone cost ~26x the text
}

// The event-driven parse meets every YAML construct an index can hold; whatever it
// is given, it answers with an index or a cmop::Error, never another exception.
TEST_CASE("odd but valid YAML shapes parse, anything else fails with a cmop::Error", "[limits]") {
  const std::string entry = "{name: a, version: 1.0.0, urls: [a.tgz]}";
  struct Case {
    std::string yaml;
    int versions;  // of chart "a"; -1: a cmop::Error is expected
  };
  const std::vector<Case> cases = {
      {"apiVersion: v1\nentries:\n  a: [" + entry + "]\n", 1},
      // yaml-cpp applies no merge keys (as before): the second record has no name and is skipped.
      {"apiVersion: v1\nx: &e " + entry + "\nentries:\n  a: [*e, {<<: *e, version: 2.0.0}]\n", 1},
      {"apiVersion: v1\nx: &l [" + entry + "]\nentries: {a: *l}\n", 1},
      {"apiVersion: v1\nx: &m {a: [" + entry + "]}\nentries: *m\n", 1},
      {"apiVersion: !!str v1\nentries: !!map {a: !!seq [" + entry + "]}\n", 1},
      {"apiVersion: v1\nentries:\n  a: [~, null, " + entry + "]\n", 1},
      {"apiVersion: v1\nentries:\n  a:\n", 0},
      {"apiVersion: v1\nentries: ~\n", 0},
      {"apiVersion: v1\n? [complex, key]\n: ignored\nentries: {a: [" + entry + "]}\n", 1},
      {"apiVersion: v1\nentries: {a: [" + entry + "]}\n---\napiVersion: v2\n", 1},
      {"apiVersion: v1\nentries: [a]\n", -1},
      {"apiVersion: v1\nentries: {a: {name: a}}\n", -1},
      {"apiVersion: v1\nentries: {a: [scalar]}\n", -1},
      {"apiVersion: [v1]\nentries: {}\n", -1},
      {"entries: {}\n", -1},
      {"- just\n- a list\n", -1},
      {"just a scalar\n", -1},
      {"apiVersion: v1\nentries: {a: [" + entry + "\n", -1},
      {"apiVersion: v1\nentries: {a: *nowhere}\n", -1},
  };
  for (const auto& c : cases) {
    INFO(c.yaml);
    try {
      auto index = deps::RepoIndex::parse(c.yaml, "odd");
      REQUIRE(c.versions >= 0);
      auto it = index.entries.find("a");
      CHECK((it == index.entries.end() ? 0 : static_cast<int>(it->second.size())) == c.versions);
    } catch (const Error& e) {
      INFO(e.what());
      CHECK(c.versions == -1);
    }
  }
}
