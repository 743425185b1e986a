// Versions and constraints against Masterminds/semver v3's own test tables (the
// library Helm resolves dependency ranges with), plus cmop's bounds.
#include <catch2/catch.hpp>

#include <string>

#include "cmop/chart/semver.hpp"
#include "cmop/error.hpp"

using namespace cmop;
using namespace cmop::chart;

TEST_CASE("lenient version parsing follows Masterminds NewVersion") {
  struct Case {
    const char* text;
    bool ok;
  };
  const Case cases[] = {
      {"1.2.3", true},           {"1.2.3-alpha.01", false}, {"1.2.3+test.01", true},
      {"1.2.3-alpha.-1", true},  {"v1.2.3", true},          {"1.0", true},
      {"v1.0", true},            {"1", true},               {"v1", true},
      {"1.2.beta", false},       {"v1.2.beta", false},      {"foo", false},
      {"1.2-5", true},           {"v1.2-5", true},          {"1.2-beta.5", true},
      {"\n1.2", false},          {"1.2.0-x.Y.0+metadata", true},
      {"1.2.0-x.Y.0+metadata-width-hypen", true},           {"1.2.3-rc1-with-hypen", true},
      {"1.2.3.4", false},        {"12.3.4.1234", false},    {"20221209-update-renovatejson-v4", true},
      {"1.1.2+.123", false},     {"1.0.0-alpha_beta", false}, {"1.0.0-alpha..", false},
      {"1.0.0-alpha..1", false}, {"9.8.7+meta+meta", false},
      {"1.2.31----RC-SNAPSHOT.12.09.1--.12+788", false},
      {"", false},               {"V1.2.3", false},         {" 1.2.3", false},
      {"1.2.3 ", false},         {"1.2.3-", false},         {"1.2.3+", false},
      {"99999999999999999999.0.0", false},                   {"18446744073709551615.0.0", true},
  };
  for (auto& c : cases) {
    INFO(c.text);
    CHECK(Version::parse(c.text).has_value() == c.ok);
  }
  CHECK_FALSE(Version::parse(std::string(300, '1')).has_value());  // MaxVersionLen
}

TEST_CASE("strict version parsing is SemVer 2 exactly") {
  struct Case {
    const char* text;
    bool ok;
  };
  const Case cases[] = {
      {"1.2.3", true},     {"1.2.3-alpha.01", false}, {"1.2.3+test.01", true}, {"1.2.3-alpha.-1", true},
      {"v1.2.3", false},   {"1.0", false},            {"1", false},            {"1.2-5", false},
      {"01.1.1", false},   {"1.01.1", false},         {"1.1.01", false},       {"1.2.0-x.Y.0+metadata", true},
      {"0.0.0", true},     {"1.2.3-0", true},         {"1.2.3-0123", false},   {"+invalid", false},
      {"-invalid", false}, {"alpha+beta", false},     {"1.2.3.4", false},
  };
  for (auto& c : cases) {
    INFO(c.text);
    CHECK(Version::parse_strict(c.text).has_value() == c.ok);
  }
}

TEST_CASE("normalized string and original text") {
  const std::pair<const char*, const char*> cases[] = {
      {"1.2.3", "1.2.3"},           {"v1.2.3", "1.2.3"},           {"1.0", "1.0.0"},
      {"v1", "1.0.0"},              {"1.2-5", "1.2.0-5"},          {"v1.2-beta.5", "1.2.0-beta.5"},
      {"1.2.0-x.Y.0+metadata", "1.2.0-x.Y.0+metadata"},
      {"01.002.3", "1.2.3"},  // Masterminds' lenient parser drops leading zeros
  };
  for (auto& [in, out] : cases) {
    auto v = Version::parse(in);
    REQUIRE(v);
    CHECK(v->str() == out);
    CHECK(v->original == in);
  }
  auto v = Version::parse("1.2.3-beta.1+build.123");
  REQUIRE(v);
  CHECK(v->major == 1);
  CHECK(v->minor == 2);
  CHECK(v->patch == 3);
  CHECK(v->prerelease == "beta.1");
  CHECK(v->metadata == "build.123");
}

TEST_CASE("precedence follows SemVer 2 and Masterminds Compare") {
  struct Case {
    const char *a, *b;
    int expected;
  };
  const Case cases[] = {
      {"1.2.3", "1.5.1", -1},
      {"2.2.3", "1.5.1", 1},
      {"2.2.3", "2.2.2", 1},
      {"3.2-beta", "3.2-beta", 0},
      {"1.3", "1.1.4", 1},
      {"4.2", "4.2-beta", 1},
      {"4.2-beta", "4.2", -1},
      {"4.2-alpha", "4.2-beta", -1},
      {"4.2-alpha", "4.2-alpha", 0},
      {"4.2-beta.2", "4.2-beta.1", 1},
      {"4.2-beta2", "4.2-beta1", 1},
      {"4.2-beta", "4.2-beta.2", -1},
      {"4.2-beta", "4.2-beta.foo", -1},
      {"4.2-beta.2", "4.2-beta", 1},
      {"4.2-beta.foo", "4.2-beta", 1},
      {"1.2+bar", "1.2+baz", 0},
      {"1.0.0-beta.4", "1.0.0-beta.-2", -1},
      {"1.0.0-beta.-2", "1.0.0-beta.-3", -1},
      {"1.0.0-beta.-3", "1.0.0-beta.5", 1},
      {"7.43.0-SNAPSHOT.99", "7.43.0-SNAPSHOT.103", -1},
      {"7.43.0-SNAPSHOT.FOO", "7.43.0-SNAPSHOT.103", 1},
      {"7.43.0-SNAPSHOT100", "7.43.0-SNAPSHOT99", -1},  // alphanumerics compare as text
      // SemVer 2 spec example chain.
      {"1.0.0-alpha", "1.0.0-alpha.1", -1},
      {"1.0.0-alpha.1", "1.0.0-alpha.beta", -1},
      {"1.0.0-alpha.beta", "1.0.0-beta", -1},
      {"1.0.0-beta", "1.0.0-beta.2", -1},
      {"1.0.0-beta.2", "1.0.0-beta.11", -1},
      {"1.0.0-beta.11", "1.0.0-rc.1", -1},
      {"1.0.0-rc.1", "1.0.0", -1},
      {"v1.0.0", "1.0.0+build", 0},
  };
  for (auto& c : cases) {
    INFO(c.a << " vs " << c.b);
    auto a = Version::parse(c.a), b = Version::parse(c.b);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(compare(*a, *b) == c.expected);
    CHECK(compare(*b, *a) == -c.expected);
  }
}

namespace {
bool check(const char* constraint, const char* version) {
  auto v = Version::parse(version);
  REQUIRE(v);
  return Constraint::parse(constraint).matches(*v);
}
}  // namespace

TEST_CASE("single constraint terms match like Masterminds constraint functions") {
  struct Case {
    const char *c, *v;
    bool ok;
  };
  const Case cases[] = {
      {"=2.0.0", "1.2.3", false}, {"=2.0.0", "2.0.0", true}, {"=2.0", "1.2.3", false}, {"=2.0", "2.0.0", true},
      {"=2.0", "2.0.1", true}, {"4.1", "4.1.0", true}, {"!=4.1.0", "4.1.0", false}, {"!=4.1.0", "4.1.1", true},
      {"!=4.1", "4.1.0", false}, {"!=4.1", "4.1.1", false}, {"!=4.1", "5.1.0-alpha.1", false},
      {"!=4.1-alpha", "4.1.0", true}, {"!=4.1", "5.1.0", true}, {"!=4.1.0", "4.1.1-beta", true},
      {"<11", "0.1.0", true}, {"<11", "11.1.0", false}, {"<1.1", "0.1.0", true}, {"<1.1", "1.1.0", false},
      {"<1.1", "1.1.1", false}, {"<=11", "1.2.3", true}, {"<=11", "12.2.3", false}, {"<=11", "11.2.3", true},
      {"<=1.1", "1.2.3", false}, {"<=1.1", "0.1.0", true}, {"<=1.1", "1.1.0", true}, {"<=1.1", "1.1.1", true},
      {">1.1", "4.1.0", true}, {">1.1", "1.1.0", false}, {">0", "0", false}, {">0", "1", true},
      {">0", "0.0.1-alpha", false}, {">0.0", "0.0.1-alpha", false}, {">0-0", "0.0.1-alpha", false},
      {">0.0-0", "0.0.1-alpha", false}, {">0", "0.0.0-alpha", false}, {">0-0", "0.0.0-alpha", false},
      {">0.0.0-0", "0.0.0-alpha", true}, {">1.2.3-alpha.1", "1.2.3-alpha.2", true},
      {">1.2.3-alpha.1", "1.3.3-alpha.2", true}, {">11", "11.1.0", false}, {">11.1", "11.1.0", false},
      {">11.1", "11.1.1", false}, {">11.1", "11.2.1", true}, {">=11", "11.1.2", true}, {">=11.1", "11.1.2", true},
      {">=11.1", "11.0.2", false}, {">=1.1", "4.1.0", true}, {">=1.1", "1.1.0", true}, {">=1.1", "0.0.9", false},
      {">=0", "0.0.1-alpha", false}, {">=0.0", "0.0.1-alpha", false}, {">=0-0", "0.0.1-alpha", true},
      {">=0.0-0", "0.0.1-alpha", true}, {">=0", "0.0.0-alpha", false}, {">=0-0", "0.0.0-alpha", true},
      {">=0.0.0-0", "0.0.0-alpha", true}, {">=0.0.0-0", "1.2.3", true}, {">=0.0.0-0", "3.4.5-beta.1", true},
      {"<0", "0.0.0-alpha", false}, {"<0-z", "0.0.0-alpha", true}, {">=0", "0", true}, {"=0", "1", false},
      {"*", "1", true}, {"*", "4.5.6", true}, {"*", "1.2.3-alpha.1", false}, {"*-0", "1.2.3-alpha.1", true},
      {"2.*", "1", false}, {"2.*", "3.4.5", false}, {"2.*", "2.1.1", true}, {"2.1.*", "2.1.1", true},
      {"2.1.*", "2.2.1", false}, {"", "1", true}, {"", "4.5.6", true}, {"", "1.2.3-alpha.1", false},
      {"2", "1", false}, {"2", "3.4.5", false}, {"2", "2.1.1", true}, {"2.1", "2.1.1", true},
      {"2.1", "2.2.1", false}, {"~1.2.3", "1.2.4", true}, {"~1.2.3", "1.3.4", false}, {"~1.2", "1.2.4", true},
      {"~1.2", "1.3.4", false}, {"~1", "1.2.4", true}, {"~1", "2.3.4", false}, {"~0.2.3", "0.2.5", true},
      {"~0.2.3", "0.3.5", false}, {"~1.2.3-beta.2", "1.2.3-beta.4", true}, {"~1.2.3-beta.2", "1.2.4-beta.2", true},
      {"~1.2.3-beta.2", "1.3.4-beta.2", false}, {"^1.2.3", "1.8.9", true}, {"^1.2.3", "2.8.9", false},
      {"^1.2.3", "1.2.1", false}, {"^1.1.0", "2.1.0", false}, {"^1.2.0", "2.2.1", false},
      {"^1.2.0", "1.2.1-alpha.1", false}, {"^1.2.0-alpha.0", "1.2.1-alpha.1", true},
      {"^1.2.0-alpha.0", "1.2.1-alpha.0", true}, {"^1.2.0-alpha.2", "1.2.0-alpha.1", false},
      {"^1.2", "1.8.9", true}, {"^1.2", "2.8.9", false}, {"^1", "1.8.9", true}, {"^1", "2.8.9", false},
      {"^0.2.3", "0.2.5", true}, {"^0.2.3", "0.5.6", false}, {"^0.2", "0.2.5", true}, {"^0.2", "0.5.6", false},
      {"^0.0.3", "0.0.3", true}, {"^0.0.3", "0.0.4", false}, {"^0.0", "0.0.3", true}, {"^0.0", "0.1.4", false},
      {"^0.0", "1.0.4", false}, {"^0", "0.2.3", true}, {"^0", "1.1.4", false}, {"^0.2.3-beta.2", "0.2.3-beta.4", true},
      {"^0.2.3-beta.2", "0.2.4-beta.2", true}, {"^0.2.3-beta.2", "0.3.4-beta.2", false},
      {"^0.2.3-beta.2", "0.2.3-beta.2", true},
      // Operator spellings and spacing.
      {">= 1.2", "1.2.0", true}, {"=> 1.2", "1.2.0", true}, {"=< 1.2", "1.2.9", true}, {"<= 1.2", "1.3.0", false},
      {"v1.2", "1.2.7", true}, {"~> 1.2", "1.2.7", true}, {"~>1.2.3", "1.3.0", false}, {"=v1.2.3", "1.2.3", true},
      {"1.2.3+build", "1.2.3", true}, {"x", "7.0.0", true}, {"X.X.X", "7.0.0", true},
  };
  for (auto& c : cases) {
    INFO("constraint \"" << c.c << "\" version " << c.v);
    CHECK(check(c.c, c.v) == c.ok);
  }
}

TEST_CASE("AND, OR and hyphen ranges combine terms like Masterminds") {
  struct Case {
    const char *c, *v;
    bool ok;
  };
  const Case cases[] = {
      {"*", "1.2.3", true}, {"~0.0.0", "1.2.3", true}, {"0.x.x", "1.2.3", false}, {"0.0.x", "1.2.3", false},
      {"0.0.0", "1.2.3", false}, {"^0.0.0", "1.2.3", false}, {"= 2.0", "1.2.3", false}, {"= 2.0", "2.0.0", true},
      {"4.1.x", "4.1.3", true}, {"1.x", "1.4", true}, {"!=4.1-alpha", "4.1.0-alpha", false},
      {"!=4.1-alpha", "4.1.1-alpha", false}, {"!=4.x", "5.1.0", true}, {"!=4.x", "4.1.0", false},
      {"!=4.1.x", "4.2.0", true}, {"!=4.2.x", "4.2.3", false}, {"<1.x", "1.1.1", false}, {"<1.x", "0.1.1", true},
      {"<1.x", "2.0.0", false}, {"<1.1.x", "1.2.1", false}, {"<1.1.x", "1.1.500", false}, {"<1.1.x", "1.0.500", true},
      {"<1.2.x", "1.1.1", true}, {">=1.1", "4.1.0-beta", false}, {"<=1.1", "0.1.0-alpha", false},
      {"<=1.1-a", "0.1.0-alpha", true}, {"<=1.x", "1.1.0", true}, {"<=2.x", "3.0.0", false},
      {"<=1.1.x", "1.2.500", false}, {"<=4.5", "3.4.0", true}, {"<=4.5", "3.7.0", true}, {"<=4.5", "4.6.3", false},
      {">1.1, <2", "1.1.1", false}, {">1.1, <2", "1.2.1", true}, {">1.1, <3", "4.3.2", false},
      {">=1.1, <2, !=1.2.3", "1.2.3", false}, {">1.1 <2", "1.1.1", false}, {">1.1 <2", "1.2.1", true},
      {">1.1    <3", "4.3.2", false}, {">=1.1    <2    !=1.2.3", "1.2.3", false},
      {">=1.1, <2, !=1.2.3 || > 3", "4.1.2", true}, {">=1.1, <2, !=1.2.3 || > 3", "3.1.2", false},
      {">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", true}, {">=1.1, <2, !=1.2.3 || > 3", "3.0.0", false},
      {">=1.1, <2, !=1.2.3 || > 3", "1.2.3", false}, {">=1.1 <2 !=1.2.3 || > 3", "4.1.2", true},
      {"> 1.1, <     2", "1.1.1", false}, {">   1.1, <2", "1.2.1", true}, {">= 1.1 <2 != 1.2.3 || >= 3", "3.0.0", true},
      {"1.1 - 2", "1.1.1", true}, {"1.5.0 - 4.5", "3.7.0", true}, {"1.1-3", "4.3.2", false},
      {"1.0 - 2.0", "2.0.5", true}, {"1.0.0 - 2.0.0", "2.0.1", false},  // "<= 2.0.0" is exact when fully given
      {"3 - 4 || => 3.0, < 4", "4.9.9", true}, {"2 - 3, 4.0.0 - 5.1", "3.5.0", false},
      {"^1.1", "1.1.1", true}, {"^1.1", "4.3.2", false}, {"^1.x", "1.1.1", true}, {"^2.x", "1.1.1", false},
      {"^1.x", "2.1.1", false}, {"^1.x", "1.1.1-beta1", false}, {"^1.1.2-alpha", "1.2.1-beta1", true},
      {"^1.2.x-alpha", "1.1.1-beta1", false}, {"^0.0.1", "0.0.1", true}, {"^0.0.1", "0.3.1", false},
      {"~*", "2.1.1", true}, {"~1", "2.1.1", false}, {"~1", "1.3.5", true}, {"~1", "1.4", true},
      {"~1.x", "2.1.1", false}, {"~1.x", "1.3.5", true}, {"~1.1", "1.1.1", true}, {"~1.1", "1.1.1-alpha", false},
      {"~1.1-alpha", "1.1.1-beta", true}, {"~1.1.1-beta", "1.1.1-alpha", false}, {"~1.1.1-beta", "1.1.1", true},
      {"~1.2.3", "1.2.5", true}, {"~1.2.3", "1.2.2", false}, {"~1.2.3", "1.3.2", false}, {"~1.1", "1.2.3", false},
      {"~1.3", "2.4.5", false}, {"~1 || ^3.2", "3.9.0", true}, {"12.3.34 ~1.2.3", "12.3.34", false},
  };
  for (auto& c : cases) {
    INFO("constraint \"" << c.c << "\" version " << c.v);
    CHECK(check(c.c, c.v) == c.ok);
  }
}

TEST_CASE("malformed constraints are rejected naming the constraint") {
  const char* bad[] = {"foo",         ">= bar",      "BAR >= 1.2.3", "12.3.4.1234", "12.3.34~ 1.2.3",
                       "1.2 ||",      "|| 1.2",      ">1.2.3<2",     ">=1.2.3,,<2", "1.0 -2.0",
                       ">1.0 - 2.0",  ">=0.5 1.0 - 2.0", "1 - 2 3",   "1x",          "1.2.3-01",
                       "~",           "^v",          "1.2 | 1.3",    "1.2.3-",      ">=1.0.0 <2.0.0 ||| 3"};
  for (const char* text : bad) {
    INFO(text);
    try {
      Constraint::parse(text);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::invalid_argument);
      CHECK(e.subject() == text);
      CHECK(e.reason().find("improper constraint") != std::string::npos);
    }
  }
  CHECK_THROWS_AS(Constraint::parse(std::string(5000, '1')), Error);
  CHECK(Constraint::parse(" >= 1.2, < 3 ").text() == " >= 1.2, < 3 ");
}
