#include "sync/sync_run.hpp"

#include "cmop/util/redact.hpp"
#include "cmop/util/time.hpp"

namespace cmop::sync {

SyncRun::SyncRun(const std::string& name, RepoState stored, std::chrono::seconds timeout)
    : state(std::move(stored)),
      started(Clock::now()),
      timeout(timeout),
      deadline(timeout.count() > 0 ? started + timeout : Clock::time_point::max()),
      last_write(Clock::now()) {
  report.repo = name;
  state.last_sync_time = util::now_rfc3339();
}

bool SyncRun::out_of_time() {
  if (stopped || Clock::now() < deadline) return stopped;
  stopped = true;
  report.error = "sync of " + util::redact_url(state.spec.git) + " timed out after " +
                 std::to_string(timeout.count()) + " s (the sync timeout)";
  return true;
}

}  // namespace cmop::sync
