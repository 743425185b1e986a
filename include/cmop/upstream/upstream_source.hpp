#pragma once
// Reading an upstream chart repository for a mirror: what it offers (filtered by
// the spec), and each offered package downloaded byte for byte with its digest
// checked. Knows nothing of where the packages go (sync does that).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cmop/net/http_client.hpp"
#include "cmop/oci/registry.hpp"
#include "cmop/package/packager.hpp"
#include "cmop/upstream/upstream_spec.hpp"

namespace cmop::upstream {

// What one upstream may cost. Its owner, not cmop's operator, decides what it serves.
struct Limits {
  std::uint64_t max_package_bytes = 100ull << 20;  // a .tgz (Helm's loader refuses more decompressed anyway)
  std::uint64_t max_index_bytes = 256ull << 20;    // index.yaml
  std::uint64_t max_provenance_bytes = 1ull << 20;  // a .prov
  std::chrono::milliseconds request_timeout{120000};
};

// One chart version the upstream lists and the spec selects.
struct Offer {
  std::string name;
  std::string version;
  // sha256 hex the upstream states for the package: index.yaml's digest; "" for
  // a registry, whose chart-layer digest is read from the manifest when fetched.
  std::string digest;
  std::string location;  // HTTP: the package's absolute URL; OCI: the tag
};

class UpstreamSource {
 public:
  // `http` and `registry` carry the connection policy (which hosts may be
  // reached) and TLS trust; every request also ends by the calling thread's
  // net::DeadlineScope. Throws what validate() throws.
  UpstreamSource(UpstreamSpec spec, net::HttpClient http, std::shared_ptr<oci::RegistryClient> registry,
                 Limits limits = {});
  ~UpstreamSource();

  // Every listed version the spec selects, by name then SemVer precedence. A
  // registry's tags are listed page by page ('_' in a tag reads as '+'); a chart
  // the spec names that the upstream does not have is Error(not_found). Throws
  // Error(network|upstream|unauthorized|invalid_argument|too_large) when the
  // upstream cannot be read at all.
  std::vector<Offer> list();

  // Downloads one offer: the bytes must hash to the stated digest (index.yaml's,
  // or the manifest's chart layer) and read as the chart name-version offered,
  // else Error(upstream) naming both. The provenance file (HTTP: <url>.prov; OCI:
  // the provenance layer) comes along when there is one, and must name the
  // package's digest. Failures concern this version only unless they are
  // Error(network|unauthorized).
  package::Package fetch(const Offer& offer);

  // Requests sent to the upstream so far (registry requests counted by the
  // registry client, which others may share: then an upper bound).
  std::uint64_t requests() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmop::upstream
