#include "deps/yaml_emit.hpp"

#include "chart/go_yaml.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <regex>

namespace cmop::deps::detail {

namespace {

// A Value as the chart emitter's node: the one model of go-yaml's output that
// Chart.yaml, Chart.lock and index.yaml share (key order, quoting, folding).
// Takes the Value apart as it goes: index.yaml's tree can be large (10,000 charts),
// and only one of the two trees need be whole at a time.
chart::goyaml::Node to_node(Value&& v) {
  using chart::goyaml::Node;
  switch (v.kind) {
    case Value::Kind::string: return Node::str(std::move(v.text));
    case Value::Kind::raw: return Node::lit(std::move(v.text));
    case Value::Kind::seq: {
      Node seq = Node::sequence();
      seq.seq.reserve(v.items.size());
      for (auto& item : v.items) seq.seq.push_back(to_node(std::move(item)));
      v.items.clear();
      v.items.shrink_to_fit();
      return seq;
    }
    case Value::Kind::map: {
      Node map = Node::mapping();
      map.map.reserve(v.fields.size());
      for (auto& [key, value] : v.fields) map.map.emplace_back(std::move(key), to_node(std::move(value)));
      v.fields.clear();
      v.fields.shrink_to_fit();
      return map;
    }
  }
  return Node::str(std::move(v.text));
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

std::string to_yaml(Value root) { return chart::goyaml::marshal(to_node(std::move(root))); }

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

}  // namespace cmop::deps::detail
