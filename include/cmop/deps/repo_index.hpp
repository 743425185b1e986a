#pragma once
// A Helm chart repository's index.yaml: parsing (for dependency resolution) and
// generation (for the local-folder publisher).
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

  // Throws Error(invalid_argument) with `origin` (URL or path) on malformed YAML.
  static RepoIndex parse(std::string_view yaml, std::string_view origin);
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
