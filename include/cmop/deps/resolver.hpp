#pragma once
// Resolves a chart's dependencies against named chart repositories.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cmop/chart/metadata.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/package/packager.hpp"

namespace cmop::deps {

struct NamedRepository {
  std::string name;
  std::string url;
  std::string username;  // optional basic auth for the chart repo
  std::string password;

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

// Caches index.yaml per URL on disk (ETag / Last-Modified revalidation) and
// downloaded archives by digest. Thread-safe.
class Resolver {
 public:
  // `peers`: which chart repositories may be reached (their URLs come from chart
  // authors); every index and archive request is held to it.
  Resolver(std::filesystem::path cache_dir, net::TlsOptions tls = {}, net::ConnectionPolicy peers = {});
  ~Resolver();

  // The index.yaml files of one sync, shared by all its charts: each is fetched
  // or revalidated at most once per session, so a repo of many charts depending
  // on one large chart repository costs one request and one parse per sync.
  // One session per sync; not for concurrent use.
  class Session {
   public:
    Session();
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

   private:
    friend class Resolver;
    struct State;
    std::unique_ptr<State> state_;
  };

  // chart_dir is absolute and inside clone_root. Dependencies already vendored in
  // charts/ are left to the packager. Honours Chart.lock when its digest matches the
  // dependencies. Throws Error(dependency) naming the dependency, its constraint and
  // the repository when nothing matches or a download fails; a file:// dependency
  // escaping clone_root is Error(forbidden).
  Resolution resolve(const chart::Metadata& md, const std::filesystem::path& chart_dir,
                     const std::filesystem::path& clone_root,
                     const std::vector<NamedRepository>& repositories, Session* session = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmop::deps
