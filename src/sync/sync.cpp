// One sync of one repo, as its steps: fetch the commit, discover its charts,
// order them, then per chart resolve, package and publish; withdraw what left the
// repo; record the outcome. Each step lives in the file named for it.
#include "cmop/net/http_client.hpp"
#include "sync/discover.hpp"
#include "sync/fetch.hpp"
#include "sync/order.hpp"
#include "sync/package.hpp"
#include "sync/publish.hpp"
#include "sync/resolve.hpp"
#include "sync/sync_run.hpp"
#include "sync/workspace_impl.hpp"

namespace cmop::sync {

SyncReport Workspace::Impl::sync(const std::string& name, std::chrono::steady_clock::time_point requested_at) {
  SyncRun run(name, stored_state(name), options.sync_timeout);
  const InFlight working(*this, name, run.state);
  // Every HTTP request of this sync (dependencies, registries, the publisher) ends by then too.
  const net::DeadlineScope network_deadline(run.deadline);

  // fetch, discover: without a commit and its charts, the sync fails as a whole.
  if (auto failure = failure_of([&] {
        run.checkout.emplace(fetch(mirrors, options, run, requested_at));
        run.layout.emplace(run.tree(), run.state.spec.path);
      })) {
    run.report.error = *failure;
    return record(run);
  }

  // order: charts read from cmop's own repository follow the charts that publish them.
  run.repositories = repositories_for(run.state.spec);
  PublishBatch batch(*publisher);
  const SelfServed from_self = self_served(*run.layout, run.repositories);
  OwnCharts own_charts(
      [this] {
        std::lock_guard lk(mu);
        return all_publications();
      },
      *publisher, read_from_self(from_self));
  run.own_charts = &own_charts;

  // resolve, package, publish: chart by chart.
  for (const auto& path : publishing_order(*run.layout, from_self)) run.report.charts.push_back(sync_chart(run, path));

  // Past the deadline (the last chart ran into it) no removal is begun: each
  // request would fail at once. The next sync does them.
  if (!run.out_of_time()) withdraw_vanished(run);
  try {
    batch.end();
  } catch (const Error& e) {
    if (run.report.error.empty()) run.report.error = "publishing to " + publisher->describe() + " failed: " + e.what();
  }

  // record
  return record(run);
}

ChartOutcome Workspace::Impl::sync_chart(SyncRun& run, const std::string& path) {
  ChartOutcome outcome;
  outcome.path = path;
  if (run.out_of_time()) {
    outcome.reason = "not attempted: " + run.report.error;
    return outcome;
  }
  auto failure = failure_of([&] {
    const chart::Metadata& md = run.layout->metadata(path);
    outcome.name = md.name;
    outcome.version = md.version;
    const ResolvedChart resolved = resolve_chart(resolver, run, path, md);
    const publish::Publication* previous = last_published(run.state, path, md);
    auto known = run.state.chart_keys.find(path);
    if (previous && known != run.state.chart_keys.end() && known->second == resolved.key) {
      outcome.version = previous->version;
      outcome.digest = previous->digest;
      outcome.status = ChartOutcome::Status::unchanged;
      return;
    }
    package::Package pkg = package_chart(run, path, md, resolved.resolution, previous);
    outcome.name = pkg.metadata.name;
    outcome.version = pkg.metadata.version;
    outcome.digest = pkg.digest;
    if (already_published(run.state, path, pkg)) {
      outcome.status = ChartOutcome::Status::unchanged;  // e.g. a commit touching only ignored files
    } else {
      check_version_bumped(run.state, pkg);
      stamp_source(pkg, run, path);
      publish_chart(run, path, pkg, outcome);
      run.own_charts->remember(pkg);
    }
    record_progress(run, path, resolved.key);
  });
  if (failure) {
    outcome.status = ChartOutcome::Status::failed;
    outcome.reason = *failure;
  }
  return outcome;
}

}  // namespace cmop::sync
