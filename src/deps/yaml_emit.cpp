#include "deps/yaml_emit.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <regex>

namespace cmop::deps::detail {

namespace {

// YAML 1.1 resolution as go-yaml v2 applies it to plain scalars: a string that would
// read back as a bool, null, number, timestamp or merge key must be quoted.
bool resolves_to_non_string(std::string_view s) {
  static const std::regex special(
      "y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|"
      "~|null|Null|NULL|<<");
  static const std::regex number(
      "[-+]?(0|[1-9][0-9_]*)|"                                // int
      "[-+]?0[0-7_]+|0o[0-7_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?0b[01_]+|"
      "[-+]?([0-9][0-9_]*)?\\.[0-9_]*([eE][-+]?[0-9]+)?|"      // float
      "[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+|"
      "[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)|"
      "[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\\.[0-9_]*)?");       // base 60
  static const std::regex timestamp("[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?");
  if (s.empty()) return true;
  std::string str(s);
  return std::regex_match(str, special) || std::regex_match(str, number) || std::regex_match(str, timestamp);
}

bool needs_escape(unsigned char c) { return c < 0x20 || c == 0x7f; }

bool plain_allowed(std::string_view s) {
  static constexpr std::string_view indicators = "-?:,[]{}#&*!|>'\"%@`";
  if (s.empty()) return false;
  unsigned char first = s.front();
  if (indicators.find(static_cast<char>(first)) != std::string_view::npos || first == ' ') return false;
  if (s.back() == ' ' || s.back() == ':') return false;
  if (s.find(": ") != std::string_view::npos || s.find(" #") != std::string_view::npos) return false;
  for (unsigned char c : s)
    if (needs_escape(c)) return false;
  return true;
}

std::string double_quoted(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (needs_escape(c)) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02X", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out + "\"";
}

bool is_scalar(const Value& v) { return v.kind == Value::Kind::string || v.kind == Value::Kind::raw; }

std::string scalar_text(const Value& v) { return v.kind == Value::Kind::raw ? v.text : yaml_scalar(v.text); }

void emit_map(const Value& map, int indent, std::string& out);
void emit_seq(const Value& seq, int indent, std::string& out);

// Emits `v` as the value after "key:" or "- " (the caller wrote those).
void emit_value_after_key(const Value& v, int indent, std::string& out) {
  if (is_scalar(v)) {
    out += " " + scalar_text(v) + "\n";
  } else if (v.kind == Value::Kind::map) {
    if (v.fields.empty()) {
      out += " {}\n";
    } else {
      out += "\n";
      emit_map(v, indent + 2, out);
    }
  } else {
    if (v.items.empty()) {
      out += " []\n";
    } else {
      out += "\n";
      emit_seq(v, indent, out);
    }
  }
}

void emit_map(const Value& map, int indent, std::string& out) {
  std::vector<const std::pair<std::string, Value>*> sorted;
  for (const auto& f : map.fields) sorted.push_back(&f);
  std::stable_sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  for (const auto* f : sorted) {
    out += std::string(indent, ' ') + yaml_scalar(f->first) + ":";
    emit_value_after_key(f->second, indent, out);
  }
}

void emit_seq(const Value& seq, int indent, std::string& out) {
  const std::string pad(indent, ' ');
  for (const auto& item : seq.items) {
    if (is_scalar(item)) {
      out += pad + "- " + scalar_text(item) + "\n";
    } else if (item.kind == Value::Kind::map && !item.fields.empty()) {
      // The first key shares the line with the dash; the rest align under it.
      std::string body;
      emit_map(item, indent + 2, body);
      out += pad + "- " + body.substr(static_cast<std::size_t>(indent) + 2);
    } else if (item.kind == Value::Kind::seq && !item.items.empty()) {
      std::string body;
      emit_seq(item, indent + 2, body);
      out += pad + "- " + body.substr(static_cast<std::size_t>(indent) + 2);
    } else {
      out += pad + (item.kind == Value::Kind::map ? "- {}\n" : "- []\n");
    }
  }
}

void json_string(std::string_view s, std::string& out) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '<': case '>': case '&':
        out += "\\u00";
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 15]);
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
        } else if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                   (static_cast<unsigned char>(s[i + 2]) == 0xA8 || static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
          // Go escapes U+2028 and U+2029 so the JSON is also valid JavaScript.
          out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
          i += 2;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

void json_value(const Value& v, std::string& out) {
  switch (v.kind) {
    case Value::Kind::string: json_string(v.text, out); break;
    case Value::Kind::raw: out += v.text; break;
    case Value::Kind::seq:
      out.push_back('[');
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        if (i) out.push_back(',');
        json_value(v.items[i], out);
      }
      out.push_back(']');
      break;
    case Value::Kind::map:
      out.push_back('{');
      for (std::size_t i = 0; i < v.fields.size(); ++i) {
        if (i) out.push_back(',');
        json_string(v.fields[i].first, out);
        out.push_back(':');
        json_value(v.fields[i].second, out);
      }
      out.push_back('}');
      break;
  }
}

}  // namespace

std::string yaml_scalar(std::string_view s) {
  if (resolves_to_non_string(s)) return double_quoted(s);
  for (unsigned char c : s)
    if (needs_escape(c)) return double_quoted(s);
  if (plain_allowed(s)) return std::string(s);
  std::string out = "'";
  for (char c : s) {
    out.push_back(c);
    if (c == '\'') out.push_back('\'');
  }
  return out + "'";
}

std::string to_yaml(const Value& root) {
  std::string out;
  if (root.kind == Value::Kind::map) {
    if (root.fields.empty()) return "{}\n";
    emit_map(root, 0, out);
  } else if (root.kind == Value::Kind::seq) {
    if (root.items.empty()) return "[]\n";
    emit_seq(root, 0, out);
  } else {
    out = scalar_text(root) + "\n";
  }
  return out;
}

std::string to_go_json(const Value& v) {
  std::string out;
  json_value(v, out);
  return out;
}

Value from_yaml_node(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence: {
      Value seq = Value::seq();
      for (const auto& item : node) seq.push(from_yaml_node(item));
      return seq;
    }
    case YAML::NodeType::Map: {
      Value map = Value::map();
      for (const auto& kv : node) map.add(kv.first.Scalar(), from_yaml_node(kv.second));
      // Go marshals map[string]interface{} with sorted keys.
      std::stable_sort(map.fields.begin(), map.fields.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      return map;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() == "?") {  // plain: YAML decides the type
        static const std::regex int_re("[-+]?[0-9]+");
        static const std::regex float_re("[-+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?");
        if (s == "true" || s == "True" || s == "TRUE") return Value::raw("true");
        if (s == "false" || s == "False" || s == "FALSE") return Value::raw("false");
        if (s == "~" || s == "null" || s == "Null" || s == "NULL") return Value::raw("null");
        if (std::regex_match(s, int_re)) return Value::raw(s.front() == '+' ? s.substr(1) : s);
        if (std::regex_match(s, float_re)) return Value::raw(s);
      }
      return Value::str(s);
    }
    default:
      return Value::raw("null");
  }
}

std::string rfc3339_now() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now - secs).count();
  std::time_t t = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (nanos > 0) {
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%09lld", static_cast<long long>(nanos));
    std::string f = frac;
    while (f.back() == '0') f.pop_back();  // Go's RFC3339Nano trims trailing zeros
    out += f;
  }
  return out + "Z";
}

}  // namespace cmop::deps::detail
