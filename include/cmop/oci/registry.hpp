#pragma once
// A client of the OCI distribution API, as Helm uses registries for charts:
// tags, manifests and blobs, pulled and pushed, with the registries' auth
// (anonymous, basic, and the bearer-token challenge). One client per process;
// it caches tokens until they expire. Thread-safe.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cmop/net/http_client.hpp"

namespace cmop::oci {

inline constexpr const char* kHelmConfigMediaType = "application/vnd.cncf.helm.config.v1+json";
inline constexpr const char* kHelmChartLayerMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
inline constexpr const char* kImageManifestMediaType = "application/vnd.oci.image.manifest.v1+json";

// oci://host[:port]/path: a registry namespace charts live under (a chart named
// N is the repository <path>/N, as `helm push` lays it out).
struct Reference {
  std::string host;  // host[:port], lower-cased
  std::string path;  // no leading or trailing '/'; may be empty
  // Throws Error(invalid_argument) unless `url` is oci://host[:port][/path] with a
  // path of lower-case OCI repository components (no tag, digest, query or userinfo).
  static Reference parse(std::string_view url);
  std::string repository(const std::string& chart) const;  // "<path>/<chart>" or "<chart>"
  std::string str() const;                                 // "oci://host[:port][/path]"
};

// One path component of a repository name: [a-z0-9]+ joined by '.', '_', '__' or '-'s.
bool valid_repository_component(std::string_view component);
// A tag: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}.
bool valid_tag(std::string_view tag);

// Chart versions may carry SemVer build metadata ('+'), which tags cannot:
// Helm pushes 1.0.0+build as the tag 1.0.0_build and reads it back the same way.
std::string tag_for_version(const std::string& version);
std::string version_for_tag(const std::string& tag);

struct Credentials {
  std::string username, password;
  bool empty() const { return username.empty() && password.empty(); }
};

// Where to reach one registry and as whom.
struct Endpoint {
  std::string host;  // host[:port]
  Credentials credentials;
};

struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:<hex>"
  std::uint64_t size = 0;
};

struct Manifest {
  std::string digest;      // "sha256:<hex>" of body
  std::string media_type;  // of the manifest itself
  std::string body;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;
};

// Parses an OCI image manifest (or a Docker schema 2 one). Throws
// Error(upstream) naming `origin` when it is not one.
Manifest parse_manifest(std::string body, std::string digest, const std::string& origin);

// One `WWW-Authenticate` challenge: scheme ("Basic", "Bearer") and its parameters
// (realm, service, scope, ...), keys lower-cased.
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};
// Parses the first challenge of a WWW-Authenticate header (quoted-string values,
// commas inside quotes); nullopt when there is none.
std::optional<Challenge> parse_challenge(std::string_view header);

struct ClientOptions {
  net::TlsOptions tls;                       // CA bundle for https registries
  net::ConnectionPolicy peers;               // which hosts may be reached (registries and token realms)
  std::vector<std::string> plain_http_hosts;  // host[:port] reached over http:// (Helm's --plain-http)
  std::chrono::milliseconds timeout{120000};  // one request, uploads and downloads included
  int tag_page_size = 1000;                   // `n` of tag list requests; the registry may send fewer
};

class RegistryClient {
 public:
  explicit RegistryClient(ClientOptions options = {});
  ~RegistryClient();
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  // Every tag of `repository`, following `Link: <…>; rel="next"` pages. An unknown
  // repository is Error(not_found). Throws Error(unauthorized) when the registry
  // refuses the credentials (or wants some), Error(network|upstream) otherwise.
  std::vector<std::string> tags(const Endpoint& ep, const std::string& repository);
  // The digest a tag (or digest) points at, by HEAD; nullopt for 404.
  std::optional<std::string> resolve(const Endpoint& ep, const std::string& repository, const std::string& reference);
  // The manifest by tag or digest; nullopt for 404. A manifest asked for by digest
  // must hash to it (Error(upstream) otherwise).
  std::optional<Manifest> manifest(const Endpoint& ep, const std::string& repository, const std::string& reference);
  // A blob, verified against its digest (Error(upstream) on mismatch, naming both),
  // at most `max_bytes` (Error(too_large)).
  std::string blob(const Endpoint& ep, const std::string& repository, const std::string& digest,
                   std::uint64_t max_bytes);
  bool has_blob(const Endpoint& ep, const std::string& repository, const std::string& digest);
  // Uploads a blob (POST, then one PUT with the whole content).
  void push_blob(const Endpoint& ep, const std::string& repository, const std::string& bytes,
                 const std::string& digest);
  // Puts a manifest under `tag`; returns its digest.
  std::string push_manifest(const Endpoint& ep, const std::string& repository, const std::string& tag,
                            const std::string& body, const std::string& media_type);
  // Deletes the manifest `digest`. Error(not_found) when absent; a registry that
  // does not allow deletion is Error(forbidden) saying so.
  void delete_manifest(const Endpoint& ep, const std::string& repository, const std::string& digest);
  // GET /v2/ with the endpoint's credentials: the registry is there and takes them.
  void ping(const Endpoint& ep);

  // Requests sent so far (tests and benchmarks count them).
  std::uint64_t requests_sent() const;
  // Connections are kept open between requests (HTTP keep-alive, see
  // net::HttpClient::enable_keep_alive): how many were opened so far, and closing
  // the idle ones (a sync's end).
  std::uint64_t connections_opened() const;
  void close_idle_connections();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmop::oci
