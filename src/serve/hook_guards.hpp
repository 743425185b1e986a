#pragma once
// What keeps push webhooks (POST /hooks/{name}) from being abused by whoever holds
// a signed delivery: a rate budget per repo, and a memory of deliveries taken.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

namespace cmop::serve {

// Accepted webhooks per repo: a token bucket each, holding up to `per_minute`
// and refilled evenly. Only authenticated hooks of registered repos take a token,
// so the map is bounded by the repos, and nobody without a repo's secret can use up
// its budget.
class HookRateLimiter {
 public:
  explicit HookRateLimiter(int per_minute) : capacity_(std::max(1, per_minute)) {}
  // True when the repo may sync now; otherwise `retry_after` holds whole seconds until it may.
  bool take(const std::string& repo, int& retry_after);
  void forget(const std::string& repo);

 private:
  using Clock = std::chrono::steady_clock;
  struct Bucket {
    double tokens;
    Clock::time_point at;
  };
  double capacity_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

// Webhook deliveries seen lately (by the provider's delivery id), so a captured
// signed delivery sent again is not acted on twice. Only deliveries whose signature
// held are remembered; at most kCapacity (the oldest make room), each for kWindow.
class DeliveryLog {
 public:
  static constexpr std::size_t kCapacity = 10000;
  static constexpr std::chrono::hours kWindow{24};
  // True the first time (repo, id) comes within the window; remembers it.
  bool first(const std::string& repo, const std::string& id);

 private:
  using Clock = std::chrono::steady_clock;
  std::mutex mu_;
  std::deque<std::pair<Clock::time_point, std::string>> order_;
  std::set<std::string> seen_;
};

}  // namespace cmop::serve
