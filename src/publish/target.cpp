#include "cmop/publish/target.hpp"

#include "cmop/error.hpp"
#include "cmop/util/redact.hpp"
#include "cmop/util/url.hpp"

namespace cmop::publish {
namespace fs = std::filesystem;

std::unique_ptr<Publisher> make_target_publisher(const TargetOptions& options) {
  const int targets = !options.chartmuseum_url.empty() + !options.oci_registry.empty() +
                      !options.local_repo_dir.empty();
  if (targets != 1)
    throw Error(Errc::invalid_argument, "--oci-registry, --chartmuseum-url or --local-repo-dir",
                targets == 0 ? "a publish target is required: give one of them" : "give only one of them");
  if (!options.local_base_url.empty() && options.local_repo_dir.empty())
    throw Error(Errc::invalid_argument, "--index-url", "goes with --local-repo-dir (the folder it is the URL of)");
  if (!options.oci_registry.empty()) {
    OciPublisherOptions oo;
    oo.url = options.oci_registry;
    oo.credentials = options.oci_credentials;
    oo.client = options.registry;
    try {
      return make_oci_publisher(std::move(oo));
    } catch (const Error& e) {
      throw Error(Errc::invalid_argument, "--oci-registry \"" + util::redact_url(options.oci_registry) + "\"", e.reason());
    }
  }
  if (!options.chartmuseum_url.empty()) {
    if (!util::is_http_url(options.chartmuseum_url))
      throw Error(Errc::invalid_argument, "--chartmuseum-url \"" + util::redact_url(options.chartmuseum_url) + "\"",
                  "must be an http:// or https:// URL");
    ChartMuseumOptions cm;
    cm.url = options.chartmuseum_url;
    cm.tenant_path = options.chartmuseum_tenant;
    cm.username = options.chartmuseum_username;
    cm.password = options.chartmuseum_password;
    cm.bearer_token = options.chartmuseum_token;
    cm.tls = options.tls;
    cm.max_upload_bytes = options.chartmuseum_max_upload_bytes;
    return make_chartmuseum_publisher(std::move(cm));
  }
  if (!options.local_base_url.empty() && !util::is_http_url(options.local_base_url))
    throw Error(Errc::invalid_argument, "--index-url \"" + util::redact_url(options.local_base_url) + "\"",
                "must be an http:// or https:// URL");
  try {
    fs::create_directories(options.local_repo_dir);
  } catch (const fs::filesystem_error& e) {
    throw Error(Errc::io, options.local_repo_dir.string(), e.code().message());
  }
  return make_local_publisher(fs::absolute(options.local_repo_dir).lexically_normal().string(),
                              options.local_base_url, options.local_index_delay);
}

}  // namespace cmop::publish
