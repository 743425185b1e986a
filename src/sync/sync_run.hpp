#pragma once
// One sync of one repo as it goes (not a public header): the working copy of the
// repo's state, the report being written, the sync's deadline, and what each step
// hands the next (sync.cpp runs them).
#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "cmop/deps/resolver.hpp"
#include "cmop/error.hpp"
#include "cmop/sync/mirror_pool.hpp"
#include "cmop/sync/repo_state.hpp"
#include "cmop/sync/sync_report.hpp"
#include "sync/discover.hpp"

namespace cmop::sync {

class OwnCharts;

struct SyncRun {
  using Clock = std::chrono::steady_clock;
  // Starts the clock: the sync ends by now + `timeout` (0 = no limit).
  SyncRun(const std::string& name, RepoState stored, std::chrono::seconds timeout);
  SyncRun(const SyncRun&) = delete;
  SyncRun& operator=(const SyncRun&) = delete;

  // Past the deadline: stops the sync with a reason naming the remote (what is
  // published stays, the rest waits for the next sync). Whether the sync is stopped.
  bool out_of_time();

  RepoState state;  // the repo's working copy (registered as InFlight by the caller)
  SyncReport report;
  const Clock::time_point started;
  const std::chrono::seconds timeout;
  const Clock::time_point deadline;
  Clock::time_point last_write;  // of the state file (see Impl::checkpoint)
  // The publish target is down or the time is up: no further chart is attempted,
  // nothing is removed.
  bool stopped = false;

  // fetch: the commit's files, read from the remote's shared mirror (not repacked while held)
  std::optional<MirrorPool::Checkout> checkout;
  // discover: the chart folders and their Chart.yaml
  std::optional<ChartLayout> layout;
  // resolve: the dependency repos, the indexes read once per sync, cmop's own charts
  std::vector<deps::NamedRepository> repositories;
  deps::Resolver::Session dependency_indexes;
  OwnCharts* own_charts = nullptr;
  // package: the commit's time, read from git once, when the first package is published
  std::optional<std::string> commit_time;

  const git::Tree& tree() const { return *checkout->tree; }
};

// Runs `step`; the reason it failed (an Error's what(), anything else as an
// internal error), or nothing when it did not.
template <class Step>
std::optional<std::string> failure_of(Step&& step) {
  try {
    step();
    return std::nullopt;
  } catch (const Error& e) {
    return std::string(e.what());
  } catch (const std::exception& e) {
    return std::string("internal error: ") + e.what();
  }
}

}  // namespace cmop::sync
