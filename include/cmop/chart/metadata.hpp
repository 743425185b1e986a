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
  // Each entry as Helm holds it (an interface{}: usually a string or a {child, parent}
  // mapping, but any YAML value is kept): the JSON text Go's encoding/json writes for
  // it after sigs.k8s.io/yaml's conversion — "\"data\"", "{\"child\":\"a\",\"parent\":\"b\"}",
  // "{\"child\":1,\"parent\":null}" (numbers are float64s: 0x1F is 31, 1.50 is 1.5).
  // So an entry keeps its YAML types in the package's Chart.yaml, in index.yaml and
  // its JSON, and in Chart.lock digests, as with Helm.
  std::vector<std::string> import_values;
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
// when the YAML is malformed or a field has the wrong type ("field X: expected ..."),
// or holds what go-yaml's reader refuses anywhere, comments included (a raw DEL or
// other control character, malformed UTF-8: "invalid YAML at line L, column C:
// control characters are not allowed", go-yaml's reason, as Helm refuses to load it),
// Error(too_large) past 4 MiB. Decodes as Helm does (field names matched
// case-insensitively, a later key overrides an earlier one, unknown keys ignored),
// except that a number or bool given for a string field keeps its text as written
// (`appVersion: 1.10` is "1.10"; Helm's float round trip would turn it into "1.1").
// Only known fields are visited, so YAML alias bombs are never expanded.
Metadata parse_chart_yaml(std::string_view yaml, std::string_view origin);

// Helm's loader overlays requirements.yaml (the v1 dependency list) onto the
// metadata whatever the apiVersion: its `dependencies` replace those of Chart.yaml.
// A UTF-8 BOM is dropped first. Throws Error(invalid_chart) with `origin` as subject
// when the file is not a YAML mapping, holds what go-yaml's reader refuses, a dependency is malformed, or it is an alias bomb.
void apply_requirements_yaml(Metadata& md, std::string_view yaml, std::string_view origin);

// Helm's chart.Metadata.Validate, plus the lint-time rules that keep a chart
// servable: apiVersion required and v1|v2; name required, not "."/"..", no '/' or
// '\\', nothing sanitizeString would change; version a semantic version as Helm
// checks it (Masterminds' lenient NewVersion: "1.0" and "v1.2.3" pass, like Helm);
// type empty|application|library; every dependency named
// like a chart, its alias matching ^[a-zA-Z0-9_-]+$, no two with the same name/alias.
// Helm only *sanitizes* free-text fields (descriptions, URLs); so does to_helm_yaml.
// A maintainer without a name passes: only `helm lint` flags it, `helm package`
// (Helm 3 and 4) packages it.
// Throws Error(invalid_chart) with `origin` as subject and the first failing rule.
void validate(const Metadata& md, std::string_view origin);

// Serializes as `helm package` writes Chart.yaml into the archive: the Go struct
// marshalled through JSON (sigs.k8s.io/yaml), i.e. keys sorted, empty fields omitted,
// strings quoted exactly where go-yaml v2 quotes them, long lines folded at 80
// columns, after Helm's sanitizeString of the fields Validate sanitizes.
std::string to_helm_yaml(const Metadata& md);

// Helm's sanitizeString: Unicode white space becomes ' ', non-printable characters
// are dropped, invalid UTF-8 becomes U+FFFD.
std::string sanitize_string(std::string_view s);
// Applies sanitize_string to exactly the fields Helm's Validate sanitizes.
void sanitize(Metadata& md);

}  // namespace cmop::chart
