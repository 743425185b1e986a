#pragma once
// Charts in an OCI registry, as `helm dependency update` reads them: the highest
// tag of <path>/<name> (tags map '_' back to '+') matching a constraint, its
// manifest (Helm's config media type), the chart layer verified against its
// digest. Manifests and layers are cached on disk by digest.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cmop/chart/metadata.hpp"
#include "cmop/oci/registry.hpp"
#include "deps/dependency_location.hpp"
#include "deps/disk_cache.hpp"

namespace cmop::deps::detail {

// The tag lists one sync read, per host/repository: each listed at most once.
struct OciSession {
  std::map<std::string, std::vector<std::string>> tags;
};

class OciChartPuller {
 public:
  // `cache` outlives the puller.
  OciChartPuller(std::shared_ptr<oci::RegistryClient> registry, DiskCache& cache)
      : registry_(std::move(registry)), cache_(cache) {}

  struct Pulled {
    std::string version, tgz;
  };
  // Chart `d.name` from the registry namespace `remote`: `locked_version` when
  // given (only its tag's digest is asked for), else the highest tag matching
  // d.version. Throws Error(dependency) naming `subject`.
  Pulled pull(OciSession& session, const Remote& remote, const chart::Dependency& d,
              const std::optional<std::string>& locked_version, const std::string& subject);

  oci::RegistryClient& registry() { return *registry_; }

 private:
  struct Target;
  std::string choose_version(OciSession& session, const Target& t, const chart::Dependency& d,
                             const std::string& subject);
  std::string chart_layer(const Target& t, const std::string& version, const std::string& chart,
                          const std::string& subject);
  oci::Manifest cached_manifest(const Target& t, const std::string& digest, const std::string& subject);

  std::shared_ptr<oci::RegistryClient> registry_;
  DiskCache& cache_;
};

}  // namespace cmop::deps::detail
