#pragma once
// .helmignore with Helm's semantics (pkg/ignore), not git's.
#include <string>
#include <string_view>
#include <vector>

namespace cmop::chart {

class IgnoreRules {
 public:
  // Parses .helmignore text; always adds Helm's default `templates/.?*` after the
  // file's rules.
  // Throws Error(invalid_chart) on a malformed pattern.
  static IgnoreRules parse(std::string_view text);
  static IgnoreRules defaults();

  // `path` is relative to the chart root, '/'-separated. Helm: a pattern with no '/'
  // matches the base name; with a '/' it matches the whole path (filepath.Match, so
  // '*' never crosses '/'); a leading '/' anchors at the chart root; a trailing '/'
  // matches directories only; "**" is rejected. Rules are evaluated in order and
  // evaluation stops at the first decision: a plain rule that matches ignores the
  // path; a '!' rule whose pattern does NOT match ignores the path (Helm's quirk:
  // "!x" means "ignore everything but x" from that point on), and one that matches
  // only lets evaluation go on to the next rule. "" and "." are never ignored.
  bool ignored(std::string_view path, bool is_dir) const;

 private:
  struct Rule {
    std::string pattern;
    bool negate = false;
    bool must_dir = false;
    bool basename_only = false;
  };
  std::vector<Rule> rules_;
};

}  // namespace cmop::chart
