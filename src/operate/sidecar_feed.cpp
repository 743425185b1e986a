#include "cmop/operate/sidecar_feed.hpp"

#include <algorithm>

#include "cmop/operate/kube_client.hpp"
#include "cmop/sidecar/client.hpp"

namespace cmop::operate {

void follow_sidecar_syncs(const ControllerOptions& options, StopSignal& stop, std::chrono::seconds wait,
                          const std::function<void(const std::string& key)>& on_synced,
                          const std::function<void()>& on_restart) {
  const sidecar::Client client(options.sidecar_url, options.sidecar_token);
  std::string epoch;  // "" until the first answer: that one only tells where the feed stands
  std::uint64_t seen = 0;
  auto backoff = std::chrono::milliseconds(1000);
  std::string last_problem;
  while (!stop.stop_requested()) {
    const bool first = epoch.empty();
    // After a failure the sidecar may be a new process: ask without waiting, so its
    // epoch is known at once (a new, empty one has no news to end a long poll with).
    const bool quick = first || !last_problem.empty();
    std::string problem;
    try {
      // A stop never waits out the poll.
      auto page = client.syncs(seen, epoch, quick ? std::chrono::seconds(0) : wait, wait + std::chrono::seconds(15),
                               [&stop] { return stop.stop_requested(); });
      if (page.status != 200) {
        problem = "GET /syncs: HTTP " + std::to_string(page.status);
      } else {
        // The first answer lists what synced before we started: the informer's
        // initial list covers those resources already.
        if (!first && page.epoch != epoch) {
          log_line("info", "the sidecar restarted (new epoch on GET /syncs)");
          on_restart();
        } else if (!first) {
          for (auto& owner : page.owners)
            if (owner.find('/') != std::string::npos) on_synced(owner);
        }
        epoch = page.epoch;
        seen = page.generation;
        backoff = std::chrono::milliseconds(1000);
        if (!last_problem.empty()) log_line("info", "following the sidecar's syncs again");
        last_problem.clear();
        continue;
      }
    } catch (const std::exception& e) {
      if (stop.stop_requested()) return;
      problem = e.what();
    }
    // One line per kind of problem, not one per retry.
    if (problem != last_problem)
      log_line("warn", "cannot follow the sidecar's syncs (statuses then follow at the next resync): " + problem);
    last_problem = problem;
    if (!stop.sleep_for(backoff)) return;
    // A low cap, as the informers': a sidecar back from a restart is noticed within
    // 2 s (it may have lost its state), and a GET every 2 s to one that is down costs nothing.
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(2));
  }
}

}  // namespace cmop::operate
