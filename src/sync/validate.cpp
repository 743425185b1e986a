#include "sync/validate.hpp"

#include <set>

#include "cmop/error.hpp"
#include "cmop/git/repository.hpp"
#include "cmop/oci/registry.hpp"
#include "cmop/util/names.hpp"
#include "cmop/util/redact.hpp"
#include "cmop/util/url.hpp"

namespace cmop::sync {
namespace {

bool is_oci_url(const std::string& url) { return url.rfind("oci://", 0) == 0; }

}  // namespace

void validate_spec(const RepoSpec& spec, bool allow_local) {
  util::require_dns1123_label("repo name", spec.name);
  if (spec.git.empty()) throw Error(Errc::invalid_argument, "repo " + spec.name, "git URL is required");
  git::validate_url(spec.git, allow_local);
  if (spec.path.find("..") != std::string::npos || (!spec.path.empty() && spec.path.front() == '/'))
    throw Error(Errc::invalid_argument, "repo " + spec.name + " path \"" + spec.path + "\"",
                "must be a relative path inside the repository without '..'");
  std::set<std::string> seen;
  for (auto& d : spec.dependencies) {
    if (d.name.empty() || d.url.empty())
      throw Error(Errc::invalid_argument, "repo " + spec.name, "every dependency needs a name and a url");
    if (!seen.insert(d.name).second)
      throw Error(Errc::invalid_argument, "repo " + spec.name, "dependency \"" + d.name + "\" is listed twice");
  }
}

void validate_dependency_repo(const deps::NamedRepository& r) {
  const std::string subject = "dependency repository \"" + r.name + "\"";
  if (r.name.empty() || r.name.size() > 253 || r.name.find_first_of("/\\ \t\r\n") != std::string::npos)
    throw Error(Errc::invalid_argument, subject, "name must be non-empty, without '/', '\\' or whitespace");
  if (!r.mirror_of.empty() && !util::is_http_url(r.mirror_of) && !is_oci_url(r.mirror_of))
    throw Error(Errc::invalid_argument, subject,
                "mirrorOf must be the http(s):// or oci:// URL the charts name, got \"" + util::redact_url(r.mirror_of) + "\"");
  if (is_oci_url(r.url) || is_oci_url(r.mirror_of)) {
    for (const auto* url : {&r.url, &r.mirror_of})
      if (is_oci_url(*url)) {
        try {
          oci::Reference::parse(*url);
        } catch (const Error& e) {
          throw Error(Errc::invalid_argument, subject, e.reason());
        }
      }
    if (is_oci_url(r.url)) return;
  }
  if (r.url == deps::kSelfRepositoryUrl) {
    if (r.mirror_of.empty())
      throw Error(Errc::invalid_argument, subject,
                  "url \"self\" (cmop's own chart repository) needs mirrorOf: the URL the charts name it by");
    return;
  }
  if (!util::is_http_url(r.url))
    throw Error(Errc::invalid_argument, subject,
                "url must start with http://, https:// or oci:// (or be \"self\" for a mirror), got \"" +
                    util::redact_url(r.url) + "\"");
}

}  // namespace cmop::sync
