#pragma once
// The controller's work queue, with the guarantees client-go's queue gives:
// - a key is queued at most once however often it is added (dedup);
// - a key is never handed to two workers at once; one added while being processed is
//   processed again after done() (no lost update, no concurrent reconcile of one object);
// - add_rate_limited() delays a key exponentially per consecutive failure, with jitter,
//   until forget() resets it;
// - a key has at most one delayed entry: a later add_after() only moves it earlier
//   (the earliest deadline wins), so retries never run in interleaved chains;
// - add_urgent() puts a key ahead of everything add() queued: a sync's result (which
//   makes a resource Ready) never waits behind a thousand initial reconciles.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>

namespace cmop::operate {

class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;
  explicit WorkQueue(std::chrono::milliseconds base_delay = std::chrono::seconds(1),
                     std::chrono::milliseconds max_delay = std::chrono::minutes(5));

  void add(const std::string& key);
  void add_urgent(const std::string& key);
  void add_after(const std::string& key, std::chrono::milliseconds delay);
  // Returns the delay chosen: base * 2^failures (capped), plus up to 10% jitter.
  std::chrono::milliseconds add_rate_limited(const std::string& key);
  void forget(const std::string& key);
  int failures(const std::string& key) const;

  // Blocks until a key is ready or shutdown(); nullopt after shutdown.
  std::optional<std::string> get();
  void done(const std::string& key);
  void shutdown();
  std::size_t depth() const;

 private:
  void promote_due_locked(Clock::time_point now);

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::deque<std::string> urgent_;    // served first; entries no longer dirty are skipped
  std::set<std::string> urgent_after_;  // added urgently while processed: first once done()
  std::set<std::string> dirty_;       // queued or to be re-queued after processing
  std::set<std::string> processing_;
  std::set<std::pair<Clock::time_point, std::string>> delayed_;  // ordered by deadline
  std::map<std::string, Clock::time_point> delayed_at_;           // key -> its one deadline
  std::map<std::string, int> failures_;
  std::chrono::milliseconds base_delay_, max_delay_;
  std::mt19937 rng_{std::random_device{}()};
  bool shutting_down_ = false;
};

}  // namespace cmop::operate
