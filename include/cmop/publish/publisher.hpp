#pragma once
// Where packaged charts go. Two backends: a ChartMuseum server and a local folder
// that is itself a Helm chart repository.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "cmop/error.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/oci/registry.hpp"
#include "cmop/package/packager.hpp"

namespace cmop::publish {

class Publisher {
 public:
  virtual ~Publisher() = default;
  // Uploads the package. With `replace`, an existing name+version is overwritten
  // (ChartMuseum `?force`), otherwise an existing one is Error(conflict).
  // Failures of this one package (the target refuses it: Error(invalid_chart),
  // Error(too_large), Error(conflict)) leave the target usable for the others;
  // Error(network|upstream|unauthorized|io) mean the target itself failed.
  virtual void publish(const package::Package& pkg, bool replace) = 0;
  // Deletes name+version; a chart that is already gone is not an error
  // (idempotent). Any other failure throws: the chart is still published.
  virtual void remove(const std::string& name, const std::string& version) = 0;
  // Deletes name+version if it is still the package with sha256 `digest` (hex;
  // "" = whatever it is). Backends that cannot tell simply remove().
  virtual void remove_exact(const std::string& name, const std::string& version, const std::string& digest) {
    (void)digest;
    remove(name, version);
  }
  // The .tgz bytes of a published name+version, read back from the target (for
  // dependencies resolved from cmop's own chart repository). Throws
  // Error(not_found) when it is not there, otherwise like publish().
  virtual std::string fetch(const std::string& name, const std::string& version) {
    throw Error(Errc::not_found, name + "-" + version, "this publish target cannot hand charts back");
  }
  // Whether the target already serves exactly this package under its name and
  // version (its provenance too when it carries one), so that publishing it would
  // upload nothing. false also when the target cannot tell (the default). Throws
  // like publish() when the target cannot be asked.
  virtual bool holds(const package::Package& pkg) { return false; }
  // Human-readable target, for logs and state ("chartmuseum http://...", "local /srv/charts").
  virtual std::string describe() const = 0;
  // Checks that the target is usable right now (ChartMuseum: an authenticated read
  // of the API, so wrong credentials fail it; local: the folder is writable).
  // Throws like publish().
  // The default accepts, so other implementations (test doubles) need not care.
  virtual void probe() {}
  // A sync publishing many charts brackets them with begin_batch()/end_batch()
  // (nestable, and several syncs may overlap). Inside a batch a backend may defer
  // work whose cost grows with the whole repository, so that N publications do not
  // cost N^2 (the local folder writes index.yaml at end_batch(), not per chart).
  // Packages are still stored durably by each publish(). end_batch() throws like
  // publish(). The defaults do nothing.
  virtual void begin_batch() {}
  virtual void end_batch() {}
  // Makes everything published or removed so far visible in what the target serves
  // (the local folder's index.yaml when its writes are deferred). Throws like
  // publish(). The default has nothing deferred.
  virtual void flush() {}
};

// Every refusal of the configured credentials by ChartMuseum (HTTP 401/403) says
// this in its Error reason, so the roles can tell it apart from other failures
// (the operator's status reason, /readyz).
inline constexpr std::string_view kChartMuseumCredentialsRefused = "ChartMuseum refused the credentials";

// ChartMuseum's default --max-upload-size, named when it answers 413.
inline constexpr std::size_t kChartMuseumDefaultMaxUploadBytes = 20u << 20;

struct ChartMuseumOptions {
  std::string url;          // base URL, e.g. http://localhost:8080
  std::string tenant_path;  // multi-tenant prefix ("org/repo"), "" for single tenant
  std::string username, password;  // basic auth
  std::string bearer_token;        // bearer auth (takes precedence)
  net::TlsOptions tls;
  // Whole-exchange limits: an upload carries the package over possibly slow links.
  std::chrono::milliseconds upload_timeout{120000};
  std::chrono::milliseconds request_timeout{30000};  // deletes and health checks
  // An upload meeting 409 whose digest ChartMuseum's API does not list is looked
  // up once more after this delay: the index is updated asynchronously.
  std::chrono::milliseconds conflict_recheck_delay{1000};
  // ChartMuseum's --max-upload-size when known (0: its default), named when it
  // answers 413.
  std::size_t max_upload_bytes = 0;
};

std::unique_ptr<Publisher> make_chartmuseum_publisher(ChartMuseumOptions options);

struct OciPublisherOptions {
  std::string url;  // oci://host[:port]/path: charts go to <path>/<name>:<version>
  oci::Credentials credentials;
  // Shared with the dependency resolver (one token cache); a private one when null.
  std::shared_ptr<oci::RegistryClient> client;
};

// Pushes charts as `helm push` does (see src/publish/oci_publisher.cpp); removal
// deletes the tagged manifest by digest. Throws Error(invalid_argument) for a bad url.
std::unique_ptr<Publisher> make_oci_publisher(OciPublisherOptions options);

// Writes <dir>/<name>-<version>.tgz and regenerates <dir>/index.yaml atomically
// (digests, created times kept for unchanged entries, urls relative to base_url or
// plain file names). The layout matches ChartMuseum's local storage.
// With `index_delay` 0, index.yaml is rewritten by each publish()/remove() (or once
// at end_batch()). Above 0 the writes are coalesced: each operation changes the
// index in memory only (its package is already durable), and one background writer
// rewrites index.yaml at most `index_delay` after a change, covering every change
// made meanwhile; flush() writes at once. An operation then costs the same however
// big the index is. A crash loses nothing: on start the index is rebuilt from the
// packages in the folder (reconcile), so readers of index.yaml always see a complete
// file, at most `index_delay` old unless they flush() first.
std::unique_ptr<Publisher> make_local_publisher(std::string dir, std::string base_url = "",
                                                std::chrono::milliseconds index_delay = {});

}  // namespace cmop::publish
