// What `helm package` writes as Chart.yaml is chartutil.Save's yaml.Marshal from
// sigs.k8s.io/yaml: the struct becomes JSON, go-yaml v2 parses that JSON into
// generic maps and emits them. This file reproduces go-yaml v2's emitter (a port of
// libyaml) for the shapes a Chart.yaml can take: block mappings with sorted keys,
// indentless block sequences, and libyaml's scalar style selection and line folding
// at 80 columns. The rules below follow yaml.v2's encode.go / emitterc.go / resolve.go.
#include "go_yaml.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <charconv>
#include <map>
#include <stdexcept>

namespace cmop::chart::goyaml {
namespace {

constexpr int kBestIndent = 2;
constexpr int kBestWidth = 80;      // libyaml's default when Marshal sets none
constexpr std::size_t kMaxSimpleKey = 128;

// --- UTF-8 --------------------------------------------------------------------

// Decodes one rune at s[i]; width 0 means invalid (Go's RuneError, size 1).
std::pair<char32_t, int> decode_impl(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return {c, 1};
  auto cont = [&](std::size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF && cont(i + 1)) return {char32_t(((c & 0x1F) << 6) | (b(i + 1) & 0x3F)), 2};
  if (c >= 0xE0 && c <= 0xEF && cont(i + 1) && cont(i + 2)) {
    char32_t r = ((c & 0x0F) << 12) | ((b(i + 1) & 0x3F) << 6) | (b(i + 2) & 0x3F);
    if (r < 0x800 || (r >= 0xD800 && r <= 0xDFFF)) return {0xFFFD, 0};
    return {r, 3};
  }
  if (c >= 0xF0 && c <= 0xF4 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
    char32_t r = ((c & 0x07) << 18) | ((b(i + 1) & 0x3F) << 12) | ((b(i + 2) & 0x3F) << 6) | (b(i + 3) & 0x3F);
    if (r < 0x10000 || r > 0x10FFFF) return {0xFFFD, 0};
    return {r, 4};
  }
  return {0xFFFD, 0};
}

void append_utf8_impl(std::string& out, char32_t r) {
  if (r < 0x80) {
    out += char(r);
  } else if (r < 0x800) {
    out += char(0xC0 | (r >> 6));
    out += char(0x80 | (r & 0x3F));
  } else if (r < 0x10000) {
    out += char(0xE0 | (r >> 12));
    out += char(0x80 | ((r >> 6) & 0x3F));
    out += char(0x80 | (r & 0x3F));
  } else {
    out += char(0xF0 | (r >> 18));
    out += char(0x80 | ((r >> 12) & 0x3F));
    out += char(0x80 | ((r >> 6) & 0x3F));
    out += char(0x80 | (r & 0x3F));
  }
}

std::vector<char32_t> runes(std::string_view s) {
  std::vector<char32_t> out;
  for (std::size_t i = 0; i < s.size();) {
    auto [r, w] = decode_impl(s, i);
    out.push_back(r);
    i += w ? w : 1;
  }
  return out;
}

// unicode.IsLetter, exact for ASCII and Latin-1; beyond that, everything outside the
// main punctuation/symbol/space blocks counts as a letter (keys are ASCII in practice).
bool is_letter(char32_t r) {
  if (r < 0x80) return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
  if (r < 0xC0) return r == 0xAA || r == 0xB5 || r == 0xBA;
  if (r == 0xD7 || r == 0xF7) return false;
  if (r >= 0x2000 && r <= 0x2BFF) return false;
  if (r >= 0x3000 && r <= 0x303F) return false;
  if (r >= 0xFF00 && r <= 0xFF20) return false;
  if (r >= 0xE000 && r <= 0xF8FF) return false;
  return true;
}
bool is_digit_rune(char32_t r) { return r >= '0' && r <= '9'; }

// --- libyaml byte predicates ------------------------------------------------------

unsigned char at(std::string_view s, std::size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0; }
int width(unsigned char c) {
  if ((c & 0x80) == 0) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;
}
bool is_space(std::string_view s, std::size_t i) { return at(s, i) == ' '; }
bool is_blank(std::string_view s, std::size_t i) { return at(s, i) == ' ' || at(s, i) == '\t'; }
bool is_break(std::string_view s, std::size_t i) {
  unsigned char c = at(s, i);
  return c == '\r' || c == '\n' || (c == 0xC2 && at(s, i + 1) == 0x85) ||
         (c == 0xE2 && at(s, i + 1) == 0x80 && (at(s, i + 2) == 0xA8 || at(s, i + 2) == 0xA9));
}
bool is_blankz(std::string_view s, std::size_t i) { return is_blank(s, i) || is_break(s, i) || at(s, i) == 0; }
bool is_bom(std::string_view s, std::size_t i) { return at(s, i) == 0xEF && at(s, i + 1) == 0xBB && at(s, i + 2) == 0xBF; }
bool is_printable(std::string_view s, std::size_t i) {
  unsigned char c = at(s, i), c1 = at(s, i + 1), c2 = at(s, i + 2);
  return c == 0x0A || (c >= 0x20 && c <= 0x7E) || (c == 0xC2 && c1 >= 0xA0) || (c > 0xC2 && c < 0xED) ||
         (c == 0xED && c1 < 0xA0) || c == 0xEE ||
         (c == 0xEF && !(c1 == 0xBB && c2 == 0xBF) && !(c1 == 0xBF && (c2 == 0xBE || c2 == 0xBF)));
}

// --- resolve.go ---------------------------------------------------------------------

bool all_of_digits(std::string_view s, int base) {
  if (s.empty()) return false;
  for (char c : s) {
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : 99;
    if (d >= base) return false;
  }
  return true;
}

// strconv.ParseInt(s, 0, 64), else ParseUint(s, 0, 64): the value, or nullopt.
std::optional<__int128> go_parse_integer(std::string_view s) {
  bool neg = false, signed_ = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    signed_ = true;
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() >= 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
    base = 8;
    s.remove_prefix(2);
  } else if (s.size() >= 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    s.remove_prefix(2);
  } else if (s.size() >= 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
    if (s.empty()) return 0;  // "0"
  }
  if (!all_of_digits(s, base)) return std::nullopt;
  // Magnitude limit: int64 for signed input (|min| for negatives), uint64 otherwise.
  unsigned __int128 v = 0;
  for (char c : s) {
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : c - 'A' + 10;
    v = v * base + d;
    if (v > (unsigned __int128)UINT64_MAX) return std::nullopt;
  }
  if (neg) {
    if (v > (unsigned __int128)INT64_MAX + 1) return std::nullopt;
    return -static_cast<__int128>(v);
  }
  if (signed_ && v > (unsigned __int128)INT64_MAX) return std::nullopt;  // ParseUint rejects a '+' sign
  return static_cast<__int128>(v);
}

bool go_parses_as_integer(std::string_view s) { return go_parse_integer(s).has_value(); }

// ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ and ParseFloat not overflowing.
bool yaml_style_float(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  auto digits = [&]() {
    std::size_t st = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i - st;
  };
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  } else {
    if (digits() == 0) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      digits();
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  if (i != s.size()) return false;
  std::string copy(s);
  errno = 0;
  double d = std::strtod(copy.c_str(), nullptr);
  return !std::isinf(d);  // Go's ParseFloat fails (ErrRange) on overflow
}

bool parse_num(std::string_view s, std::size_t& i, int min_digits, int max_digits, int& out) {
  int n = 0, v = 0;
  while (i < s.size() && n < max_digits && s[i] >= '0' && s[i] <= '9') {
    v = v * 10 + (s[i] - '0');
    ++i;
    ++n;
  }
  out = v;
  return n >= min_digits;
}

// yaml.v2 parseTimestamp: time.Parse with "2006-1-2T15:4:5.999999999Z07:00",
// its lower-case 't' twin, "2006-1-2 15:4:5.999999999" and "2006-1-2".
bool is_timestamp(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  if (i != 4 || i == s.size() || s[i] != '-') return false;
  int year = 0, month = 0, day = 0;
  i = 0;
  parse_num(s, i, 4, 4, year);
  ++i;
  if (!parse_num(s, i, 1, 2, month) || i >= s.size() || s[i] != '-') return false;
  ++i;
  if (!parse_num(s, i, 1, 2, day)) return false;
  if (month < 1 || month > 12) return false;
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int max_day = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  if (day < 1 || day > max_day) return false;
  if (i == s.size()) return true;
  char sep = s[i];
  if (sep != 'T' && sep != 't' && sep != ' ') return false;
  ++i;
  int hh, mm, ss;
  if (!parse_num(s, i, 1, 2, hh) || hh > 23 || i >= s.size() || s[i] != ':') return false;
  ++i;
  if (!parse_num(s, i, 1, 2, mm) || mm > 59 || i >= s.size() || s[i] != ':') return false;
  ++i;
  if (!parse_num(s, i, 1, 2, ss) || ss > 59) return false;
  if (i + 1 < s.size() && (s[i] == '.' || s[i] == ',') && s[i + 1] >= '0' && s[i + 1] <= '9') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  }
  if (sep == ' ') return i == s.size();
  if (i < s.size() && s[i] == 'Z') return i + 1 == s.size();
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    ++i;
    int zh, zm;
    if (!parse_num(s, i, 2, 2, zh) || i >= s.size() || s[i] != ':') return false;
    ++i;
    if (!parse_num(s, i, 2, 2, zm)) return false;
    return i == s.size() && zh <= 24 && zm <= 60;
  }
  return false;
}

// ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$ — YAML 1.1 sexagesimal floats,
// which go-yaml quotes even though it resolves them as strings.
bool is_base60_float(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i >= s.size() || !(s[i] >= '0' && s[i] <= '9')) return false;
  ++i;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_')) ++i;
  int groups = 0;
  while (i < s.size() && s[i] == ':') {
    ++i;
    std::size_t st = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - st < 2) ++i;
    std::size_t n = i - st;
    if (n == 0) return false;
    if (n == 2 && s[st] > '5') return false;
    ++groups;
  }
  if (groups == 0) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_')) ++i;
  }
  return i == s.size();
}

bool in_resolve_map(std::string_view s) {
  static constexpr std::string_view kWords[] = {
      "y",     "Y",     "yes",  "Yes",  "YES",   "true",  "True",  "TRUE",  "on",    "On",   "ON",
      "n",     "N",     "no",   "No",   "NO",    "false", "False", "FALSE", "off",   "Off",  "OFF",
      "",      "~",     "null", "Null", "NULL",  ".nan",  ".NaN",  ".NAN",  ".inf",  ".Inf", ".INF",
      "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"};
  // resolve.go's map also holds "<<" (the merge tag), but only looks a scalar up when
  // its first byte has a hint, and '<' has none: "<<" resolves as a string.
  return std::find(std::begin(kWords), std::end(kWords), s) != std::end(kWords);
}

// --- scalar analysis and style (emitterc.go) ------------------------------------------

struct Analysis {
  bool multiline = false, flow_plain = true, block_plain = true, single_quoted = true, block = true;
};

Analysis analyze(std::string_view v) {
  Analysis a;
  if (v.empty()) {
    a.flow_plain = false;
    a.block = false;
    return a;
  }
  bool block_ind = false, flow_ind = false, line_breaks = false, special = false;
  bool leading_space = false, leading_break = false, trailing_space = false, trailing_break = false;
  bool break_space = false, space_break = false;
  bool previous_space = false, previous_break = false;
  if (v.size() >= 3 && (v.substr(0, 3) == "---" || v.substr(0, 3) == "...")) block_ind = flow_ind = true;
  bool preceded_by_ws = true;
  for (std::size_t i = 0; i < v.size();) {
    std::size_t w = width(at(v, i));
    bool followed_by_ws = i + w >= v.size() || is_blank(v, i + w);
    char c = v[i];
    if (i == 0) {
      switch (c) {
        case '#': case ',': case '[': case ']': case '{': case '}': case '&': case '*': case '!':
        case '|': case '>': case '\'': case '"': case '%': case '@': case '`':
          flow_ind = block_ind = true;
          break;
        case '?': case ':':
          flow_ind = true;
          if (followed_by_ws) block_ind = true;
          break;
        case '-':
          if (followed_by_ws) flow_ind = block_ind = true;
          break;
        default: break;
      }
    } else {
      switch (c) {
        case ',': case '?': case '[': case ']': case '{': case '}':
          flow_ind = true;
          break;
        case ':':
          flow_ind = true;
          if (followed_by_ws) block_ind = true;
          break;
        case '#':
          if (preceded_by_ws) flow_ind = block_ind = true;
          break;
        default: break;
      }
    }
    if (!is_printable(v, i)) special = true;  // the encoder enables unicode output
    if (is_space(v, i)) {
      if (i == 0) leading_space = true;
      if (i + w == v.size()) trailing_space = true;
      if (previous_break) break_space = true;
      previous_space = true;
      previous_break = false;
    } else if (is_break(v, i)) {
      line_breaks = true;
      if (i == 0) leading_break = true;
      if (i + w == v.size()) trailing_break = true;
      if (previous_space) space_break = true;
      previous_space = false;
      previous_break = true;
    } else {
      previous_space = previous_break = false;
    }
    preceded_by_ws = is_blankz(v, i);
    i += w;
  }
  a.multiline = line_breaks;
  if (leading_space || leading_break || trailing_space || trailing_break) a.flow_plain = a.block_plain = false;
  if (trailing_space) a.block = false;
  if (break_space) a.flow_plain = a.block_plain = a.single_quoted = false;
  if (space_break || special) a.flow_plain = a.block_plain = a.single_quoted = a.block = false;
  if (line_breaks) a.flow_plain = a.block_plain = false;
  if (flow_ind) a.flow_plain = false;
  if (block_ind) a.block_plain = false;
  return a;
}

enum class Style { plain, single, dbl, literal };

class Emitter {
 public:
  std::string out;

  void document(const Node& root) {
    emit_value(root, /*in_mapping=*/false);
    // Document end: a final line break. libyaml would close a document ending in an
    // open `|+` scalar with "...", but yaml.v2's Marshal clears open_ended before the
    // stream end, so go-yaml never writes it.
    write_indent(0);
  }

 private:
  int column_ = 0;
  int indent_ = -1;
  bool whitespace_ = true;
  bool indention_ = true;

  void put(char c) {
    out += c;
    ++column_;
  }
  void put_break() {
    out += '\n';
    column_ = 0;
  }
  void write_char(std::string_view s, std::size_t& i) {
    int w = width(at(s, i));
    out.append(s.substr(i, w));
    i += w;
    ++column_;
  }
  void write_break(std::string_view s, std::size_t& i) {
    if (s[i] == '\n') {
      put_break();
      ++i;
    } else {
      write_char(s, i);
      column_ = 0;
    }
  }
  void write_indent(int indent) {
    if (indent < 0) indent = 0;
    if (!indention_ || column_ > indent || (column_ == indent && !whitespace_)) put_break();
    while (column_ < indent) put(' ');
    whitespace_ = true;
    indention_ = true;
  }
  void write_indicator(std::string_view ind, bool need_ws, bool is_ws, bool is_indention) {
    if (need_ws && !whitespace_) put(' ');
    out += ind;
    column_ += static_cast<int>(ind.size());
    whitespace_ = is_ws;
    indention_ = indention_ && is_indention;
  }

  void emit_value(const Node& n, bool in_mapping) {
    switch (n.kind) {
      case Node::Kind::string: emit_string(n.text, false); break;
      case Node::Kind::literal: emit_plain_literal(n.text); break;
      case Node::Kind::map: emit_mapping(n); break;
      case Node::Kind::seq: emit_sequence(n, in_mapping); break;
    }
  }

  void emit_mapping(const Node& m) {
    if (m.map.empty()) {
      write_indicator("{", true, true, false);
      write_indicator("}", false, false, false);
      return;
    }
    std::vector<const std::pair<std::string, Node>*> entries;
    for (auto& e : m.map) entries.push_back(&e);
    std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return key_less(a->first, b->first); });
    int saved = indent_;
    indent_ = indent_ < 0 ? 0 : indent_ + kBestIndent;
    for (auto* e : entries) {
      write_indent(indent_);
      std::string key = coerce_utf8(e->first);
      bool simple = key.size() <= kMaxSimpleKey && !analyze(key).multiline;
      if (simple) {
        emit_string(key, true);
        write_indicator(":", false, false, false);
      } else {
        write_indicator("?", true, false, true);
        emit_string(key, false);
        write_indent(indent_);
        write_indicator(":", true, false, true);
      }
      emit_value(e->second, true);
    }
    indent_ = saved;
  }

  void emit_sequence(const Node& s, bool in_mapping) {
    if (s.seq.empty()) {
      write_indicator("[", true, true, false);
      write_indicator("]", false, false, false);
      return;
    }
    int saved = indent_;
    bool indentless = in_mapping && !indention_;
    if (indent_ < 0) indent_ = 0;
    else if (!indentless) indent_ += kBestIndent;
    for (auto& item : s.seq) {
      write_indent(indent_);
      write_indicator("-", true, false, true);
      emit_value(item, false);
    }
    indent_ = saved;
  }

  void emit_plain_literal(const std::string& text) {
    int saved = indent_;
    indent_ = indent_ < 0 ? kBestIndent : indent_ + kBestIndent;
    write_plain(text, true);
    indent_ = saved;
  }

  void emit_string(const std::string& raw, bool simple_key) {
    std::string v = coerce_utf8(raw);
    Style style;
    if (v.find('\n') != std::string::npos) style = Style::literal;
    else if (!resolves_to_non_string(v) && !is_base60_float(v)) style = Style::plain;
    else style = Style::dbl;

    Analysis a = analyze(v);
    if (simple_key && a.multiline) style = Style::dbl;
    if (style == Style::plain) {
      if (!a.block_plain) style = Style::single;
      if (v.empty() && simple_key) style = Style::single;
    }
    if (style == Style::single && !a.single_quoted) style = Style::dbl;
    if (style == Style::literal && (!a.block || simple_key)) style = Style::dbl;

    int saved = indent_;
    indent_ = indent_ < 0 ? kBestIndent : indent_ + kBestIndent;
    const bool allow_breaks = !simple_key;
    switch (style) {
      case Style::plain: write_plain(v, allow_breaks); break;
      case Style::single: write_single(v, allow_breaks); break;
      case Style::dbl: write_double(v, allow_breaks); break;
      case Style::literal: write_literal(v); break;
    }
    indent_ = saved;
  }

  void write_plain(std::string_view v, bool allow_breaks) {
    if (!whitespace_) put(' ');
    bool spaces = false, breaks = false;
    for (std::size_t i = 0; i < v.size();) {
      if (is_space(v, i)) {
        if (allow_breaks && !spaces && column_ > kBestWidth && !is_space(v, i + 1)) {
          write_indent(indent_);
          ++i;
        } else {
          write_char(v, i);
        }
        spaces = true;
      } else if (is_break(v, i)) {
        if (!breaks && v[i] == '\n') put_break();
        write_break(v, i);
        indention_ = true;
        breaks = true;
      } else {
        if (breaks) write_indent(indent_);
        write_char(v, i);
        indention_ = false;
        spaces = breaks = false;
      }
    }
    whitespace_ = false;
    indention_ = false;
  }

  void write_single(std::string_view v, bool allow_breaks) {
    write_indicator("'", true, false, false);
    bool spaces = false, breaks = false;
    for (std::size_t i = 0; i < v.size();) {
      if (is_space(v, i)) {
        if (allow_breaks && !spaces && column_ > kBestWidth && i > 0 && i < v.size() - 1 && !is_space(v, i + 1)) {
          write_indent(indent_);
          ++i;
        } else {
          write_char(v, i);
        }
        spaces = true;
      } else if (is_break(v, i)) {
        if (!breaks && v[i] == '\n') put_break();
        write_break(v, i);
        indention_ = true;
        breaks = true;
      } else {
        if (breaks) write_indent(indent_);
        if (v[i] == '\'') put('\'');
        write_char(v, i);
        indention_ = false;
        spaces = breaks = false;
      }
    }
    write_indicator("'", false, false, false);
    whitespace_ = false;
    indention_ = false;
  }

  void write_double(std::string_view v, bool allow_breaks) {
    write_indicator("\"", true, false, false);
    bool spaces = false;
    for (std::size_t i = 0; i < v.size();) {
      if (!is_printable(v, i) || is_bom(v, i) || is_break(v, i) || v[i] == '"' || v[i] == '\\') {
        auto [r, w] = decode_impl(v, i);
        i += w ? w : 1;
        put('\\');
        switch (r) {
          case 0x00: put('0'); break;
          case 0x07: put('a'); break;
          case 0x08: put('b'); break;
          case 0x09: put('t'); break;
          case 0x0A: put('n'); break;
          case 0x0B: put('v'); break;
          case 0x0C: put('f'); break;
          case 0x0D: put('r'); break;
          case 0x1B: put('e'); break;
          case 0x22: put('"'); break;
          case 0x5C: put('\\'); break;
          case 0x85: put('N'); break;
          case 0xA0: put('_'); break;
          case 0x2028: put('L'); break;
          case 0x2029: put('P'); break;
          default: {
            int digits;
            if (r <= 0xFF) {
              put('x');
              digits = 2;
            } else if (r <= 0xFFFF) {
              put('u');
              digits = 4;
            } else {
              put('U');
              digits = 8;
            }
            for (int k = (digits - 1) * 4; k >= 0; k -= 4) {
              int d = (r >> k) & 0xF;
              put(static_cast<char>(d < 10 ? '0' + d : 'A' + d - 10));
            }
          }
        }
        spaces = false;
      } else if (is_space(v, i)) {
        if (allow_breaks && !spaces && column_ > kBestWidth && i > 0 && i < v.size() - 1) {
          write_indent(indent_);
          if (is_space(v, i + 1)) put('\\');
          ++i;
        } else {
          write_char(v, i);
        }
        spaces = true;
      } else {
        write_char(v, i);
        spaces = false;
      }
    }
    write_indicator("\"", false, false, false);
    whitespace_ = false;
    indention_ = false;
  }

  void write_literal(std::string_view v) {
    write_indicator("|", true, false, false);
    if (is_space(v, 0) || is_break(v, 0)) write_indicator(std::string(1, char('0' + kBestIndent)), false, false, false);
    // Chomping: '-' without a final break, '+' with two or more, none (clip) with one.
    std::size_t i = v.size() - 1;
    while (i > 0 && (at(v, i) & 0xC0) == 0x80) --i;
    if (!is_break(v, i)) {
      write_indicator("-", false, false, false);
    } else if (i == 0) {
      write_indicator("+", false, false, false);
    } else {
      --i;
      while (i > 0 && (at(v, i) & 0xC0) == 0x80) --i;
      if (is_break(v, i)) write_indicator("+", false, false, false);
    }
    put_break();
    indention_ = true;
    whitespace_ = true;
    bool breaks = true;
    for (std::size_t k = 0; k < v.size();) {
      if (is_break(v, k)) {
        write_break(v, k);
        indention_ = true;
        breaks = true;
      } else {
        if (breaks) {
          write_indent(indent_);
          breaks = false;
        }
        write_char(v, k);
        indention_ = false;
      }
    }
  }
};

}  // namespace

std::string coerce_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    auto [r, w] = decode_impl(s, i);
    if (w == 0) {
      append_utf8_impl(out, 0xFFFD);
      ++i;
    } else {
      out.append(s.substr(i, w));
      i += w;
    }
  }
  return out;
}

bool resolves_to_non_string(std::string_view s) {
  if (in_resolve_map(s)) return true;
  char first = s[0];
  if (first == '.') {
    // strconv.ParseFloat on ".5", ".5e3".
    return yaml_style_float(s);
  }
  bool digit = first >= '0' && first <= '9';
  if (!digit && first != '+' && first != '-') return false;
  if (digit && is_timestamp(s)) return true;
  std::string plain;
  for (char c : s)
    if (c != '_') plain += c;
  if (go_parses_as_integer(plain)) return true;
  if (yaml_style_float(plain)) return true;
  return false;
}

std::optional<std::pair<std::size_t, std::string>> reader_refusal(std::string_view s) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  std::size_t i = 0;
  if (s.size() >= 2 && ((b(0) == 0xFF && b(1) == 0xFE) || (b(0) == 0xFE && b(1) == 0xFF))) return std::nullopt;
  if (is_bom(s, 0)) i = 3;
  auto refuse = [](std::size_t at, const char* why) { return std::make_optional(std::pair{at, std::string(why)}); };
  while (i < s.size()) {
    unsigned char octet = b(i);
    std::size_t w = (octet & 0x80) == 0 ? 1 : (octet & 0xE0) == 0xC0 ? 2 : (octet & 0xF0) == 0xE0 ? 3 : (octet & 0xF8) == 0xF0 ? 4 : 0;
    if (w == 0) return refuse(i, "invalid leading UTF-8 octet");
    if (i + w > s.size()) return refuse(i, "incomplete UTF-8 octet sequence");
    char32_t value = w == 1 ? octet : w == 2 ? (octet & 0x1F) : w == 3 ? (octet & 0x0F) : (octet & 0x07);
    for (std::size_t k = 1; k < w; ++k) {
      if ((b(i + k) & 0xC0) != 0x80) return refuse(i + k, "invalid trailing UTF-8 octet");
      value = (value << 6) + (b(i + k) & 0x3F);
    }
    if (!(w == 1 || (w == 2 && value >= 0x80) || (w == 3 && value >= 0x800) || (w == 4 && value >= 0x10000)))
      return refuse(i, "invalid length of a UTF-8 sequence");
    if ((value >= 0xD800 && value <= 0xDFFF) || value > 0x10FFFF) return refuse(i, "invalid Unicode character");
    bool allowed = value == 0x09 || value == 0x0A || value == 0x0D || (value >= 0x20 && value <= 0x7E) ||
                   value == 0x85 || (value >= 0xA0 && value <= 0xD7FF) || (value >= 0xE000 && value <= 0xFFFD) ||
                   value >= 0x10000;
    if (!allowed) return refuse(i, "control characters are not allowed");
    i += w;
  }
  return std::nullopt;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;  // Go 1.22+; Helm 3.17 and 4 are built with later Go
        case '\f': out += "\\f"; break;
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            out += "\\u00";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      continue;
    }
    auto [r, w] = decode_impl(s, i);
    if (w == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (r == 0x2028 || r == 0x2029) out += r == 0x2028 ? "\\u2028" : "\\u2029";
    else out.append(s.substr(i, w));
    i += w;
  }
  out.push_back('"');
}

namespace {

// Go's FormatFloat(d, 'e', -1, 64): the shortest digits that round-trip, "1.5e+06".
std::string shortest_exponent_form(double d) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  return std::string(buf, res.ptr);
}

// Go's FormatFloat(d, 'f', -1, 64): the same shortest digits written without an
// exponent, zero-padded ("12345678901234567000", where printf's digits would be exact).
std::string shortest_fixed_form(double d) {
  const std::string e = shortest_exponent_form(d);
  const auto at = e.find('e');
  const int exp10 = std::atoi(e.c_str() + at + 1);
  std::string mantissa = e.substr(0, at);
  const bool neg = !mantissa.empty() && mantissa[0] == '-';
  if (neg) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa)
    if (c != '.') digits += c;
  std::string out;
  if (exp10 < 0) {
    out = "0." + std::string(static_cast<std::size_t>(-exp10 - 1), '0') + digits;
  } else if (static_cast<std::size_t>(exp10) + 1 >= digits.size()) {
    out = digits + std::string(static_cast<std::size_t>(exp10) + 1 - digits.size(), '0');
  } else {
    out = digits.substr(0, static_cast<std::size_t>(exp10) + 1) + "." + digits.substr(static_cast<std::size_t>(exp10) + 1);
  }
  return neg ? "-" + out : out;
}

}  // namespace

std::string json_number(double d) {
  const double a = std::fabs(d);
  if (a == 0 || (a >= 1e-6 && a < 1e21)) return shortest_fixed_form(d);
  std::string out = shortest_exponent_form(d);
  const std::size_t n = out.size();
  if (n >= 4 && out[n - 4] == 'e' && out[n - 3] == '-' && out[n - 2] == '0') out.erase(n - 2, 1);
  return out;
}

namespace {

// A plain scalar as go-yaml v2's resolve() types it, reduced to what JSON keeps.
struct Resolved {
  enum class Kind { null, boolean, integer, floating, string } kind = Kind::string;
  bool boolean = false;
  __int128 integer = 0;
  double floating = 0;
};

Resolved resolve_plain(std::string_view s) {
  Resolved r;
  static const std::map<std::string_view, int> kWords = {
      {"y", 1},    {"Y", 1},     {"yes", 1},   {"Yes", 1},   {"YES", 1},  {"true", 1},  {"True", 1},  {"TRUE", 1},
      {"on", 1},   {"On", 1},    {"ON", 1},    {"n", 0},     {"N", 0},    {"no", 0},    {"No", 0},    {"NO", 0},
      {"false", 0}, {"False", 0}, {"FALSE", 0}, {"off", 0},  {"Off", 0},  {"OFF", 0},   {"", 2},      {"~", 2},
      {"null", 2}, {"Null", 2},  {"NULL", 2}};
  if (auto it = kWords.find(s); it != kWords.end()) {
    r.kind = it->second == 2 ? Resolved::Kind::null : Resolved::Kind::boolean;
    r.boolean = it->second == 1;
    return r;
  }
  const char first = s[0];
  const bool digit = first >= '0' && first <= '9';
  if (first == '.' || first == '+' || first == '-') {
    static const std::map<std::string_view, double> kSpecial = {
        {".inf", HUGE_VAL},   {".Inf", HUGE_VAL},   {".INF", HUGE_VAL},   {"+.inf", HUGE_VAL},  {"+.Inf", HUGE_VAL},
        {"+.INF", HUGE_VAL},  {"-.inf", -HUGE_VAL}, {"-.Inf", -HUGE_VAL}, {"-.INF", -HUGE_VAL}, {".nan", NAN},
        {".NaN", NAN},        {".NAN", NAN}};
    if (auto it = kSpecial.find(s); it != kSpecial.end()) {
      r.kind = Resolved::Kind::floating;
      r.floating = it->second;
      return r;
    }
  }
  if (first == '.') {
    if (yaml_style_float(s)) {
      r.kind = Resolved::Kind::floating;
      r.floating = std::strtod(std::string(s).c_str(), nullptr);
    }
    return r;
  }
  if (!digit && first != '+' && first != '-') return r;
  if (digit && is_timestamp(s)) return r;  // a timestamp in an interface{} stays a string
  std::string plain;
  for (char c : s)
    if (c != '_') plain += c;
  if (auto v = go_parse_integer(plain)) {
    r.kind = Resolved::Kind::integer;
    r.integer = *v;
  } else if (yaml_style_float(plain)) {
    r.kind = Resolved::Kind::floating;
    r.floating = std::strtod(plain.c_str(), nullptr);
  }
  return r;
}

std::string int128_text(__int128 v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  unsigned __int128 u = neg ? -static_cast<unsigned __int128>(v) : static_cast<unsigned __int128>(v);
  std::string out;
  for (; u != 0; u /= 10) out.insert(out.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
  return neg ? "-" + out : out;
}

// encoding/json refuses what JSON cannot hold; sigs.k8s.io/yaml passes the reason on.
std::string json_float(double d) {
  if (std::isnan(d)) throw std::invalid_argument("json: unsupported value: NaN");
  if (std::isinf(d)) throw std::invalid_argument(d > 0 ? "json: unsupported value: +Inf" : "json: unsupported value: -Inf");
  return json_number(d);
}

std::string json_scalar(const YAML::Node& n) {
  if (n.IsNull()) return "null";
  // Quoted and block scalars ("!") and explicit !!str are strings; plain ones ("?") are resolved.
  if (n.Tag() != "?" && n.Tag() != "tag:yaml.org,2002:int" && n.Tag() != "tag:yaml.org,2002:float" &&
      n.Tag() != "tag:yaml.org,2002:bool" && n.Tag() != "tag:yaml.org,2002:null") {
    std::string out;
    append_json_string(out, n.Scalar());
    return out;
  }
  Resolved r = resolve_plain(n.Scalar());
  switch (r.kind) {
    case Resolved::Kind::null: return "null";
    case Resolved::Kind::boolean: return r.boolean ? "true" : "false";
    // json.Unmarshal into interface{} makes every number a float64.
    case Resolved::Kind::integer: return json_float(static_cast<double>(r.integer));
    case Resolved::Kind::floating: return json_float(r.floating);
    case Resolved::Kind::string: break;
  }
  std::string out;
  append_json_string(out, n.Scalar());
  return out;
}

// A map key as sigs.k8s.io/yaml makes it a JSON object key.
std::string json_key(const YAML::Node& k) {
  if (!k.IsScalar()) throw std::invalid_argument("map keys must be strings, numbers or booleans");
  if (k.Tag() != "?") return k.Scalar();
  Resolved r = resolve_plain(k.Scalar());
  switch (r.kind) {
    case Resolved::Kind::null: throw std::invalid_argument("a map key must not be null");
    case Resolved::Kind::boolean: return r.boolean ? "true" : "false";
    case Resolved::Kind::integer: return int128_text(r.integer);
    case Resolved::Kind::floating: {
      if (std::isnan(r.floating) || std::isinf(r.floating)) return k.Scalar();
      float f = static_cast<float>(r.floating);  // FormatFloat(key, 'g', -1, 32)
      char buf[64];
      auto res = std::to_chars(buf, buf + sizeof buf, f);
      return std::string(buf, res.ptr);
    }
    case Resolved::Kind::string: break;
  }
  return k.Scalar();
}

// yaml.v2 reading a JSON number back: an int as written (ParseInt, then ParseUint),
// anything else a float64 written by FormatFloat(f, 'g', -1, 64).
std::string yaml_number(const std::string& json) {
  std::string_view digits = json;
  if (!digits.empty() && digits[0] == '-') digits.remove_prefix(1);
  bool integral = !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (integral && !(digits.size() > 1 && digits[0] == '0')) {
    if (auto v = go_parse_integer(json)) return int128_text(*v);
  }
  char* end = nullptr;
  double d = std::strtod(json.c_str(), &end);
  if (end != json.c_str() + json.size() || json.empty()) return json;
  if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
  // 'g' with the shortest digits: %e when the exponent is < -4 or >= 6 (Go's eprec for -1).
  const std::string sci = shortest_exponent_form(d);
  const int exp10 = std::atoi(sci.c_str() + sci.find('e') + 1);
  if (exp10 < -4 || exp10 >= 6) return sci;
  return shortest_fixed_form(d);
}

Node node_from_parsed_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence: {
      Node seq = Node::sequence();
      for (const auto& item : n) seq.seq.push_back(node_from_parsed_json(item));
      return seq;
    }
    case YAML::NodeType::Map: {
      Node map = Node::mapping();
      for (const auto& kv : n) map.map.emplace_back(kv.first.Scalar(), node_from_parsed_json(kv.second));
      return map;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() != "?") return Node::str(s);
      if (s == "true" || s == "false" || s == "null") return Node::lit(s);
      return Node::lit(yaml_number(s));
    }
    default: return Node::lit("null");
  }
}

}  // namespace

std::string json_from_yaml(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence: {
      std::string out = "[";
      for (const auto& item : n) {
        if (out.size() > 1) out += ',';
        out += json_from_yaml(item);
      }
      return out + "]";
    }
    case YAML::NodeType::Map: {
      std::map<std::string, std::string> fields;  // byte order, as Go sorts map keys
      for (const auto& kv : n) fields[json_key(kv.first)] = json_from_yaml(kv.second);
      std::string out = "{";
      for (const auto& [k, v] : fields) {
        if (out.size() > 1) out += ',';
        append_json_string(out, k);
        out += ':';
        out += v;
      }
      return out + "}";
    }
    case YAML::NodeType::Scalar: return json_scalar(n);
    default: return "null";
  }
}

Node node_from_json(std::string_view json) {
  // The literals index.yaml and Chart.lock are full of need no parser.
  if (json == "true" || json == "false" || json == "null") return Node::lit(std::string(json));
  if (!json.empty() && (json[0] == '-' || (json[0] >= '0' && json[0] <= '9'))) return Node::lit(yaml_number(std::string(json)));
  try {
    return node_from_parsed_json(YAML::Load(std::string(json)));
  } catch (const YAML::Exception&) {
    return Node::str(std::string(json));
  }
}

bool key_less(std::string_view a_text, std::string_view b_text) {
  auto ar = runes(a_text), br = runes(b_text);
  for (std::size_t i = 0; i < ar.size() && i < br.size(); ++i) {
    if (ar[i] == br[i]) continue;
    bool al = is_letter(ar[i]), bl = is_letter(br[i]);
    if (al && bl) return ar[i] < br[i];
    if (al || bl) return bl;
    std::uint64_t an = 0, bn = 0;  // Go's int64 arithmetic wraps the same way
    if (ar[i] == '0' || br[i] == '0') {
      for (std::size_t j = i; j-- > 0 && is_digit_rune(ar[j]);) {
        if (ar[j] != '0') {
          an = bn = 1;
          break;
        }
      }
    }
    std::size_t ai = i, bi = i;
    for (; ai < ar.size() && is_digit_rune(ar[ai]); ++ai) an = an * 10 + (ar[ai] - '0');
    for (; bi < br.size() && is_digit_rune(br[bi]); ++bi) bn = bn * 10 + (br[bi] - '0');
    if (an != bn) return static_cast<std::int64_t>(an) < static_cast<std::int64_t>(bn);
    if (ai != bi) return ai < bi;
    return ar[i] < br[i];
  }
  return ar.size() < br.size();
}

std::pair<char32_t, int> decode_rune(std::string_view s, std::size_t i) { return decode_impl(s, i); }
void append_utf8(std::string& out, char32_t r) { append_utf8_impl(out, r); }

std::string marshal(const Node& root) {
  Emitter e;
  e.document(root);
  return e.out;
}

}  // namespace cmop::chart::goyaml
