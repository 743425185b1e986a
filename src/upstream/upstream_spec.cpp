#include "cmop/upstream/upstream_spec.hpp"

#include <set>

#include "cmop/chart/semver.hpp"
#include "cmop/error.hpp"
#include "cmop/oci/registry.hpp"
#include "cmop/util/redact.hpp"
#include "cmop/util/url.hpp"

namespace cmop::upstream {

bool is_oci_upstream(const UpstreamSpec& spec) { return spec.url.rfind("oci://", 0) == 0; }

void validate(const UpstreamSpec& spec, const std::string& subject) {
  if (is_oci_upstream(spec)) {
    try {
      oci::Reference::parse(spec.url);
    } catch (const Error& e) {
      throw Error(Errc::invalid_argument, subject + " mirror", e.reason());
    }
    if (spec.charts.empty())
      throw Error(Errc::invalid_argument, subject + " mirror",
                  "an oci:// mirror must list its charts (registries offer no portable listing of a namespace)");
  } else if (!util::is_http_url(spec.url)) {
    throw Error(Errc::invalid_argument, subject + " mirror",
                "must be an http(s):// chart repository or an oci://host/path namespace, got \"" +
                    util::redact_url(spec.url) + "\"");
  }
  std::set<std::string> seen;
  for (const auto& c : spec.charts) {
    if (c.name.empty() || c.name.size() > 250 || c.name.find_first_of("/\\ \t\r\n") != std::string::npos)
      throw Error(Errc::invalid_argument, subject + " mirror charts",
                  "every chart needs a name without '/', '\\' or whitespace");
    if (!seen.insert(c.name).second)
      throw Error(Errc::invalid_argument, subject + " mirror charts", "\"" + c.name + "\" is listed twice");
    if (is_oci_upstream(spec) && !oci::valid_repository_component(c.name))
      throw Error(Errc::invalid_argument, subject + " mirror charts",
                  "\"" + c.name + "\" cannot be an OCI repository name");
    if (c.versions.empty()) continue;
    try {
      chart::Constraint::parse(c.versions);
    } catch (const Error& e) {
      throw Error(Errc::invalid_argument, subject + " mirror charts \"" + c.name + "\" versions", e.reason());
    }
  }
}

}  // namespace cmop::upstream
