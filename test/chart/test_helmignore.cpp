// .helmignore with Helm's pkg/ignore semantics (its rules_test.go table and more).
#include <catch2/catch.hpp>

#include <string>

#include "cmop/chart/helmignore.hpp"
#include "cmop/error.hpp"

using namespace cmop;
using namespace cmop::chart;

namespace {
// Helm's test fixtures: which of these names are directories.
bool fixture_is_dir(const std::string& name) {
  return name == "cargo" || name == "cargo/" || name == "mast/" || name == "." || name == "./" || name == "templates";
}
}  // namespace

TEST_CASE("Helm's rules_test.go table") {
  struct Case {
    const char* pattern;
    const char* name;
    bool ignored;
  };
  const Case cases[] = {
      // Globs.
      {"helm.txt", "helm.txt", true},
      {"helm.*", "helm.txt", true},
      {"helm.*", "rudder.txt", false},
      {"*.txt", "tiller.txt", true},
      {"*.txt", "cargo/a.txt", true},
      {"cargo/*.txt", "cargo/a.txt", true},
      {"cargo/*.*", "cargo/a.txt", true},
      {"cargo/*.txt", "mast/a.txt", false},
      {"ru[c-e]?er.txt", "rudder.txt", true},
      {"templates/.?*", "templates/.dotfile", true},
      // "." is never ignored (helm issue 1776), nor "".
      {".*", ".", false},
      {".*", "./", false},
      {".*", ".joonix", true},
      {".*", "helm.txt", false},
      {".*", "", false},
      // Directories.
      {"cargo/", "cargo", true},
      {"cargo/", "cargo/", true},
      {"cargo/", "mast/", false},
      {"helm.txt/", "helm.txt", false},
      // Negation.
      {"!helm.txt", "helm.txt", false},
      {"!helm.txt", "tiller.txt", true},
      {"!*.txt", "cargo", true},
      {"!cargo/", "mast/", true},
      // Anchored at the chart root.
      {"/a.txt", "a.txt", true},
      {"/a.txt", "cargo/a.txt", false},
      {"/cargo/a.txt", "cargo/a.txt", true},
  };
  for (auto& c : cases) {
    INFO("pattern " << c.pattern << " path " << c.name);
    auto rules = IgnoreRules::parse(c.pattern);
    CHECK(rules.ignored(c.name, fixture_is_dir(c.name)) == c.ignored);
  }
}

TEST_CASE("filepath.Match details") {
  struct Case {
    const char* pattern;
    const char* path;
    bool ignored;
  };
  const Case cases[] = {
      {"*", "a/b", true},             // basename match: "b"
      {"a/*", "a/b/c", false},        // '*' never crosses '/'
      {"a/*/c", "a/b/c", true},
      {"a/?", "a/b", true},
      {"[^a]*.txt", "b.txt", true},   // Go negates classes with '^'
      {"[^a]*.txt", "a.txt", false},
      {"[!a]*.txt", "!x.txt", true},  // '!' is a literal inside a class
      {"\\*.txt", "*.txt", true},     // backslash escapes
      {"\\*.txt", "a.txt", false},
      {"*.[ch]", "x.c", true},
      {"*.[ch]", "x.o", false},
      {"[a-c][0-9]", "b7", true},
      {"secret?", "secrets", true},
      {"caf\xC3\xA9", "caf\xC3\xA9", true},
      {"caf?", "caf\xC3\xA9", true},  // '?' is one rune
      {"*.swp", "deep/dir/x.swp", true},
      {"deep/*.swp", "deep/dir/x.swp", false},
      {"*/x.swp", "dir/x.swp", true},
  };
  for (auto& c : cases) {
    INFO("pattern " << c.pattern << " path " << c.path);
    CHECK(IgnoreRules::parse(c.pattern).ignored(c.path, false) == c.ignored);
  }
}

TEST_CASE("rules are evaluated in order, negations the Helm way") {
  // A matching positive rule wins at once, so a later negation cannot rescue the file.
  auto rules = IgnoreRules::parse("*.txt\n!keep.txt\n");
  CHECK(rules.ignored("keep.txt", false));
  CHECK(rules.ignored("other.txt", false));
  // A negation that does not match ignores the path immediately: "!x" keeps only x.
  CHECK(rules.ignored("values.yaml", false));
  rules = IgnoreRules::parse("!keep.txt\n*.txt\n");
  CHECK(rules.ignored("keep.txt", false));  // passes the negation, then *.txt matches
  CHECK(rules.ignored("Chart.yaml", false));
  rules = IgnoreRules::parse("!*.yaml\n");
  CHECK_FALSE(rules.ignored("Chart.yaml", false));
  CHECK(rules.ignored("README.md", false));
  // A directory-only negation ignores every file.
  rules = IgnoreRules::parse("!templates/\n");
  CHECK(rules.ignored("Chart.yaml", false));
  CHECK_FALSE(rules.ignored("templates", true));
}

TEST_CASE("comments, blank lines, whitespace and the default dotfile rule") {
  auto rules = IgnoreRules::parse("# comment\n\n   \t\n  *.bak  \r\n\t#indented comment\n.git/\n");
  CHECK(rules.ignored("x.bak", false));
  CHECK(rules.ignored(".git", true));
  CHECK_FALSE(rules.ignored(".git", false));
  CHECK_FALSE(rules.ignored("# comment", false));
  // The default is appended after the file's rules.
  CHECK(rules.ignored("templates/.hidden", false));
  CHECK(rules.ignored("templates/.hidden.yaml", false));
  CHECK_FALSE(rules.ignored("templates/visible.yaml", false));
  CHECK_FALSE(rules.ignored("templates/.", false));
  CHECK_FALSE(rules.ignored("templates/sub/.hidden", false));  // only directly under templates/
  auto defaults = IgnoreRules::defaults();
  CHECK(defaults.ignored("templates/.gitkeep", false));
  CHECK_FALSE(defaults.ignored(".helmignore", false));
  CHECK_FALSE(defaults.ignored("Chart.yaml", false));
}

TEST_CASE("malformed patterns are rejected with the line and reason") {
  struct Case {
    const char* text;
    const char* subject;
    const char* reason;
  };
  const Case cases[] = {
      {"foo/**/bar", ".helmignore line 1", "double-star (**) syntax is not supported in \"foo/**/bar\""},
      {"ok\n[z-", ".helmignore line 2", "syntax error in pattern \"[z-\""},
      {"a[", ".helmignore line 1", "syntax error in pattern \"a[\""},
      {"[]a]", ".helmignore line 1", "syntax error in pattern \"[]a]\""},
      {"trailing\\", ".helmignore line 1", "syntax error in pattern \"trailing\\\""},
      {"x\n\n*.[", ".helmignore line 3", "syntax error in pattern \"*.[\""},
      // Syntax is checked even past a mismatch ("abc" is what Helm probes with).
      {"zzz[", ".helmignore line 1", "syntax error in pattern \"zzz[\""},
  };
  for (auto& c : cases) {
    INFO(c.text);
    try {
      IgnoreRules::parse(c.text);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::invalid_chart);
      CHECK(e.subject() == c.subject);
      CHECK(e.reason() == c.reason);
    }
  }
  CHECK_THROWS_AS(IgnoreRules::parse(std::string(70000, 'a')), Error);
}
