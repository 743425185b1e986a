// A mirror's sync: the upstream's new packages published through the same
// claims and uploads as a git repo's charts (one ownership rule for both).
#include "cmop/oci/registry.hpp"
#include "cmop/sync/upstream_sync.hpp"
#include "sync/discover.hpp"
#include "sync/publish.hpp"
#include "sync/sync_run.hpp"
#include "sync/workspace_impl.hpp"

namespace cmop::sync {

SyncReport Workspace::Impl::sync_upstream(SyncRun& run) {
  RepoState& state = run.state;
  net::HttpClient http(options.tls, options.dependency_peers);
  http.enable_keep_alive();
  auto registry = options.registry;
  if (!registry && upstream::is_oci_upstream(state.spec.upstream)) {
    oci::ClientOptions o;
    o.tls = options.tls;
    o.peers = options.dependency_peers;
    registry = std::make_shared<oci::RegistryClient>(std::move(o));
  }
  const ChartLayout no_folders;
  UpstreamPublishing publishing{
      [&](const package::Package& pkg, const std::string& chart_path, ChartOutcome& outcome) {
        claim_and_upload(state, chart_path, pkg, no_folders);
        outcome.status = ChartOutcome::Status::published;
      },
      [&](const publish::Publication& pub) { remove_publication(state, pub); }, publisher->describe(),
      run.deadline};
  if (auto failure = failure_of([&] {
        upstream::UpstreamSource source(state.spec.upstream, http, registry);
        PublishBatch batch(*publisher);
        sync_from_upstream(state, source, run.report, publishing);
        batch.end();
      }))
    if (run.report.error.empty()) run.report.error = *failure;
  if (registry) registry->close_idle_connections();
  return record(run);
}

}  // namespace cmop::sync
