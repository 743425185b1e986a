#pragma once
// Semantic versions and Masterminds/semver-compatible constraints (what Helm uses).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cmop::chart {

struct Version {
  std::uint64_t major = 0, minor = 0, patch = 0;
  std::string prerelease;  // without '-'
  std::string metadata;    // without '+'
  std::string original;

  // Strict SemVer 2 (what Chart.yaml `version` must be).
  static std::optional<Version> parse_strict(std::string_view s);
  // Masterminds' lenient form: optional 'v', missing minor/patch allowed.
  static std::optional<Version> parse(std::string_view s);

  std::string str() const;  // normalized "1.2.3-pre+meta"
};

// SemVer 2 precedence (build metadata ignored). <0, 0, >0.
int compare(const Version& a, const Version& b);

class Constraint {
 public:
  // Supports `=`, `!=`, `>`, `<`, `>=`, `<=`, `~`, `~>`, `^`, hyphen ranges `a - b`,
  // `x`/`X`/`*` wildcards, ',' or space for AND, `||` for OR. Throws
  // Error(invalid_argument) naming the constraint when it cannot be parsed.
  static Constraint parse(std::string_view text);

  // Prereleases match only when the constraint mentions a prerelease (Masterminds rule).
  bool matches(const Version& v) const;
  const std::string& text() const { return text_; }

 private:
  struct Term {
    enum class Op { eq, ne, gt, lt, ge, le, tilde, caret, any } op;
    Version v;
    int given_parts = 3;  // how many of major.minor.patch were written (wildcards stop counting)
  };
  std::string text_;
  std::vector<std::vector<Term>> alternatives_;  // OR of ANDs
  bool has_prerelease_ = false;
  static bool term_matches(const Term& t, const Version& v);
  // The terms (ANDed) of `group`, one alternative between "||" of the constraint
  // `text`; sets `has_prerelease` when one names a prerelease.
  static std::vector<Term> parse_alternative(std::string_view text, std::string_view group, bool& has_prerelease);
};

}  // namespace cmop::chart
