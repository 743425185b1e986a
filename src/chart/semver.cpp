// SemVer parsing and Masterminds/semver v3 constraint semantics (the library Helm
// uses to validate chart versions and resolve dependency ranges).
#include "cmop/chart/semver.hpp"

#include <algorithm>
#include <limits>

#include "cmop/error.hpp"

namespace cmop::chart {
namespace {

// Masterminds caps version strings (MaxVersionLen) so hostile input cannot make
// parsing allocate without bound; constraints get a proportionate cap.
constexpr std::size_t kMaxVersionLength = 256;
constexpr std::size_t kMaxConstraintLength = 4096;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}
bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_digit(c)) return false;
  return true;
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (!all_digits(s)) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// Dot-separated identifiers of [0-9A-Za-z-]+; for prereleases, numeric identifiers
// must not have leading zeros (Masterminds' ErrSegmentStartsZero).
bool valid_identifiers(std::string_view s, bool prerelease) {
  if (s.empty()) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = s.find('.', start);
    std::string_view part = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty()) return false;
    for (char c : part)
      if (!is_ident_char(c)) return false;
    if (prerelease && all_digits(part) && part.size() > 1 && part[0] == '0') return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// Splits "core[-pre][+meta]" where core is up to the first '-' or '+'.
struct Pieces {
  std::string_view core, pre, meta;
  bool has_pre = false, has_meta = false;
};
Pieces split_pieces(std::string_view s) {
  Pieces p;
  std::size_t plus = s.find('+');
  if (plus != std::string_view::npos) {
    p.has_meta = true;
    p.meta = s.substr(plus + 1);
    s = s.substr(0, plus);
  }
  std::size_t dash = s.find('-');
  if (dash != std::string_view::npos) {
    p.has_pre = true;
    p.pre = s.substr(dash + 1);
    s = s.substr(0, dash);
  }
  p.core = s;
  return p;
}

std::optional<Version> parse_version(std::string_view s, bool strict) {
  if (s.empty() || s.size() > kMaxVersionLength) return std::nullopt;
  Version v;
  v.original = std::string(s);
  std::string_view body = s;
  if (!strict && body.front() == 'v') body.remove_prefix(1);
  Pieces p = split_pieces(body);
  if (p.has_pre && !valid_identifiers(p.pre, true)) return std::nullopt;
  if (p.has_meta && !valid_identifiers(p.meta, false)) return std::nullopt;

  std::uint64_t parts[3] = {0, 0, 0};
  std::size_t count = 0, start = 0;
  while (true) {
    if (count == 3) return std::nullopt;  // a fourth segment
    std::size_t dot = p.core.find('.', start);
    std::string_view seg = p.core.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    auto n = parse_u64(seg);
    if (!n) return std::nullopt;
    if (strict && seg.size() > 1 && seg[0] == '0') return std::nullopt;
    parts[count++] = *n;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (strict && count != 3) return std::nullopt;
  v.major = parts[0];
  v.minor = parts[1];
  v.patch = parts[2];
  v.prerelease = std::string(p.pre);
  v.metadata = std::string(p.meta);
  return v;
}

// SemVer 2 §11: identifiers compared left to right; numeric ones numerically and
// below alphanumeric ones; a longer list wins when all shared fields are equal.
// Masterminds treats digit strings that overflow uint64 as alphanumeric.
int compare_prerelease(std::string_view a, std::string_view b) {
  std::size_t ia = 0, ib = 0;
  while (true) {
    bool end_a = ia > a.size(), end_b = ib > b.size();
    if (end_a || end_b) return end_a == end_b ? 0 : (end_a ? -1 : 1);
    std::size_t da = a.find('.', ia), db = b.find('.', ib);
    std::string_view pa = a.substr(ia, da == std::string_view::npos ? std::string_view::npos : da - ia);
    std::string_view pb = b.substr(ib, db == std::string_view::npos ? std::string_view::npos : db - ib);
    ia = da == std::string_view::npos ? a.size() + 1 : da + 1;
    ib = db == std::string_view::npos ? b.size() + 1 : db + 1;
    if (pa == pb) continue;
    auto na = parse_u64(pa), nb = parse_u64(pb);
    if (na && nb) return *na < *nb ? -1 : 1;
    if (na) return -1;
    if (nb) return 1;
    return pa < pb ? -1 : 1;
  }
}

int cmp_u64(std::uint64_t a, std::uint64_t b) { return a < b ? -1 : (a > b ? 1 : 0); }

}  // namespace

std::optional<Version> Version::parse_strict(std::string_view s) { return parse_version(s, true); }
std::optional<Version> Version::parse(std::string_view s) { return parse_version(s, false); }

std::string Version::str() const {
  std::string out = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  if (!prerelease.empty()) out += "-" + prerelease;
  if (!metadata.empty()) out += "+" + metadata;
  return out;
}

int compare(const Version& a, const Version& b) {
  if (int d = cmp_u64(a.major, b.major)) return d;
  if (int d = cmp_u64(a.minor, b.minor)) return d;
  if (int d = cmp_u64(a.patch, b.patch)) return d;
  if (a.prerelease.empty() && b.prerelease.empty()) return 0;
  if (a.prerelease.empty()) return 1;
  if (b.prerelease.empty()) return -1;
  return compare_prerelease(a.prerelease, b.prerelease);
}

// ---------------------------------------------------------------------------
// Constraints. Grammar (what Masterminds' validConstraintRegex accepts):
//   constraint := and-group ( "||" and-group )*
//   and-group  := term ( (ws+ | ws* "," ws*) term )*
//   term       := ws* op? ws* cv ws*
//   cv         := "v"? seg ("." seg ("." seg)?)? ("-" ids)? ("+" ids)?,  seg := digits | x | X | *
// and before that, "a - b" (whitespace on both sides of '-') is rewritten to ">= a, <= b".
// A wildcard or missing segment makes the term "dirty": `=`/bare become `~`, and the
// comparison operators compare only the segments that were given.

namespace {

struct Cursor {
  std::string_view s;
  std::size_t i = 0;
  bool at_end() const { return i >= s.size(); }
  char peek(std::size_t k = 0) const { return i + k < s.size() ? s[i + k] : '\0'; }
  bool skip_ws() {
    std::size_t start = i;
    while (!at_end() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' || s[i] == '\v')) ++i;
    return i != start;
  }
};

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// A constraint version as written: "v"? seg(.seg(.seg)?)? (-pre)? (+meta)?
struct RawCv {
  std::string_view text;
  std::string_view segs[3];
  int seg_count = 0;
  std::string_view pre;  // without '-'
  bool has_pre = false;
};

bool is_seg_char(char c) { return is_digit(c) || c == 'x' || c == 'X' || c == '*'; }

std::optional<RawCv> scan_cv(Cursor& c) {
  RawCv cv;
  std::size_t start = c.i;
  if (c.peek() == 'v') ++c.i;
  for (int k = 0; k < 3; ++k) {
    if (k > 0) {
      if (c.peek() != '.' || !is_seg_char(c.peek(1))) break;
      ++c.i;
    }
    std::size_t seg_start = c.i;
    while (!c.at_end() && is_seg_char(c.s[c.i])) ++c.i;
    if (c.i == seg_start) return std::nullopt;
    cv.segs[k] = c.s.substr(seg_start, c.i - seg_start);
    cv.seg_count = k + 1;
  }
  auto scan_ids = [&](std::string_view& out) {
    std::size_t ids_start = c.i;
    while (!c.at_end() && (is_ident_char(c.s[c.i]) || c.s[c.i] == '.')) ++c.i;
    out = c.s.substr(ids_start, c.i - ids_start);
    return !out.empty();
  };
  if (c.peek() == '-' && is_ident_char(c.peek(1))) {
    ++c.i;
    cv.has_pre = true;
    if (!scan_ids(cv.pre)) return std::nullopt;
  }
  if (c.peek() == '+') {
    ++c.i;
    std::string_view meta;
    if (!scan_ids(meta)) return std::nullopt;
  }
  cv.text = c.s.substr(start, c.i - start);
  return cv;
}

bool is_wild(std::string_view seg) { return seg == "x" || seg == "X" || seg == "*"; }

[[noreturn]] void improper(std::string_view text, const std::string& why) {
  throw Error(Errc::invalid_argument, std::string(text), "improper constraint: " + why);
}

bool is_blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char ch) { return is_ws(ch); });
}

// Moves past what separates a term from the one before (none before the first):
// whitespace, or a ',' with optional whitespace around it. False at the end of
// the alternative `group` of `text`; `after_comma` says whether a ',' was passed.
bool scan_separator(Cursor& c, std::string_view text, bool first, bool& after_comma) {
  after_comma = false;
  const bool had_ws = c.skip_ws();
  if (c.at_end()) {
    if (first) improper(text, "empty alternative in \"" + std::string(c.s) + "\"");
    return false;
  }
  if (first) return true;
  if (c.peek() == ',') {
    ++c.i;
    c.skip_ws();
    after_comma = true;
  } else if (!had_ws) {
    improper(text, "expected ',' or whitespace before \"" + std::string(c.s.substr(c.i)) + "\"");
  }
  return true;
}

// After a bare version, the upper bound of a hyphen range "a - b" (whitespace
// around '-'), or nothing (the cursor then stays where it was). Masterminds
// rewrites the range textually, swallowing the whitespace around it: it only stays
// well-formed at the start of a group or after a comma (`may_start`), and at the
// end of the group or before a comma.
std::optional<RawCv> scan_hyphen_upper(Cursor& c, std::string_view text, bool may_start) {
  const std::size_t save = c.i;
  const bool ws_before = c.skip_ws();
  if (!ws_before || c.peek() != '-' || !is_ws(c.peek(1))) {
    c.i = save;
    return std::nullopt;
  }
  ++c.i;
  c.skip_ws();
  auto upper = scan_cv(c);
  if (!upper) improper(text, "hyphen range without an upper bound");
  if (!may_start) improper(text, "a hyphen range must start an alternative or follow a ','");
  const std::size_t after = c.i;
  c.skip_ws();
  if (!c.at_end() && c.peek() != ',') improper(text, "a hyphen range must end an alternative or be followed by a ','");
  c.i = after;
  return upper;
}

// The version a term compares with, and how many of major.minor.patch were
// written before a wildcard or the end (missing ones read as 0).
std::pair<Version, int> term_version(std::string_view text, const RawCv& raw) {
  int given_parts = 3;
  if (is_wild(raw.segs[0]))
    given_parts = 0;
  else if (raw.seg_count < 2 || is_wild(raw.segs[1]))
    given_parts = 1;
  else if (raw.seg_count < 3 || is_wild(raw.segs[2]))
    given_parts = 2;
  std::optional<Version> v;
  if (given_parts == 3) {
    v = Version::parse(raw.text);
  } else {
    std::string ver;
    for (int k = 0; k < 3; ++k) {
      if (k) ver += '.';
      ver += k < given_parts ? std::string(raw.segs[k]) : "0";
    }
    if (raw.has_pre) ver += "-" + std::string(raw.pre);
    v = Version::parse(ver);
  }
  if (!v) improper(text, "\"" + std::string(raw.text) + "\" is not a valid version");
  return {*v, given_parts};
}

}  // namespace

std::vector<Constraint::Term> Constraint::parse_alternative(std::string_view text, std::string_view group,
                                                            bool& has_prerelease) {
  // Operators, longest first (Masterminds accepts "=>" and "=<" as aliases).
  static constexpr std::pair<std::string_view, Term::Op> kOps[] = {
      {"!=", Term::Op::ne}, {">=", Term::Op::ge}, {"=>", Term::Op::ge}, {"<=", Term::Op::le},
      {"=<", Term::Op::le}, {"~>", Term::Op::tilde}, {">", Term::Op::gt}, {"<", Term::Op::lt},
      {"=", Term::Op::eq},  {"~", Term::Op::tilde},  {"^", Term::Op::caret}};
  auto term = [&](Term::Op op, const RawCv& raw) {
    auto [v, given_parts] = term_version(text, raw);
    if (!v.prerelease.empty()) has_prerelease = true;
    return Term{op, std::move(v), given_parts};
  };
  std::vector<Term> terms;
  Cursor c{group};
  bool after_comma = false;
  while (scan_separator(c, text, terms.empty(), after_comma)) {
    Term::Op op = Term::Op::eq;
    bool explicit_op = false;
    for (auto& [sym, o] : kOps) {
      if (c.s.substr(c.i, sym.size()) == sym) {
        op = o;
        c.i += sym.size();
        explicit_op = true;
        break;
      }
    }
    c.skip_ws();
    const std::size_t cv_start = c.i;
    auto cv = scan_cv(c);
    if (!cv) improper(text, "\"" + std::string(group.substr(cv_start)) + "\" is not a version");
    // Hyphen range "a - b": only between two bare versions.
    std::optional<RawCv> upper =
        explicit_op ? std::nullopt : scan_hyphen_upper(c, text, terms.empty() || after_comma);
    if (upper) {
      terms.push_back(term(Term::Op::ge, *cv));
      terms.push_back(term(Term::Op::le, *upper));
    } else {
      terms.push_back(term(op, *cv));
    }
  }
  return terms;
}

Constraint Constraint::parse(std::string_view text) {
  Constraint out;
  out.text_ = std::string(text);
  if (text.size() > kMaxConstraintLength)
    throw Error(Errc::invalid_argument, std::string(text.substr(0, 64)) + "...",
                "improper constraint: longer than " + std::to_string(kMaxConstraintLength) + " characters");
  // An empty constraint is Masterminds' wildcard (parseConstraint's "" case).
  if (is_blank(text)) {
    out.alternatives_.push_back({Term{Term::Op::any, Version{}, 0}});
    return out;
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t bar = text.find("||", start);
    const std::string_view group =
        text.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start);
    out.alternatives_.push_back(parse_alternative(text, group, out.has_prerelease_));
    if (bar == std::string_view::npos) break;
    start = bar + 2;
  }
  return out;
}

bool Constraint::matches(const Version& v) const {
  for (const auto& all : alternatives_) {
    bool ok = true;
    for (const auto& t : all) {
      if (!term_matches(t, v)) {
        ok = false;
        break;
      }
    }
    if (ok) return true;
  }
  return false;
}

// One term, exactly as Masterminds' constraint functions decide it (including the
// rule that a prerelease version only satisfies a term that itself names a
// prerelease, which `!=` on a fully specified version does not apply).
bool Constraint::term_matches(const Term& t, const Version& v) {
  const Version& c = t.v;
  const bool dirty = t.given_parts < 3;
  const bool minor_dirty = t.given_parts == 1;
  const bool patch_dirty = t.given_parts == 2;
  const bool pre_blocked = !v.prerelease.empty() && c.prerelease.empty();

  auto tilde = [&]() {
    if (pre_blocked) return false;
    if (compare(v, c) < 0) return false;
    if (c.major == 0 && c.minor == 0 && c.patch == 0 && !minor_dirty && !patch_dirty) return true;
    if (v.major != c.major) return false;
    if (v.minor != c.minor && !minor_dirty) return false;
    return true;
  };

  switch (t.op) {
    case Term::Op::any:
      return v.prerelease.empty();
    case Term::Op::eq:
      if (pre_blocked) return false;
      if (dirty) return tilde();
      return compare(v, c) == 0;
    case Term::Op::tilde:
      return tilde();
    case Term::Op::ne:
      if (dirty) {
        if (pre_blocked) return false;
        if (c.major != v.major) return true;
        if (c.minor != v.minor && !minor_dirty) return true;
        if (minor_dirty) return false;
        if (c.patch != v.patch && !patch_dirty) return true;
        if (patch_dirty) {
          if (!v.prerelease.empty() || !c.prerelease.empty())
            return compare_prerelease(v.prerelease, c.prerelease) != 0;
          return false;
        }
      }
      return compare(v, c) != 0;
    case Term::Op::gt:
      if (pre_blocked) return false;
      if (!dirty) return compare(v, c) > 0;
      if (v.major > c.major) return true;
      if (v.major < c.major) return false;
      if (minor_dirty) return false;
      if (patch_dirty) return v.minor > c.minor;
      return compare(v, c) > 0;
    case Term::Op::lt:
      if (pre_blocked) return false;
      return compare(v, c) < 0;
    case Term::Op::ge:
      if (pre_blocked) return false;
      return compare(v, c) >= 0;
    case Term::Op::le:
      if (pre_blocked) return false;
      if (!dirty) return compare(v, c) <= 0;
      if (v.major > c.major) return false;
      if (v.major == c.major && v.minor > c.minor && !minor_dirty) return false;
      return true;
    case Term::Op::caret:
      if (pre_blocked) return false;
      if (compare(v, c) < 0) return false;
      if (c.major > 0 || minor_dirty) return v.major == c.major;
      if (v.major > 0) return false;  // ^0.y.z stays within major 0
      if (c.minor > 0 || patch_dirty) return v.minor == c.minor;
      if (v.minor > 0) return false;  // ^0.0.z stays within 0.0
      return v.patch == c.patch;
  }
  return false;
}

}  // namespace cmop::chart
