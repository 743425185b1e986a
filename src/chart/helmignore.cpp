// .helmignore exactly as Helm's pkg/ignore evaluates it (rules.go), with Go's
// path/filepath.Match as the glob engine (Unix flavour: '\\' escapes).
#include "cmop/chart/helmignore.hpp"

#include "cmop/error.hpp"

namespace cmop::chart {
namespace {

// bufio.Scanner's default token limit: Helm fails on longer lines, so do we.
constexpr std::size_t kMaxLineBytes = 64 * 1024;
constexpr std::size_t kMaxRules = 10000;

struct BadPattern {};

// One rune of s at i (invalid UTF-8 decodes as U+FFFD of width 1, like Go).
std::pair<char32_t, std::size_t> rune_at(std::string_view s, std::size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return {c, 1};
  int w = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (w == 0 || i + w > s.size()) return {0xFFFD, 1};
  char32_t r = w == 2 ? (c & 0x1F) : w == 3 ? (c & 0x0F) : (c & 0x07);
  for (int k = 1; k < w; ++k) {
    unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return {0xFFFD, 1};
    r = (r << 6) | (cc & 0x3F);
  }
  return {r, static_cast<std::size_t>(w)};
}

// getEsc: one (possibly escaped) character of a class range.
char32_t get_esc(std::string_view& chunk) {
  if (chunk.empty() || chunk[0] == '-' || chunk[0] == ']') throw BadPattern{};
  if (chunk[0] == '\\') {
    chunk.remove_prefix(1);
    if (chunk.empty()) throw BadPattern{};
  }
  auto [r, n] = rune_at(chunk, 0);
  bool invalid = r == 0xFFFD && n == 1 && static_cast<unsigned char>(chunk[0]) >= 0x80;
  chunk.remove_prefix(n);
  if (invalid || chunk.empty()) throw BadPattern{};
  return r;
}

// scanChunk: leading stars, then the chunk up to the next unbracketed '*'.
void scan_chunk(std::string_view& pattern, bool& star, std::string_view& chunk) {
  star = false;
  while (!pattern.empty() && pattern[0] == '*') {
    pattern.remove_prefix(1);
    star = true;
  }
  bool in_range = false;
  std::size_t i = 0;
  for (; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\') {
      if (i + 1 < pattern.size()) ++i;
    } else if (c == '[') {
      in_range = true;
    } else if (c == ']') {
      in_range = false;
    } else if (c == '*' && !in_range) {
      break;
    }
  }
  chunk = pattern.substr(0, i);
  pattern.remove_prefix(i);
}

// matchChunk: matches chunk at the start of s; keeps checking pattern syntax after a
// mismatch so malformed patterns always fail the same way.
bool match_chunk(std::string_view chunk, std::string_view s, std::string_view& rest) {
  bool failed = false;
  while (!chunk.empty()) {
    if (!failed && s.empty()) failed = true;
    char c = chunk[0];
    if (c == '[') {
      char32_t r = 0;
      if (!failed) {
        auto [rr, n] = rune_at(s, 0);
        r = rr;
        s.remove_prefix(n);
      }
      chunk.remove_prefix(1);
      bool negated = false;
      if (!chunk.empty() && chunk[0] == '^') {
        negated = true;
        chunk.remove_prefix(1);
      }
      bool match = false;
      int nrange = 0;
      while (true) {
        if (!chunk.empty() && chunk[0] == ']' && nrange > 0) {
          chunk.remove_prefix(1);
          break;
        }
        char32_t lo = get_esc(chunk), hi = lo;
        if (chunk[0] == '-') {
          chunk.remove_prefix(1);
          hi = get_esc(chunk);
        }
        if (lo <= r && r <= hi) match = true;
        ++nrange;
      }
      if (match == negated) failed = true;
    } else if (c == '?') {
      if (!failed) {
        if (s[0] == '/') failed = true;
        s.remove_prefix(rune_at(s, 0).second);
      }
      chunk.remove_prefix(1);
    } else {
      if (c == '\\') {
        chunk.remove_prefix(1);
        if (chunk.empty()) throw BadPattern{};
      }
      if (!failed) {
        if (chunk[0] != s[0]) failed = true;
        s.remove_prefix(1);
      }
      chunk.remove_prefix(1);
    }
  }
  if (failed) return false;
  rest = s;
  return true;
}

// Go's path/filepath.Match with '/' as the separator. Throws BadPattern.
bool go_match(std::string_view pattern, std::string_view name) {
  while (!pattern.empty()) {
    bool star;
    std::string_view chunk;
    scan_chunk(pattern, star, chunk);
    if (star && chunk.empty()) return name.find('/') == std::string_view::npos;
    std::string_view t;
    bool ok = match_chunk(chunk, name, t);
    if (ok && (t.empty() || !pattern.empty())) {
      name = t;
      continue;
    }
    bool advanced = false;
    if (star) {
      for (std::size_t i = 0; i < name.size() && name[i] != '/'; ++i) {
        if (match_chunk(chunk, name.substr(i + 1), t)) {
          if (pattern.empty() && !t.empty()) continue;
          name = t;
          advanced = true;
          break;
        }
      }
    }
    if (advanced) continue;
    while (!pattern.empty()) {
      scan_chunk(pattern, star, chunk);
      std::string_view ignored_rest;
      match_chunk(chunk, "", ignored_rest);
    }
    return false;
  }
  return name.empty();
}

bool go_match_noexcept(std::string_view pattern, std::string_view name) {
  try {
    return go_match(pattern, name);
  } catch (const BadPattern&) {
    return false;  // Helm logs and treats a matcher error as "no match"
  }
}

// filepath.Base for '/'-separated relative paths.
std::string_view base_name(std::string_view p) {
  if (p.empty()) return ".";
  while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  if (p == "/") return p;
  auto slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

// strings.TrimSpace (ASCII white space plus NEL and NBSP, which is what appears in practice).
std::string_view trim_space(std::string_view s) {
  auto is_sp = [](std::string_view t, std::size_t i, bool from_end) -> std::size_t {
    unsigned char c = static_cast<unsigned char>(from_end ? t[t.size() - 1] : t[i]);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') return 1;
    if (from_end) {
      if (t.size() >= 2 && static_cast<unsigned char>(t[t.size() - 2]) == 0xC2 &&
          (c == 0x85 || c == 0xA0))
        return 2;
    } else if (c == 0xC2 && t.size() >= 2) {
      unsigned char d = static_cast<unsigned char>(t[1]);
      if (d == 0x85 || d == 0xA0) return 2;
    }
    return 0;
  };
  while (!s.empty()) {
    std::size_t n = is_sp(s, 0, false);
    if (!n) break;
    s.remove_prefix(n);
  }
  while (!s.empty()) {
    std::size_t n = is_sp(s, 0, true);
    if (!n) break;
    s.remove_suffix(n);
  }
  return s;
}

}  // namespace

IgnoreRules IgnoreRules::defaults() { return parse(""); }

IgnoreRules IgnoreRules::parse(std::string_view text) {
  IgnoreRules rules;
  auto add = [&](std::string_view line, std::size_t line_no) {
    std::string_view rule = trim_space(line);
    if (rule.empty() || rule.front() == '#') return;
    auto where = [&] { return ".helmignore line " + std::to_string(line_no); };
    if (rule.find("**") != std::string_view::npos)
      throw Error(Errc::invalid_chart, where(), "double-star (**) syntax is not supported in \"" + std::string(rule) + "\"");
    try {
      go_match(rule, "abc");
    } catch (const BadPattern&) {
      throw Error(Errc::invalid_chart, where(), "syntax error in pattern \"" + std::string(rule) + "\"");
    }
    if (rules.rules_.size() >= kMaxRules)
      throw Error(Errc::too_large, ".helmignore", "more than " + std::to_string(kMaxRules) + " rules");
    Rule r;
    if (rule.front() == '!') {
      r.negate = true;
      rule.remove_prefix(1);
    }
    if (!rule.empty() && rule.back() == '/') {
      r.must_dir = true;
      rule.remove_suffix(1);
    }
    if (!rule.empty() && rule.front() == '/') {
      rule.remove_prefix(1);  // anchored at the chart root: match the whole path
    } else if (rule.find('/') == std::string_view::npos) {
      r.basename_only = true;
    }
    r.pattern = std::string(rule);
    rules.rules_.push_back(std::move(r));
  };

  std::size_t line_no = 0, start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    ++line_no;
    if (line.size() > kMaxLineBytes)
      throw Error(Errc::invalid_chart, ".helmignore line " + std::to_string(line_no),
                  "line is longer than " + std::to_string(kMaxLineBytes) + " bytes");
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    add(line, line_no);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  // Helm's AddDefaults: ignore dotfiles directly under templates/.
  Rule dotfiles;
  dotfiles.pattern = "templates/.?*";
  rules.rules_.push_back(std::move(dotfiles));
  return rules;
}

bool IgnoreRules::ignored(std::string_view path, bool is_dir) const {
  if (path.empty() || path == "." || path == "./") return false;
  for (const Rule& r : rules_) {
    std::string_view subject = r.basename_only ? base_name(path) : path;
    if (r.negate) {
      if (r.must_dir && !is_dir) return true;
      if (!go_match_noexcept(r.pattern, subject)) return true;
      continue;
    }
    if (r.must_dir && !is_dir) continue;
    if (go_match_noexcept(r.pattern, subject)) return true;
  }
  return false;
}

}  // namespace cmop::chart
