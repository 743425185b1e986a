#pragma once
// A byte-exact model of what sigs.k8s.io/yaml (JSON -> go-yaml v2 -> YAML) writes
// for a JSON-shaped document: the one emitter behind every YAML file cmop writes as
// Helm would (Chart.yaml in src/chart, Chart.lock and index.yaml in src/deps).
// Private to the core.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cmop::chart::goyaml {

struct Node {
  enum class Kind { string, literal, map, seq } kind = Kind::string;
  std::string text;  // string: the value; literal: already-resolved plain text (true, 42)
  std::vector<std::pair<std::string, Node>> map;  // order irrelevant: the emitter sorts keys
  std::vector<Node> seq;

  // Declared here, defaulted below the class: with libstdc++, clang cannot check
  // pair<string, Node>'s default constructor while Node is still incomplete.
  Node();

  static Node str(std::string s) {
    Node n;
    n.text = std::move(s);
    return n;
  }
  static Node lit(std::string s) {
    Node n;
    n.kind = Kind::literal;
    n.text = std::move(s);
    return n;
  }
  static Node mapping() {
    Node n;
    n.kind = Kind::map;
    return n;
  }
  static Node sequence() {
    Node n;
    n.kind = Kind::seq;
    return n;
  }
};
inline Node::Node() = default;

// The YAML document go-yaml v2's Marshal produces for `root` (a mapping).
std::string marshal(const Node& root);

// go-yaml's key order (keyList.Less in sorter.go, the same in v2 and v3): at the
// first differing rune, two letters compare by code point, a letter sorts after a
// non-letter, and otherwise the digit runs starting there compare numerically
// ("app9" < "app10"), then by length, then by rune. Digit runs are ASCII here
// (Go's unicode.IsDigit also takes other scripts' digits). Exposed for tests.
bool key_less(std::string_view a, std::string_view b);

// Whether go-yaml v2 would resolve the plain scalar `s` to something other than a
// string (bool, int, float, null, timestamp, merge key), i.e. must quote it.
bool resolves_to_non_string(std::string_view s);

// Replaces invalid UTF-8 sequences by U+FFFD, as encoding/json does.
std::string coerce_utf8(std::string_view s);

// The rune at s[i] and its width in bytes; width 0 for an invalid sequence (then
// the rune is U+FFFD and the caller advances one byte, as Go does).
std::pair<char32_t, int> decode_rune(std::string_view s, std::size_t i);
void append_utf8(std::string& out, char32_t r);

}  // namespace cmop::chart::goyaml
