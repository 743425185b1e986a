#pragma once
// An upstream chart repository to mirror (air-gapped clusters): an HTTP chart
// repository (its index.yaml) or an oci:// registry namespace, and which of its
// charts and versions to take. The repo spec's alternative to a git URL.
#include <string>
#include <vector>

namespace cmop::upstream {

struct ChartSelection {
  std::string name;
  std::string versions;  // SemVer constraint (Masterminds rules); "" = every version

  bool operator==(const ChartSelection&) const = default;
};

struct UpstreamSpec {
  std::string url;  // http(s):// chart repository or oci://host[:port]/path; "" = none
  // Empty = every chart and version the repository lists (HTTP only: registries
  // offer no portable listing of a namespace, so an oci:// upstream names its charts).
  std::vector<ChartSelection> charts;
  std::string username, password;  // basic auth (registries: also for the token exchange)
  // Versions this mirror published that the upstream no longer offers (or the
  // selection no longer takes) are removed. Off by default: chart repositories
  // are append-only by convention and pinned installs must keep working.
  bool prune = false;

  bool empty() const { return url.empty(); }
  bool operator==(const UpstreamSpec&) const = default;
};

bool is_oci_upstream(const UpstreamSpec& spec);

// Throws Error(invalid_argument) naming `subject` and the field at fault: a URL
// that is neither http(s):// nor a valid oci:// namespace, a chart listed twice or
// without a name, a constraint that does not parse, an oci:// upstream without charts.
void validate(const UpstreamSpec& spec, const std::string& subject);

}  // namespace cmop::upstream
