// The sync's record step: the repo's state file, written at most once per
// checkpoint interval during a sync and whole at its end.
#include "cmop/error.hpp"
#include "cmop/sync/serialize.hpp"
#include "cmop/util/fs.hpp"
#include "sync/sync_run.hpp"
#include "sync/workspace_impl.hpp"

namespace cmop::sync {

void Workspace::Impl::persist(RepoState& s) {
  util::write_file_atomic(state_file(s.spec.name), to_state_file(s), 0600);  // holds credentials
  std::error_code ec;
  std::filesystem::remove(claims_file(s.spec.name), ec);  // folded into the state file just written
}

void Workspace::Impl::checkpoint(RepoState& s, std::chrono::steady_clock::time_point& last_write) {
  auto now = std::chrono::steady_clock::now();
  if (now - last_write < std::chrono::seconds(2)) return;
  persist(s);
  last_write = now;
}

void Workspace::Impl::record_progress(SyncRun& run, const std::string& chart_path, const std::string& key) {
  run.state.chart_keys[chart_path] = key;
  try {
    checkpoint(run.state, run.last_write);
  } catch (const Error& e) {
    // The chart did publish (its claim is journaled); what failed is the
    // state dir, which concerns the whole repo.
    if (run.report.error.empty()) run.report.error = std::string("saving the repo state: ") + e.what();
  }
}

SyncReport Workspace::Impl::record(SyncRun& run) {
  resolver.close_idle_connections();  // kept open for this sync's requests only
  SyncReport& report = run.report;
  RepoState& state = run.state;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run.started).count();
  state.last_error = report.error;
  if (report.error.empty()) state.last_success_time = state.last_sync_time;
  state.last_charts = report.charts;
  if (!report.commit.empty()) state.last_commit = report.commit;
  persist(state);
  std::lock_guard lk(mu);
  repos[report.repo] = state;
  return report;
}

}  // namespace cmop::sync
