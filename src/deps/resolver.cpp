// Dependency resolution with Helm's semantics (pkg/downloader/manager.go,
// internal/resolver/resolver.go): repository forms, Chart.lock digests, and a
// chart per dependency from the source its repository names (dependency_source.hpp).
#include "cmop/deps/resolver.hpp"

#include <algorithm>

#include "cmop/error.hpp"
#include "cmop/util/file_tree.hpp"
#include "cmop/util/hash.hpp"
#include "deps/chart_lock.hpp"
#include "deps/dependency_source.hpp"
#include "deps/disk_cache.hpp"

namespace cmop::deps {

namespace fs = std::filesystem;

struct Resolver::Session::State : detail::SessionState {};

Resolver::Session::Session() : state_(std::make_unique<State>()) {}
Resolver::Session::~Session() = default;

struct Resolver::Impl {
  Impl(fs::path cache_dir, CacheLimits limits, net::HttpClient client, std::shared_ptr<oci::RegistryClient> registry)
      : cache(std::move(cache_dir), limits),
        http(std::move(client)),
        repositories(http, cache),
        oci(std::move(registry), cache) {
    // Asked in turn; the first whose matches() says yes resolves the dependency.
    sources.push_back(detail::vendored_source());
    sources.push_back(detail::file_source());
    sources.push_back(detail::oci_source(oci));
    sources.push_back(detail::self_source());
    sources.push_back(detail::http_repository_source(repositories));
  }

  detail::DependencySource& source_for(const detail::DependencyRequest& r) {
    for (auto& s : sources)
      if (s->matches(r)) return *s;
    // locate() has refused every other repository form.
    throw Error(Errc::dependency, r.subject, "no source serves repository " + r.dependency.repository);
  }

  detail::DiskCache cache;
  net::HttpClient http;
  detail::ChartRepositoryClient repositories;
  detail::OciChartPuller oci;
  std::vector<std::unique_ptr<detail::DependencySource>> sources;
};

namespace {

// A chart's dependencies as Helm hashes and locks them: @name / alias:name
// replaced by the registered URL, each with where it is fetched from.
struct Located {
  std::vector<chart::Dependency> req;
  std::vector<std::optional<detail::Remote>> remotes;
  std::vector<std::string> subjects;
};

std::string subject_of(const chart::Metadata& md, const chart::Dependency& d) {
  return md.name + " dependency " + d.name + " (" + (d.version.empty() ? "*" : d.version) + ") from " +
         (d.repository.empty() ? "charts/" : d.repository);
}

Located locate_all(const chart::Metadata& md, const std::vector<NamedRepository>& repositories) {
  Located out;
  out.req = md.dependencies;
  for (std::size_t i = 0; i < md.dependencies.size(); ++i) {
    out.subjects.push_back(subject_of(md, md.dependencies[i]));
    out.remotes.push_back(detail::locate(md.dependencies[i], repositories, out.subjects[i], out.req[i].repository));
  }
  return out;
}

// Adds what a source found to the resolution (an archive once it reads as the chart).
void record(detail::SourcedChart found, const chart::Dependency& d, const std::string& written,
            const std::string& subject, Resolution& out) {
  using Kind = detail::SourcedChart::Kind;
  if (found.kind == Kind::vendored) return;
  if (found.kind == Kind::folder) {
    out.local_subcharts.push_back({found.folder});
  } else {
    detail::check_archive(found.tgz, d.name, subject);
    found.digest = util::sha256_hex(found.tgz);
    out.archives.push_back({d.name, found.version, std::move(found.tgz)});
  }
  out.resolved.push_back({d.name, found.version, written, found.digest});
}

}  // namespace

Resolver::Resolver(fs::path cache_dir, net::TlsOptions tls, net::ConnectionPolicy peers,
                   std::shared_ptr<oci::RegistryClient> registry, CacheLimits limits) {
  if (!registry) {
    oci::ClientOptions o;
    o.tls = tls;
    o.peers = peers;
    registry = std::make_shared<oci::RegistryClient>(std::move(o));
  }
  net::HttpClient http(std::move(tls), std::move(peers));
  // A sync asks the same chart repositories for index.yaml and packages again and
  // again: one connection per repository host instead of one per request.
  http.enable_keep_alive();
  impl_ = std::make_unique<Impl>(std::move(cache_dir), limits, std::move(http), std::move(registry));
}

void Resolver::close_idle_connections() {
  impl_->http.close_idle();
  impl_->oci.registry().close_idle_connections();
}

Resolver::~Resolver() = default;

Resolution Resolver::resolve(const chart::Metadata& md, const fs::path& chart_dir, const fs::path& clone_root,
                             const std::vector<NamedRepository>& repositories, Session* shared_session,
                             ChartSource* own_charts) {
  if (md.dependencies.empty()) return {};
  util::DirectoryTree tree(clone_root);
  auto rel = tree.relative_path(chart_dir);
  if (!rel) throw Error(Errc::forbidden, chart_dir.string(), "the chart folder is outside the repository");
  return resolve(md, tree, *rel, repositories, shared_session, own_charts);
}

Resolution Resolver::resolve(const chart::Metadata& md, const util::FileTree& tree, const std::string& chart_dir,
                             const std::vector<NamedRepository>& repositories, Session* shared_session,
                             ChartSource* own_charts) {
  Resolution out;
  if (md.dependencies.empty()) return out;
  Session own_session;
  detail::ResolveContext context{tree, chart_dir, shared_session ? *shared_session->state_ : *own_session.state_,
                                 own_charts};

  const Located located = locate_all(md, repositories);
  const std::vector<chart::Dependency>& req = located.req;
  // A Chart.lock is honoured only while its digest still matches the dependencies.
  std::optional<detail::LockFile> lock = detail::read_lock(tree, chart_dir, md.api_version);
  const bool lock_in_sync = lock && detail::lock_in_sync(*lock, md, req);

  std::vector<chart::Dependency> locked;
  for (std::size_t i = 0; i < req.size(); ++i) {
    std::optional<std::string> locked_version;
    if (lock_in_sync) locked_version = lock->dependencies[i].version;
    const detail::DependencyRequest request{req[i], located.remotes[i], locked_version, located.subjects[i]};
    detail::SourcedChart found = impl_->source_for(request).resolve(request, context);
    chart::Dependency& lk = locked.emplace_back();
    lk.name = req[i].name;
    lk.repository = req[i].repository;
    lk.version = found.version;
    record(std::move(found), req[i], md.dependencies[i].repository, located.subjects[i], out);
  }

  // Only vendored dependencies (repository: ""): nothing was resolved, and
  // `helm package` writes no lock of its own (a Chart.lock found stays as found).
  if (std::all_of(req.begin(), req.end(), [](const chart::Dependency& d) { return d.repository.empty(); }))
    return out;
  // Helm leaves an in-sync lock untouched.
  out.lock_yaml = lock_in_sync ? lock->text : detail::lock_yaml(req, locked);
  return out;
}

std::vector<std::string> Resolver::self_served(const chart::Metadata& md,
                                               const std::vector<NamedRepository>& repositories) {
  std::vector<std::string> out;
  for (const auto& d : md.dependencies) {
    try {
      std::string recorded;
      if (auto remote = detail::locate(d, repositories, d.name, recorded); remote && remote->self)
        out.push_back(d.name);
    } catch (const Error&) {
      // reported by resolve()
    }
  }
  return out;
}

}  // namespace cmop::deps
