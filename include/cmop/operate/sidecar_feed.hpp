#pragma once
// How the operator hears of syncs it did not run itself (a CronJob's, a webhook's):
// it long-polls the sidecar's GET /syncs and has the resource that owns each synced
// repo reconciled at once, so its status (commit, charts, Ready, last sync time)
// follows within a moment instead of at the next resync.
#include <chrono>
#include <functional>
#include <string>

#include "cmop/operate/controller.hpp"

namespace cmop::operate {

// Runs until stop is requested: calls on_synced("<namespace>/<name>") with the
// owner of every repo whose sync finished. Each poll waits at most `wait` (which
// also bounds how long a stop takes); a failing sidecar is retried with backoff up
// to 2 s. A sidecar restart (a new epoch: it may have lost its state) calls
// on_restart, whatever repos it reports.
void follow_sidecar_syncs(const ControllerOptions& options, StopSignal& stop, std::chrono::seconds wait,
                          const std::function<void(const std::string& key)>& on_synced,
                          const std::function<void()>& on_restart);

}  // namespace cmop::operate
