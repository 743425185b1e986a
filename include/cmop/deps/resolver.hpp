#pragma once
// Resolves a chart's dependencies against named chart repositories.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cmop/chart/metadata.hpp"
#include "cmop/deps/chart_source.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/oci/registry.hpp"
#include "cmop/package/packager.hpp"

namespace cmop::deps {

struct NamedRepository {
  std::string name;
  std::string url;       // http(s) URL, or kSelfRepositoryUrl for cmop's own publish target
  std::string username;  // optional basic auth for the chart repo
  std::string password;
  // Non-empty: this repository stands in for the chart repository at that URL.
  // A dependency naming that URL (or @name of a repo registered with it) is
  // fetched from `url` instead; Chart.lock still records the URL Chart.yaml names.
  std::string mirror_of;

  bool operator==(const NamedRepository&) const = default;
};

struct ResolvedDependency {
  std::string name;
  std::string version;     // the concrete version chosen
  std::string repository;  // as written in Chart.yaml
  std::string digest;      // sha256 of the downloaded tgz, or tree key for file://
};

struct Resolution {
  std::vector<package::SubchartArchive> archives;
  std::vector<package::SubchartDir> local_subcharts;
  std::vector<ResolvedDependency> resolved;
  std::string lock_yaml;  // Chart.lock as Helm would write it ("" when no dependencies)
};

// What a Resolver keeps between syncs (0 = no bound). Whoever serves a dependency
// URL decides what lands here, so every part is bounded.
struct CacheLimits {
  // On disk (index.yaml copies, chart archives, OCI manifests under cache_dir): at
  // most this many bytes and files, none unused for longer than max_age; past a
  // bound the least recently used go first. Only what was checked is stored: an
  // index that parsed, an archive with its digest that reads as a chart.
  std::uint64_t max_bytes = 256ull << 20;
  std::size_t max_entries = 1000;
  std::chrono::seconds max_age{7 * 24 * 3600};
  // In memory: parsed indexes kept after their sync so that a 304 reuses them
  // instead of parsing again, at most this much index.yaml text (a parsed index
  // costs a few times its text) and this many, least recently used dropped.
  std::uint64_t max_parsed_bytes = 32ull << 20;
  std::size_t max_parsed_entries = 8;
};

// Caches index.yaml per URL on disk (ETag / Last-Modified revalidation) and
// downloaded archives by digest, within CacheLimits. Thread-safe. Every request
// ends by the calling thread's net::DeadlineScope (a sync's deadline), and so does
// waiting for another thread's fetch of the same index.
class Resolver {
 public:
  // `peers`: which chart repositories and registries may be reached (their URLs
  // come from chart authors); every index, archive and registry request is held
  // to it. `registry` serves oci:// dependencies; without one the resolver makes
  // its own with `tls` and `peers`.
  Resolver(std::filesystem::path cache_dir, net::TlsOptions tls = {}, net::ConnectionPolicy peers = {},
           std::shared_ptr<oci::RegistryClient> registry = nullptr, CacheLimits limits = {});
  ~Resolver();

  // The index.yaml files of one sync, shared by all its charts: each is fetched
  // or revalidated at most once per session, so a repo of many charts depending
  // on one large chart repository costs one request and one parse per sync.
  // One session per sync; not for concurrent use.
  class Session {
   public:
    Session();
    // Drops the session's indexes; when they were big, the heap they leave is
    // given back to the system (RSS falls back after a sync of a large index).
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

   private:
    friend class Resolver;
    struct State;
    std::unique_ptr<State> state_;
  };

  // An oci://host/path dependency resolves like `helm dependency update`: the
  // highest tag of <path>/<name> (tags map '_' back to '+') matching the constraint,
  // its manifest (Helm's config media type), the chart layer verified against its
  // digest. Credentials for a registry come from a registered repository whose url
  // is oci:// on the same host. Manifests and layers are cached by digest, so a
  // sync without changes asks the registry for the tag list (or, with an in-sync
  // Chart.lock, only for the tag's digest).
  // Dependencies already vendored in charts/ are left to the packager. Honours Chart.lock when its digest matches the
  // dependencies. Throws Error(dependency) naming the dependency, its constraint and
  // the repository when nothing matches or a download fails; a file:// dependency
  // escaping the tree is Error(forbidden). A repository (or mirror) whose url is
  // kSelfRepositoryUrl is read from `own_charts`; without one it is Error(dependency).
  // For apiVersion v1 charts, `md` must already carry requirements.yaml's list
  // (chart::apply_requirements_yaml); requirements.lock then plays Chart.lock's part.
  // `chart_dir` is the chart's folder in `tree` (a sync's commit); every file the
  // resolution reads (Chart.lock, file:// dependencies) comes from the tree.
  Resolution resolve(const chart::Metadata& md, const util::FileTree& tree, const std::string& chart_dir,
                     const std::vector<NamedRepository>& repositories, Session* session = nullptr,
                     ChartSource* own_charts = nullptr);
  // The same over a folder on disk: clone_root as the tree, chart_dir inside it.
  Resolution resolve(const chart::Metadata& md, const std::filesystem::path& chart_dir,
                     const std::filesystem::path& clone_root,
                     const std::vector<NamedRepository>& repositories, Session* session = nullptr,
                     ChartSource* own_charts = nullptr);

  // Closes the connections kept open for reuse (chart repositories and the
  // registry client); a sync calls it when it ends.
  void close_idle_connections();

  // Names of md's dependencies read from kSelfRepositoryUrl (directly or through a
  // mirror): a sync publishes those charts first. Unresolvable entries are skipped
  // (resolve() reports them).
  static std::vector<std::string> self_served(const chart::Metadata& md,
                                              const std::vector<NamedRepository>& repositories);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmop::deps
