#pragma once
// .helmignore with Helm's semantics (pkg/ignore), not git's.
#include <string>
#include <string_view>
#include <vector>

namespace cmop::chart {

class IgnoreRules {
 public:
  // Parses .helmignore text; always adds Helm's default `templates/.?*`.
  // Throws Error(invalid_chart) on a malformed pattern.
  static IgnoreRules parse(std::string_view text);
  static IgnoreRules defaults();

  // `path` is relative to the chart root, '/'-separated. Helm: a pattern with no '/'
  // matches the base name; a trailing '/' matches directories only; '!' negates;
  // the first rule that matches decides (later ones are not consulted).
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
