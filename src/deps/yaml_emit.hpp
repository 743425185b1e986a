#pragma once
// Output side of Helm's files (index.yaml, Chart.lock) and the JSON Helm hashes for
// Chart.lock digests. Helm marshals Go structs through JSON into YAML
// (sigs.k8s.io/yaml), so YAML keys come out sorted and strings are quoted where
// go-yaml quotes them; JSON keeps the struct field order and Go's escaping.
#include <yaml-cpp/yaml.h>

#include "cmop/chart/metadata.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cmop::deps::detail {

struct Value {
  enum class Kind { string, raw, seq, map } kind = Kind::string;
  std::string text;  // string: the characters; raw: Go's JSON text of a value (true, 3, null, {"a":1})
  std::vector<Value> items;
  std::vector<std::pair<std::string, Value>> fields;  // in struct order (JSON); YAML sorts

  // Declared here, defaulted below the class: with libstdc++, clang cannot check
  // pair<string, Value>'s default constructor while Value is still incomplete.
  Value();
  static Value str(std::string s) { return of(Kind::string, std::move(s)); }
  static Value raw(std::string s) { return of(Kind::raw, std::move(s)); }
  static Value seq() { return of(Kind::seq, {}); }
  static Value map() { return of(Kind::map, {}); }
  static Value of(Kind kind, std::string text) {
    Value v;
    v.kind = kind;
    v.text = std::move(text);
    return v;
  }
  Value& add(std::string key, Value v) {
    fields.emplace_back(std::move(key), std::move(v));
    return fields.back().second;
  }
  void push(Value v) { items.push_back(std::move(v)); }
};
inline Value::Value() = default;

// The YAML document sigs.k8s.io/yaml (go-yaml v2) writes for `root`: the chart
// emitter's model (src/chart/go_yaml.hpp), so index.yaml and Chart.lock follow the
// same key order, quoting and 80-column folding as Chart.yaml.
std::string to_yaml(Value root);  // consumed: pass std::move(root) for a large tree

// Go's encoding/json output (no spaces, HTML-safe escaping of <, >, &).
std::string to_go_json(const Value& v);

// A Chart.yaml / index.yaml / Chart.lock dependency record. Throws
// Error(invalid_argument) naming origin and the field path on wrong types.
chart::Dependency read_dependency(const YAML::Node& node, std::string_view origin, const std::string& path);

// helm's chart.Dependency as Go marshals it: fields in struct order (name, version,
// repository, condition, tags, enabled, import-values, alias), empty ones omitted
// except name and repository.
Value dependency_value(const chart::Dependency& d);

}  // namespace cmop::deps::detail
