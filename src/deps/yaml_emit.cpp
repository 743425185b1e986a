#include "deps/yaml_emit.hpp"

#include "chart/go_yaml.hpp"

#include <string>

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
    // A JSON literal or value (an import-values entry) as go-yaml writes what it holds.
    case Value::Kind::raw: return chart::goyaml::node_from_json(v.text);
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

void json_value(const Value& v, std::string& out) {
  switch (v.kind) {
    case Value::Kind::string: chart::goyaml::append_json_string(out, v.text); break;
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
        chart::goyaml::append_json_string(out, v.fields[i].first);
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

}  // namespace cmop::deps::detail
