// Chart.yaml decoding and Helm's validation rules, including hostile documents.
#include <catch2/catch.hpp>

#include <string>

#include "cmop/chart/metadata.hpp"
#include "cmop/error.hpp"

using namespace cmop;
using namespace cmop::chart;

namespace {

const char* kOrigin = "repo/charts/app/Chart.yaml";

// The reason of the Error thrown by `fn`, checking its code and subject.
template <typename Fn>
std::string error_of(Fn&& fn, Errc code = Errc::invalid_chart, const std::string& subject = kOrigin) {
  try {
    fn();
  } catch (const Error& e) {
    CHECK(e.code() == code);
    CHECK(e.subject() == subject);
    return e.reason();
  }
  FAIL("no error thrown");
  return "";
}

}  // namespace

TEST_CASE("all Chart.yaml fields are decoded") {
  const char* yaml = R"(apiVersion: v2
name: app
home: https://example.com
sources:
  - https://github.com/example/app
version: 1.2.3
description: An app
keywords: [web, "db"]
maintainers:
  - name: Alice
    email: alice@example.com
    url: https://alice.example.com
  - name: Bob
icon: https://example.com/icon.png
condition: app.enabled
tags: frontend
appVersion: "2.0"
deprecated: true
annotations:
  category: Web
  example.com/x: "1"
kubeVersion: ">=1.22.0-0"
type: application
dependencies:
  - name: postgresql
    version: ~12.1.0
    repository: https://charts.example.com
    condition: postgresql.enabled
    tags: [db, backend]
    enabled: false
    import-values:
      - data
      - child: default.data
        parent: myimports
    alias: db
  - name: local
    repository: file://../local
unknownField: {ignored: true}
)";
  Metadata md = parse_chart_yaml(yaml, kOrigin);
  CHECK(md.api_version == "v2");
  CHECK(md.name == "app");
  CHECK(md.home == "https://example.com");
  CHECK(md.sources == std::vector<std::string>{"https://github.com/example/app"});
  CHECK(md.version == "1.2.3");
  CHECK(md.description == "An app");
  CHECK(md.keywords == std::vector<std::string>{"web", "db"});
  REQUIRE(md.maintainers.size() == 2);
  CHECK(md.maintainers[0].name == "Alice");
  CHECK(md.maintainers[0].email == "alice@example.com");
  CHECK(md.maintainers[0].url == "https://alice.example.com");
  CHECK(md.maintainers[1].name == "Bob");
  CHECK(md.icon == "https://example.com/icon.png");
  CHECK(md.condition == "app.enabled");
  CHECK(md.tags == "frontend");
  CHECK(md.app_version == "2.0");
  CHECK(md.deprecated);
  CHECK(md.annotations == std::map<std::string, std::string>{{"category", "Web"}, {"example.com/x", "1"}});
  CHECK(md.kube_version == ">=1.22.0-0");
  CHECK(md.type == "application");
  REQUIRE(md.dependencies.size() == 2);
  const Dependency& pg = md.dependencies[0];
  CHECK(pg.name == "postgresql");
  CHECK(pg.version == "~12.1.0");
  CHECK(pg.repository == "https://charts.example.com");
  CHECK(pg.condition == "postgresql.enabled");
  CHECK(pg.tags == std::vector<std::string>{"db", "backend"});
  CHECK(pg.enabled_set);
  CHECK_FALSE(pg.enabled);
  REQUIRE(pg.import_values.size() == 2);
  CHECK(pg.import_values[0] == R"("data")");
  CHECK(pg.import_values[1] == R"({"child":"default.data","parent":"myimports"})");
  CHECK(pg.alias == "db");
  CHECK(md.dependencies[1].repository == "file://../local");
  CHECK_FALSE(md.dependencies[1].enabled_set);
  CHECK(md.dependencies[1].enabled);
}

TEST_CASE("scalars for string fields keep the text as written") {
  Metadata md = parse_chart_yaml("version: 1.0\nappVersion: 1.10\nname: 007\nkeywords: [1.50, true, ~, 0x1F]\n"
                                 "kubeVersion: 1.2e3\n",
                                 kOrigin);
  CHECK(md.version == "1.0");
  CHECK(md.app_version == "1.10");
  CHECK(md.name == "007");
  CHECK(md.keywords == std::vector<std::string>{"1.50", "true", "", "0x1F"});
  CHECK(md.kube_version == "1.2e3");
}

TEST_CASE("field names match case-insensitively and later keys win, as encoding/json decides") {
  Metadata md = parse_chart_yaml("NAME: first\nApiVersion: v2\nname: second\nAPPVERSION: 3\n", kOrigin);
  CHECK(md.name == "second");
  CHECK(md.api_version == "v2");
  CHECK(md.app_version == "3");
}

TEST_CASE("empty documents, nulls, comments and a byte order mark") {
  CHECK(parse_chart_yaml("", kOrigin).name.empty());
  CHECK(parse_chart_yaml("# only a comment\n", kOrigin).name.empty());
  Metadata md = parse_chart_yaml("\xEF\xBB\xBFname: bom\nkeywords:\nmaintainers: ~\ndeprecated:\n", kOrigin);
  CHECK(md.name == "bom");
  CHECK(md.keywords.empty());
  CHECK(md.maintainers.empty());
  CHECK_FALSE(md.deprecated);
  // Only the first YAML document counts, as with go-yaml.
  CHECK(parse_chart_yaml("name: one\n---\nname: two\n", kOrigin).name == "one");
}

TEST_CASE("wrong types name the field and what was expected") {
  struct Case {
    const char* yaml;
    const char* reason;
  };
  const Case cases[] = {
      {"name: [a]", "field name: expected a string, got a list"},
      {"version: {major: 1}", "field version: expected a string, got a mapping"},
      {"keywords: foo", "field keywords: expected a list of strings, got \"foo\""},
      {"keywords: [a, [b]]", "field keywords[1]: expected a string, got a list"},
      {"sources: {a: b}", "field sources: expected a list of strings, got a mapping"},
      {"maintainers: {name: x}", "field maintainers: expected a list, got a mapping"},
      {"maintainers: [{name: [x]}]", "field maintainers[0].name: expected a string, got a list"},
      {"maintainers: [~]", "field maintainers[0]: maintainers must not contain empty or null nodes"},
      {"maintainers: [x]", "field maintainers[0]: expected a mapping, got \"x\""},
      {"deprecated: \"yes\"", "field deprecated: expected a boolean, got \"yes\""},
      {"deprecated: maybe", "field deprecated: expected a boolean, got \"maybe\""},
      {"annotations: [a]", "field annotations: expected a mapping, got a list"},
      {"annotations: {a: [1]}", "field annotations.a: expected a string, got a list"},
      {"dependencies: x", "field dependencies: expected a list, got \"x\""},
      {"dependencies: [~]", "field dependencies[0]: dependencies must not contain empty or null nodes"},
      {"dependencies: [{name: a, tags: b}]", "field dependencies[0].tags: expected a list of strings, got \"b\""},
      {"dependencies: [{name: a, enabled: 1}]", "field dependencies[0].enabled: expected a boolean, got \"1\""},
      {"dependencies: [{name: a, import-values: x}]",
       "field dependencies[0].import-values: expected a list, got \"x\""},
      // What Helm's YAML-to-JSON step refuses, with its reason.
      {"dependencies: [{name: a, import-values: [.inf]}]",
       "field dependencies[0].import-values[0]: json: unsupported value: +Inf"},
      {"dependencies: [{name: a, import-values: [{child: -.inf}]}]",
       "field dependencies[0].import-values[0]: json: unsupported value: -Inf"},
      {"- a\n- b\n", "expected a YAML mapping at the top level, got a list"},
      {"just text", "expected a YAML mapping at the top level, got \"just text\""},
  };
  for (auto& c : cases) {
    INFO(c.yaml);
    CHECK(error_of([&] { parse_chart_yaml(c.yaml, kOrigin); }) == c.reason);
  }
}

TEST_CASE("malformed YAML reports the position") {
  std::string reason = error_of([] { parse_chart_yaml("name: app\nversion: [1.0\n", kOrigin); });
  CHECK(reason.rfind("invalid YAML at line ", 0) == 0);
  reason = error_of([] { parse_chart_yaml("name: app\n- item\n", kOrigin); });
  CHECK(reason.rfind("invalid YAML at line ", 0) == 0);
}

TEST_CASE("hostile YAML: alias bombs are never expanded") {
  // Nine levels of ten-fold aliases: 10^9 strings if anything expanded them.
  std::string bomb = "lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i <= 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    bomb += "lol" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) bomb += (k ? ", " : "") + prev;
    bomb += "]\n";
  }
  // Helm's decoder (go-yaml v2 behind sigs.k8s.io/yaml) decodes every key, known
  // or not, and gives up on the aliases: the document is refused wherever the bomb is.
  const std::string refused = "yaml: document contains excessive aliasing";
  CHECK(error_of([&] { parse_chart_yaml(bomb + "name: survivor\napiVersion: v2\nversion: 1.0.0\n", kOrigin); }) ==
        refused);
  CHECK(error_of([&] { parse_chart_yaml(bomb + "keywords: *a9\n", kOrigin); }) == refused);
  CHECK(error_of([&] { parse_chart_yaml(bomb + "maintainers: [{name: *a9}]\n", kOrigin); }) == refused);
  // Known fields pointing at a modest alias are still type-checked element by element.
  CHECK(error_of([&] { parse_chart_yaml("small: &s [a, [b]]\nkeywords: *s\n", kOrigin); }) ==
        "field keywords[1]: expected a string, got a list");
}

TEST_CASE("hostile YAML: deep nesting and huge documents are refused") {
  std::string deep_seq = "name: " + std::string(100000, '[');
  CHECK(error_of([&] { parse_chart_yaml(deep_seq, kOrigin); }).rfind("invalid YAML", 0) == 0);
  std::string deep_map = "name: ";
  for (int i = 0; i < 50000; ++i) deep_map += "{a: ";
  CHECK(error_of([&] { parse_chart_yaml(deep_map, kOrigin); }).rfind("invalid YAML", 0) == 0);
  std::string huge = "description: " + std::string(5 * 1024 * 1024, 'x') + "\n";
  CHECK(error_of([&] { parse_chart_yaml(huge, kOrigin); }, Errc::too_large).find("more than") !=
        std::string::npos);
}

namespace {
Metadata valid_metadata() {
  Metadata md;
  md.api_version = "v2";
  md.name = "app";
  md.version = "1.2.3";
  return md;
}
}  // namespace

TEST_CASE("validation accepts what Helm accepts") {
  validate(valid_metadata(), kOrigin);
  for (const char* version : {"1.0", "v1.2.3", "1", "1.2.3-rc.1+build.5", "0.0.0"}) {
    Metadata md = valid_metadata();
    md.version = version;
    INFO(version);
    CHECK_NOTHROW(validate(md, kOrigin));
  }
  for (const char* name : {"my_chart", "Chart.v2", "a", "...", "nginx-ingress"}) {
    Metadata md = valid_metadata();
    md.name = name;
    INFO(name);
    CHECK_NOTHROW(validate(md, kOrigin));
  }
  Metadata md = valid_metadata();
  md.api_version = "v1";
  md.type = "library";
  md.description = "Free text\twith control\x01 characters is sanitized, not refused";
  md.maintainers.push_back({"Alice", "", ""});
  // `helm package` (Helm 3 and 4) packages a maintainer without a name; only lint objects.
  md.maintainers.push_back({"", "bob@example.com", ""});
  md.maintainers.push_back({"", "", "https://example.com/only-a-url"});
  Dependency a;
  a.name = "redis";
  Dependency b;
  b.name = "redis";
  b.alias = "cache_2-b";
  md.dependencies = {a, b};
  CHECK_NOTHROW(validate(md, kOrigin));
}

TEST_CASE("validation names the first rule violated") {
  struct Case {
    const char* what;
    void (*mutate)(Metadata&);
    const char* reason;
  };
  const Case cases[] = {
      {"no apiVersion", [](Metadata& m) { m.api_version.clear(); }, "chart.metadata.apiVersion is required"},
      {"apiVersion v3", [](Metadata& m) { m.api_version = "v3"; },
       "chart.metadata.apiVersion \"v3\" is not valid: it must be \"v1\" or \"v2\""},
      {"no name", [](Metadata& m) { m.name.clear(); }, "chart.metadata.name is required"},
      {"name ..", [](Metadata& m) { m.name = ".."; }, "chart.metadata.name \"..\" is not allowed"},
      {"name .", [](Metadata& m) { m.name = "."; }, "chart.metadata.name \".\" is not allowed"},
      {"name with /", [](Metadata& m) { m.name = "../etc"; },
       "chart.metadata.name \"../etc\" is invalid: it must not contain path separators"},
      {"name trailing /", [](Metadata& m) { m.name = "app/"; },
       "chart.metadata.name \"app/\" is invalid: it must not contain path separators"},
      {"name with backslash", [](Metadata& m) { m.name = "a\\b"; },
       "chart.metadata.name \"a\\\\b\" is invalid: it must not contain path separators"},
      {"name with tab", [](Metadata& m) { m.name = "a\tb"; },
       "chart.metadata.name \"a\\x09b\" is invalid: it contains control, non-printable or non-ASCII space characters"},
      {"name with zero-width space", [](Metadata& m) { m.name = "a\xE2\x80\x8B"; },
       "chart.metadata.name \"a\xE2\x80\x8B\" is invalid: it contains control, non-printable or non-ASCII space "
       "characters"},
      {"no version", [](Metadata& m) { m.version.clear(); }, "chart.metadata.version is required"},
      {"bad version", [](Metadata& m) { m.version = "1.2.3.4"; },
       "chart.metadata.version \"1.2.3.4\" is invalid: not a semantic version"},
      {"version with leading-zero prerelease", [](Metadata& m) { m.version = "1.0.0-01"; },
       "chart.metadata.version \"1.0.0-01\" is invalid: not a semantic version"},
      {"bad type", [](Metadata& m) { m.type = "app"; },
       "chart.metadata.type must be application or library, not \"app\""},
      {"unnamed dependency", [](Metadata& m) { m.dependencies.resize(1); },
       "dependencies[0].name is required"},
      {"dependency name with /", [](Metadata& m) {
         m.dependencies.resize(1);
         m.dependencies[0].name = "a/b";
       },
       "dependencies[0].name \"a/b\" is invalid: it must not contain path separators"},
      {"bad alias", [](Metadata& m) {
         m.dependencies.resize(1);
         m.dependencies[0].name = "redis";
         m.dependencies[0].alias = "my.cache";
       },
       "dependency \"redis\" has disallowed characters in the alias \"my.cache\" (allowed: letters, digits, '_' and "
       "'-')"},
      {"duplicate names", [](Metadata& m) {
         m.dependencies.resize(2);
         m.dependencies[0].name = m.dependencies[1].name = "redis";
       },
       "more than one dependency with name or alias \"redis\""},
      {"alias clashing with a name", [](Metadata& m) {
         m.dependencies.resize(2);
         m.dependencies[0].name = "cache";
         m.dependencies[1].name = "redis";
         m.dependencies[1].alias = "cache";
       },
       "more than one dependency with name or alias \"cache\""},
  };
  for (auto& c : cases) {
    INFO(c.what);
    Metadata md = valid_metadata();
    c.mutate(md);
    CHECK(error_of([&] { validate(md, kOrigin); }) == c.reason);
  }
}

TEST_CASE("sanitize_string mirrors Helm's sanitizeString") {
  CHECK(sanitize_string("plain text") == "plain text");
  CHECK(sanitize_string("a\tb\nc\r\nd") == "a b c  d");
  CHECK(sanitize_string("bell\x07gone") == "bellgone");
  CHECK(sanitize_string("nb\xC2\xA0sp") == "nb sp");           // U+00A0 is a space
  CHECK(sanitize_string("zw\xE2\x80\x8Bsp") == "zwsp");        // U+200B is a format character
  CHECK(sanitize_string("caf\xC3\xA9 \xF0\x9F\x8E\x89") == "caf\xC3\xA9 \xF0\x9F\x8E\x89");
  CHECK(sanitize_string("bad\xFFutf8") == "bad\xEF\xBF\xBDutf8");  // invalid byte -> U+FFFD
  CHECK(sanitize_string("del\x7F") == "del");
}

TEST_CASE("what go-yaml's reader refuses, anywhere in the file, is refused with its reason") {
  // Helm: "cannot load Chart.yaml: error converting YAML to JSON: yaml: <reason>".
  struct Case {
    std::string bytes;
    std::string reason;
  };
  const std::string head = "apiVersion: v2\nname: app\nversion: 1.0.0\n";
  const Case cases[] = {
      {"description: a\x7F" "b\n", "invalid YAML at line 4, column 15: control characters are not allowed"},
      {"description: a\x01" "b\n", "invalid YAML at line 4, column 15: control characters are not allowed"},
      {"description: a\x1B" "b\n", "invalid YAML at line 4, column 15: control characters are not allowed"},
      {"# a comment \x7F\n", "invalid YAML at line 4, column 13: control characters are not allowed"},
      {"description: \xC2\x80\n", "invalid YAML at line 4, column 14: control characters are not allowed"},
      {"description: \xEF\xBF\xBE\n", "invalid YAML at line 4, column 14: control characters are not allowed"},
      {std::string("description: a\0b\n", 17), "invalid YAML at line 4, column 15: control characters are not allowed"},
      {"description: a\xFF" "b\n", "invalid YAML at line 4, column 15: invalid leading UTF-8 octet"},
      {"description: a\xC3" "b\n", "invalid YAML at line 4, column 16: invalid trailing UTF-8 octet"},
      {"description: \xC0\x80\n", "invalid YAML at line 4, column 14: invalid length of a UTF-8 sequence"},
      {"description: \xED\xA0\x80\n", "invalid YAML at line 4, column 14: invalid Unicode character"},
      {"description: \xF4\x90\x80\x80\n", "invalid YAML at line 4, column 14: invalid Unicode character"},
      {"description: a\xE2\x82", "invalid YAML at line 4, column 15: incomplete UTF-8 octet sequence"},
  };
  for (const auto& c : cases) {
    INFO(c.reason);
    CHECK(error_of([&] { parse_chart_yaml(head + c.bytes, kOrigin); }) == c.reason);
  }
  // What go-yaml reads: tabs, CR LF, a BOM first and inside, private use, U+FFFD, astral planes.
  for (const std::string ok : {"description: a\tb\r\n", "description: a\xEF\xBB\xBF" "b\n",
                               "description: \xEE\x80\x80 \xEF\xBF\xBD \xF0\x9F\x8E\x89\n"}) {
    CHECK_NOTHROW(parse_chart_yaml("\xEF\xBB\xBF" + head + ok, kOrigin));
  }
  // requirements.yaml is read by the same reader.
  Metadata md = parse_chart_yaml(head, kOrigin);
  CHECK(error_of([&] { apply_requirements_yaml(md, "dependencies:\n- name: a\x7F\n", kOrigin); }) ==
        "cannot load requirements.yaml: invalid YAML at line 2, column 10: control characters are not allowed");
}
