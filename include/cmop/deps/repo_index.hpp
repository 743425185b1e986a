#pragma once
// A Helm chart repository's index.yaml: parsing (for dependency resolution) and
// generation (for the local-folder publisher).
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cmop/chart/metadata.hpp"

namespace cmop::deps {

struct IndexEntry {
  chart::Metadata metadata;     // name, version, appVersion, ... as in Chart.yaml
  std::vector<std::string> urls;
  std::string digest;
  std::string created;          // RFC 3339
  bool removed = false;         // index.yaml `removed: true`: kept listed, never chosen
};

struct RepoIndex {
  std::string api_version = "v1";
  std::string generated;  // RFC 3339
  std::map<std::string, std::vector<IndexEntry>> entries;  // per name, newest version first

  // What one parse may cost. An index comes from whoever serves a dependency URL,
  // and a chart author picks that URL: an alias bomb or a huge index must be
  // refused, not expanded until the process is OOM-killed.
  struct Limits {
    std::size_t max_bytes = 256u << 20;      // large public indexes run to tens of MiB
    std::size_t max_depth = 64;              // a real index nests about 6 levels
    std::size_t max_entries = 1000000;       // chart versions over all names
    std::uint64_t max_nodes = 64000000;      // YAML nodes, aliases counted expanded
  };

  // Throws Error(invalid_argument) with `origin` (URL or path) on malformed YAML,
  // on aliasing Helm refuses ("excessive aliasing") and on input beyond `limits`.
  static RepoIndex parse(std::string_view yaml, std::string_view origin, const Limits& limits);
  static RepoIndex parse(std::string_view yaml, std::string_view origin) { return parse(yaml, origin, Limits{}); }
  std::string to_yaml() const;

  // Highest version of `name` matching `constraint` (Masterminds rules); nullopt if none.
  std::optional<IndexEntry> best_match(const std::string& name, const std::string& constraint) const;
  void add(IndexEntry entry);  // replaces the same name+version, keeps ordering
  bool remove(const std::string& name, const std::string& version);
};

// The chart's metadata as Helm's encoding/json writes it (fields in Go struct
// order, empty ones omitted): an index entry's metadata part, and the config blob
// `helm push` stores in an OCI registry.
std::string chart_metadata_json(const chart::Metadata& md);

}  // namespace cmop::deps
