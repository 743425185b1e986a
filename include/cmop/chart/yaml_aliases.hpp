#pragma once
// Helm reads every YAML file of a chart (Chart.yaml, values.yaml, Chart.lock) with
// sigs.k8s.io/yaml, whose go-yaml v2 decoder expands aliases while it decodes and
// gives up with "document contains excessive aliasing" when aliases make up too
// large a share of the nodes it has decoded (the guard against billion-laughs
// documents). yaml-cpp shares aliased nodes instead of copying them, so it loads
// such a document happily; this check tells cmop where Helm would refuse.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cmop::chart {

// Replays go-yaml v2's alias accounting over the first document of `yaml` without
// expanding anything (each anchored node's expanded size is computed once, in one
// streaming pass: time and memory stay linear in the input). Returns Helm's reason
// ("yaml: document contains excessive aliasing", or an alias inside the node it
// names) when go-yaml would refuse the document, nullopt otherwise. Syntax errors
// are not reported here (nullopt): the caller's own parse reports them.
std::optional<std::string> helm_alias_refusal(std::string_view yaml);

// Bounds on a document's shape, checked in the same pass (0 = unbounded).
struct YamlBounds {
  std::size_t max_depth = 0;     // nesting of mappings and sequences
  std::uint64_t max_nodes = 0;   // nodes as decoded, every alias counted expanded
};
// As above, and also refuses (with a reason naming the bound) a document nested
// deeper or decoding to more nodes than `bounds` allow.
std::optional<std::string> helm_alias_refusal(std::string_view yaml, const YamlBounds& bounds);

}  // namespace cmop::chart
