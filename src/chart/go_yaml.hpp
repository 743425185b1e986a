#pragma once
// A byte-exact model of what sigs.k8s.io/yaml (JSON -> go-yaml v2 -> YAML) writes
// for a JSON-shaped document: the one emitter behind every YAML file cmop writes as
// Helm would (Chart.yaml in src/chart, Chart.lock and index.yaml in src/deps).
// Private to the core.
#include <yaml-cpp/yaml.h>

#include <memory>
#include <optional>
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
// string (bool, int, float, null, timestamp), i.e. must quote it. "<<" is not among
// them: its first byte has no entry in resolve.go's hint table, so go-yaml resolves
// it as a string and writes it plain.
bool resolves_to_non_string(std::string_view s);

// go-yaml v2's reader (readerc.go): input it refuses before parsing anything —
// malformed UTF-8, surrogates, and characters YAML does not allow (C0 controls but
// tab/LF/CR, DEL, C1 controls but NEL, U+FFFE/U+FFFF). Returns the byte offset and
// go-yaml's own reason ("control characters are not allowed"); nullopt when clean.
// A leading UTF-8 BOM is fine; input with a UTF-16 BOM is not judged.
std::optional<std::pair<std::size_t, std::string>> reader_refusal(std::string_view yaml);

// --- Go's encoding/json, and the JSON <-> YAML steps of sigs.k8s.io/yaml ----------

// A Go string as encoding/json writes it: quotes; \" \\ \n \r \t \b \f; other C0
// controls and the HTML-unsafe <, >, & as \u00xx; U+2028/U+2029 escaped; invalid UTF-8
// as \ufffd.
void append_json_string(std::string& out, std::string_view s);

// A float64 as encoding/json writes it (shortest round-trip digits; exponent form
// below 1e-6 and from 1e21, "1e-7" not "1e-07").
std::string json_number(double d);

// A YAML value held in an interface{} field of a Helm struct (Dependency.ImportValues):
// sigs.k8s.io/yaml's YAML->JSON step (go-yaml v2's plain-scalar resolution, map keys
// made strings), json.Unmarshal (every number a float64) and json.Marshal (map keys
// sorted, a later duplicate key winning), i.e. the JSON text Helm writes for it.
// Throws std::invalid_argument with Helm's reason where Helm refuses the value
// ("json: unsupported value: +Inf").
std::string json_from_yaml(const YAML::Node& n);

// What sigs.k8s.io/yaml's JSON->YAML step makes of JSON text: the node to emit. A
// number is written as go-yaml reads it back (an int as written, else a float64 in
// FormatFloat 'g' form: 1234567.5 -> 1.2345675e+06; -0 -> 0). Malformed JSON is
// emitted as a plain string.
Node node_from_json(std::string_view json);

// Replaces invalid UTF-8 sequences by U+FFFD, as encoding/json does.
std::string coerce_utf8(std::string_view s);

// The rune at s[i] and its width in bytes; width 0 for an invalid sequence (then
// the rune is U+FFFD and the caller advances one byte, as Go does).
std::pair<char32_t, int> decode_rune(std::string_view s, std::size_t i);
void append_utf8(std::string& out, char32_t r);

}  // namespace cmop::chart::goyaml
