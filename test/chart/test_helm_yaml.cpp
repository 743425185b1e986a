// to_helm_yaml against what `helm package` writes (chartutil.Save -> sigs.k8s.io/yaml
// -> go-yaml v2): key order, omitempty, indentation, quoting and 80-column folding.
#include <catch2/catch.hpp>

#include <string>

#include "cmop/chart/metadata.hpp"
#include "cmop/error.hpp"

using namespace cmop::chart;

namespace {
std::string repackage(const std::string& chart_yaml) { return to_helm_yaml(parse_chart_yaml(chart_yaml, "Chart.yaml")); }
}  // namespace

TEST_CASE("helm create's Chart.yaml packages to the known bytes") {
  const char* source = R"(apiVersion: v2
name: mychart
description: A Helm chart for Kubernetes

# A chart can be either an 'application' or a 'library' chart.
type: application

# This is the chart version.
version: 0.1.0

# This is the version number of the application being deployed.
appVersion: "1.16.0"
)";
  CHECK(repackage(source) ==
        "apiVersion: v2\nappVersion: 1.16.0\ndescription: A Helm chart for Kubernetes\nname: mychart\n"
        "type: application\nversion: 0.1.0\n");
}

TEST_CASE("every field, in go-yaml's key order, with Helm's omitempty rules") {
  const char* source = R"(apiVersion: v2
name: app
version: 1.2.3
kubeVersion: ">=1.22.0-0"
description: An app
type: application
home: https://example.com
icon: https://example.com/icon.png
sources: [https://github.com/example/app]
keywords: [web, database]
maintainers:
  - name: Alice
    email: alice@example.com
  - name: Bob
    url: https://bob.example.com
condition: app.enabled
tags: frontend
appVersion: "2.0"
deprecated: true
annotations:
  b: "1"
  ab: y
  a9: x
  a10: x
  a-b: x
  A: z
dependencies:
  - name: postgresql
    version: ~12.1.0
    repository: https://charts.example.com
    condition: postgresql.enabled
    tags: [db]
    enabled: true
    import-values:
      - data
      - child: default.data
        parent: myimports
    alias: db
  - name: vendored
  - name: disabled
    repository: "@stable"
    version: ^1.2.0
    enabled: false
)";
  CHECK(repackage(source) == R"(annotations:
  A: z
  a-b: x
  a9: x
  a10: x
  ab: "y"
  b: "1"
apiVersion: v2
appVersion: "2.0"
condition: app.enabled
dependencies:
- alias: db
  condition: postgresql.enabled
  enabled: true
  import-values:
  - data
  - child: default.data
    parent: myimports
  name: postgresql
  repository: https://charts.example.com
  tags:
  - db
  version: ~12.1.0
- name: vendored
  repository: ""
- name: disabled
  repository: '@stable'
  version: ^1.2.0
deprecated: true
description: An app
home: https://example.com
icon: https://example.com/icon.png
keywords:
- web
- database
kubeVersion: '>=1.22.0-0'
maintainers:
- email: alice@example.com
  name: Alice
- name: Bob
  url: https://bob.example.com
name: app
sources:
- https://github.com/example/app
tags: frontend
type: application
version: 1.2.3
)");
}

TEST_CASE("strings are quoted exactly where go-yaml v2 quotes them") {
  struct Case {
    const char* value;
    const char* emitted;
  };
  const Case cases[] = {
      // Plain: resolves to a string and has no indicator trouble.
      {"1.16.0", "1.16.0"}, {"0.1.0", "0.1.0"}, {"v1.2", "v1.2"}, {"a#b", "a#b"}, {"a:b", "a:b"},
      {"it's", "it's"}, {"~12.1.0", "~12.1.0"}, {"^1.2", "^1.2"}, {"caf\xC3\xA9", "caf\xC3\xA9"},
      {"yes please", "yes please"}, {"1.2.3-rc.1", "1.2.3-rc.1"}, {"2024-13-01", "2024-13-01"},
      {"1_2.3.4", "1_2.3.4"}, {"100000000000000000000000000000000000000000000", "\"100000000000000000000000000000000000000000000\""},
      // Double-quoted: a plain scalar would resolve to bool, number, null or a timestamp.
      {"1.0", "\"1.0\""}, {"1.10", "\"1.10\""}, {"1", "\"1\""}, {"-1.5", "\"-1.5\""}, {"+1", "\"+1\""},
      {".5", "\".5\""}, {"1e3", "\"1e3\""}, {"0x1F", "\"0x1F\""}, {"0o17", "\"0o17\""}, {"0b101", "\"0b101\""},
      {"08", "\"08\""}, {"1_000", "\"1_000\""}, {"true", "\"true\""}, {"False", "\"False\""}, {"yes", "\"yes\""},
      {"Y", "\"Y\""}, {"no", "\"no\""}, {"on", "\"on\""}, {"OFF", "\"OFF\""}, {"~", "\"~\""}, {"null", "\"null\""},
      {"NULL", "\"NULL\""}, {".inf", "\".inf\""}, {"-.Inf", "\"-.Inf\""}, {".NaN", "\".NaN\""},
      {"2024-01-15", "\"2024-01-15\""}, {"2024-1-5", "\"2024-1-5\""}, {"2001-12-14t21:59:43.10-05:00", "\"2001-12-14t21:59:43.10-05:00\""},
      {"2001-12-14 21:59:43.10", "\"2001-12-14 21:59:43.10\""}, {"1:20", "\"1:20\""}, {"190:20:30.15", "\"190:20:30.15\""},
      {"1e400", "1e400"},  // ParseFloat overflows: go-yaml keeps it a string
      // Single-quoted: plain would be misread as YAML syntax.
      {"-", "'-'"}, {"- a", "'- a'"}, {"*", "'*'"}, {"&anchor", "'&anchor'"}, {"!tag", "'!tag'"}, {"@x", "'@x'"},
      {"%x", "'%x'"}, {"`x", "'`x'"}, {"#c", "'#c'"}, {"a #b", "'a #b'"}, {"a: b", "'a: b'"}, {"a:", "'a:'"},
      {"? x", "'? x'"}, {"[x]", "'[x]'"}, {"{x}", "'{x}'"}, {">=1.0", "'>=1.0'"}, {"|x", "'|x'"},
      {"'q", "'''q'"}, {"\"q", "'\"q'"}, {"---", "'---'"}, {"...x", "'...x'"}, {" lead", "' lead'"},
      {"trail ", "'trail '"}, {"a, b", "a, b"}, {"x [y]", "x [y]"},
      // "<<" is a merge key only to go-yaml's parser; its resolver ('<' has no hint)
      // takes it for a string, so `helm package` writes it plain.
      {"<<", "<<"}, {"<<x", "<<x"},
      // Double-quoted because of characters go-yaml will not write raw.
      {"party \xF0\x9F\x8E\x89", "\"party \\U0001F389\""},
  };
  for (auto& c : cases) {
    INFO("value \"" << c.value << "\"");
    Metadata md;
    md.icon = c.value;  // a sanitized string field; none of these change under sanitizing
    CHECK(to_helm_yaml(md) == std::string("icon: ") + c.emitted + "\n");
  }
}

TEST_CASE("unsanitized strings: control characters, breaks and literal blocks") {
  struct Case {
    const char* value;
    const char* emitted;
  };
  const Case cases[] = {
      {"tab\there", "\"tab\\there\""},
      {"bell\x07", "\"bell\\a\""},
      {"bom\xEF\xBB\xBF", "\"bom\\uFEFF\""},
      {"", "\"\""},
      {"line1\nline2", "|-\n    line1\n    line2"},
      {"line1\nline2\n", "|\n    line1\n    line2\n"},
      {"a\n\nb", "|-\n    a\n\n    b"},
      {"line1 \nline2", "\"line1 \\nline2\""},  // a space before a break rules out block style
      {"trailing\nspace ", "\"trailing\\nspace \""},
      {" indented\nblock", "|2-\n     indented\n    block"},
      {"quote\" and \\", "quote\" and \\"},
  };
  for (auto& c : cases) {
    INFO("value \"" << c.value << "\"");
    Metadata md;
    md.annotations["k"] = c.value;
    std::string expected = std::string("annotations:\n  k: ") + c.emitted;
    if (expected.back() != '\n') expected += '\n';
    CHECK(to_helm_yaml(md) == expected);
  }
  Metadata md;
  md.annotations["k"] = std::string("nul\0x", 5);
  CHECK(to_helm_yaml(md) == "annotations:\n  k: \"nul\\0x\"\n");
  md.annotations["k"] = "\xFF";  // invalid UTF-8 becomes U+FFFD, as encoding/json does
  CHECK(to_helm_yaml(md) == "annotations:\n  k: \xEF\xBF\xBD\n");
  md.annotations = {{"true", "key needs quotes"}, {"multi\nline", "x"}};
  // A multi-line key cannot be a simple key: libyaml writes the "? key : value" form.
  CHECK(to_helm_yaml(md) == "annotations:\n  ? |-\n    multi\n    line\n  : x\n  \"true\": key needs quotes\n");
}

TEST_CASE("Helm sanitizes free-text fields before writing them") {
  Metadata md;
  md.name = "app";
  md.description = "First line.\nSecond\tline.";
  md.keywords = {"a\x01" "b"};
  md.maintainers = {{"Al\u00A0ice", "", ""}};
  md.annotations["note"] = "kept\tas is";
  CHECK(to_helm_yaml(md) ==
        "annotations:\n  note: \"kept\\tas is\"\ndescription: First line. Second line.\nkeywords:\n- ab\n"
        "maintainers:\n- name: Al ice\nname: app\n");
}

TEST_CASE("long strings fold at 80 columns like go-yaml v2") {
  Metadata md;
  md.name = "app";
  md.description =
      "This chart deploys the example application together with its database, cache and ingress configuration for "
      "production use, with sensible defaults and hardened security settings.";
  CHECK(to_helm_yaml(md) ==
        "description: This chart deploys the example application together with its database,\n"
        "  cache and ingress configuration for production use, with sensible defaults and hardened\n"
        "  security settings.\nname: app\n");

  // Folding inside a sequence item mapping indents continuation lines by the item's indent.
  md.description.clear();
  md.maintainers = {{std::string(70, 'n') + " continues past the limit", "", ""}};
  CHECK(to_helm_yaml(md) == "maintainers:\n- name: " + std::string(70, 'n') +
                                " continues\n    past the limit\nname: app\n");

  // A single word longer than the line is never broken; quoted strings fold too.
  md.maintainers.clear();
  md.home = std::string(100, 'h');
  md.icon = "- " + std::string(80, 'i') + " tail";
  CHECK(to_helm_yaml(md) == "home: " + std::string(100, 'h') + "\nicon: '- " + std::string(80, 'i') +
                                "\n  tail'\nname: app\n");
}

TEST_CASE("empty metadata and empty nested values") {
  CHECK(to_helm_yaml(Metadata{}) == "{}\n");
  Metadata md;
  md.maintainers = {{"", "", ""}};
  md.keywords = {""};
  CHECK(to_helm_yaml(md) == "keywords:\n- \"\"\nmaintainers:\n- {}\n");
}

TEST_CASE("to_helm_yaml output parses back to the same metadata") {
  Metadata md;
  md.api_version = "v2";
  md.name = "round-trip";
  md.version = "1.0";
  md.app_version = "1.10";
  md.description = std::string(50, 'd') + " " + std::string(50, 'e') + " '#: quoted? " + std::string(60, 'f');
  md.keywords = {"yes", "", " x ", "- y", "1e3"};
  md.annotations = {{"multi", "line one\nline two\n\n"}, {"esc", "a\tb\x01"}, {"emoji", "\xF0\x9F\x8E\x89"}};
  Dependency d;
  d.name = "dep";
  d.version = ">=1.0.0 <2.0.0";
  d.repository = "oci://registry.example.com/charts";
  d.import_values = {R"("data")", R"({"child":"a","parent":"b"})", R"({"child":1,"parent":null})", "[1.5,true]"};
  d.enabled_set = true;
  d.enabled = true;
  md.dependencies = {d};
  Metadata back = parse_chart_yaml(to_helm_yaml(md), "roundtrip");
  CHECK(back.api_version == md.api_version);
  CHECK(back.name == md.name);
  CHECK(back.version == md.version);
  CHECK(back.app_version == md.app_version);
  CHECK(back.description == md.description);
  CHECK(back.keywords == md.keywords);
  CHECK(back.annotations == md.annotations);
  REQUIRE(back.dependencies.size() == 1);
  CHECK(back.dependencies[0].version == d.version);
  CHECK(back.dependencies[0].repository == d.repository);
  CHECK(back.dependencies[0].import_values == d.import_values);
  CHECK(back.dependencies[0].enabled);
}

TEST_CASE("a keep-chomping block anywhere ends the document as go-yaml does, without \"...\"") {
  // libyaml closes an open-ended |+ scalar with a "..." line; yaml.v2's Marshal never
  // writes it (it clears open_ended before the stream end). Bytes from `helm package`.
  Metadata md;
  md.api_version = "v2";
  md.name = "kept";
  md.version = "1.0.0";
  md.annotations = {{"a", "line\n\n"}, {"b", "after"}};
  CHECK(to_helm_yaml(md) ==
        "annotations:\n  a: |+\n    line\n\n  b: after\napiVersion: v2\nname: kept\nversion: 1.0.0\n");
  md.annotations = {{"a", "line\n\n"}};
  md.type = "x\n\n\n";  // the last key of the document (unsanitized here)
  CHECK(to_helm_yaml(md) ==
        "annotations:\n  a: |+\n    line\n\n" "apiVersion: v2\nname: kept\ntype: |+\n  x\n\n\nversion: 1.0.0\n");
  md.type.clear();
  md.annotations = {{"zz", "\n"}};  // a lone break: "|+" too
  CHECK(to_helm_yaml(md) == "annotations:\n  zz: |2+\n\napiVersion: v2\nname: kept\nversion: 1.0.0\n");
}

TEST_CASE("import-values entries keep their YAML types, as helm package writes them") {
  // The expected text is what `helm package` (Helm 3.17.2 and 4.1.4 alike) writes.
  const std::string chart_yaml = R"(apiVersion: v2
name: iv
version: 0.1.0
dependencies:
  - name: sub
    version: 1.0.0
    repository: ""
    import-values:
      - data
      - "{a: b}"
      - "1"
      - child: 1
        parent: ~
      - {child: x, parent: y, other: [1, 2.50, 'z']}
      - 1234567.5
      - 12345678901234567890
      - 1e21
      - 0.0000001
      - 0x1F
      - -0.0
      - 2001-01-01
      - true
      - ~
      - [a, [b]]
      - '<<'
      - {1: a, 1.5: c, y: d}
      - |+
        kept

)";
  const std::string helm = R"HELM(apiVersion: v2
dependencies:
- import-values:
  - data
  - '{a: b}'
  - "1"
  - child: 1
    parent: null
  - child: x
    other:
    - 1
    - 2.5
    - z
    parent: true
  - 1.2345675e+06
  - 12345678901234567000
  - 1e+21
  - 1e-07
  - 31
  - 0
  - "2001-01-01"
  - true
  - null
  - - a
    - - b
  - <<
  - "1": a
    "1.5": c
    "true": d
  - |+
    kept

  name: sub
  repository: ""
  version: 1.0.0
name: iv
version: 0.1.0
)HELM";
  Metadata md = parse_chart_yaml(chart_yaml, "Chart.yaml");
  CHECK(to_helm_yaml(md) == helm);
  const std::vector<std::string> json = {
      R"("data")", R"("{a: b}")", R"("1")", R"({"child":1,"parent":null})",
      R"({"child":"x","other":[1,2.5,"z"],"parent":true})", "1234567.5", "12345678901234567000", "1e+21", "1e-7",
      "31", "-0", R"("2001-01-01")", "true", "null", R"(["a",["b"]])", R"("\u003c\u003c")",
      R"({"1":"a","1.5":"c","true":"d"})", R"("kept\n\n")"};
  REQUIRE(md.dependencies.size() == 1);
  CHECK(md.dependencies[0].import_values == json);
  // What the package holds reads back to the same entries (but -0, written 0).
  auto read_back = json;
  read_back[10] = "0";
  CHECK(parse_chart_yaml(helm, "Chart.yaml").dependencies[0].import_values == read_back);
}
