#pragma once
// Chart.yaml: parsing and validation with Helm's rules.
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cmop::chart {

struct Maintainer {
  std::string name, email, url;
};

struct Dependency {
  std::string name;
  std::string version;     // a semver constraint
  std::string repository;  // URL, "@name", "alias:name", "file://..." or empty (vendored in charts/)
  std::string condition;
  std::vector<std::string> tags;
  bool enabled_set = false;
  bool enabled = true;
  std::vector<std::string> import_values;  // kept verbatim as YAML strings
  std::string alias;
};

struct Metadata {
  std::string api_version;  // "v1" or "v2"
  std::string name;
  std::string home;
  std::vector<std::string> sources;
  std::string version;  // as written
  std::string description;
  std::vector<std::string> keywords;
  std::vector<Maintainer> maintainers;
  std::string icon;
  std::string condition;
  std::string tags;
  std::string app_version;
  bool deprecated = false;
  std::map<std::string, std::string> annotations;
  std::string kube_version;
  std::vector<Dependency> dependencies;
  std::string type;  // "", "application" or "library"
};

// Parses Chart.yaml text. Throws Error(invalid_chart) with `origin` (a path) as subject
// when the YAML is malformed or a field has the wrong type.
Metadata parse_chart_yaml(std::string_view yaml, std::string_view origin);

// Helm's chartutil validation: apiVersion, name (no path separators, Helm's
// charset), SemVer 2 version, type, dependency names/aliases, maintainers.
// Throws Error(invalid_chart) with `origin` as subject and the first failing rule.
void validate(const Metadata& md, std::string_view origin);

// Serializes as `helm package` writes Chart.yaml into the archive: the Go struct
// marshalled through JSON (sigs.k8s.io/yaml), i.e. keys sorted, empty fields omitted,
// strings quoted exactly where go-yaml quotes them.
std::string to_helm_yaml(const Metadata& md);

}  // namespace cmop::chart
