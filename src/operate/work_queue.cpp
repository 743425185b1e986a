#include "cmop/operate/work_queue.hpp"

#include <algorithm>

namespace cmop::operate {

WorkQueue::WorkQueue(std::chrono::milliseconds base_delay, std::chrono::milliseconds max_delay)
    : base_delay_(base_delay), max_delay_(max_delay) {}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mutex_);
  if (shutting_down_ || dirty_.count(key)) return;
  dirty_.insert(key);
  if (!processing_.count(key)) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::add_urgent(const std::string& key) {
  std::lock_guard lock(mutex_);
  if (shutting_down_) return;
  const bool fresh = dirty_.insert(key).second;
  if (processing_.count(key)) {  // done() queues it again, ahead of the rest
    urgent_after_.insert(key);
    return;
  }
  // Already queued: this entry jumps the line; the one in queue_ goes stale (skipped).
  urgent_.push_back(key);
  if (fresh) cv_.notify_one();
}

void WorkQueue::add_after(const std::string& key, std::chrono::milliseconds delay) {
  if (delay.count() <= 0) return add(key);
  std::lock_guard lock(mutex_);
  if (shutting_down_) return;
  auto at = Clock::now() + delay;
  auto [it, fresh] = delayed_at_.emplace(key, at);
  if (!fresh) {
    if (it->second <= at) return;  // an earlier entry is pending: it wins
    delayed_.erase({it->second, key});
    it->second = at;
  }
  delayed_.emplace(at, key);
  cv_.notify_all();
}

std::chrono::milliseconds WorkQueue::add_rate_limited(const std::string& key) {
  std::chrono::milliseconds delay;
  {
    std::lock_guard lock(mutex_);
    int n = failures_[key]++;
    auto d = base_delay_;
    for (int i = 0; i < n && d < max_delay_; ++i) d *= 2;
    d = std::min(d, max_delay_);
    auto jitter = std::uniform_int_distribution<long>(0, d.count() / 10)(rng_);
    delay = d + std::chrono::milliseconds(jitter);
  }
  add_after(key, delay);
  return delay;
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  failures_.erase(key);
}

int WorkQueue::failures(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::promote_due_locked(Clock::time_point now) {
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    std::string key = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    delayed_at_.erase(key);
    if (dirty_.count(key)) continue;
    dirty_.insert(key);
    if (!processing_.count(key)) queue_.push_back(key);
  }
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (shutting_down_) return std::nullopt;
    promote_due_locked(Clock::now());
    bool taken = false;
    std::string key;
    for (auto* lane : {&urgent_, &queue_}) {
      while (!taken && !lane->empty()) {
        key = std::move(lane->front());
        lane->pop_front();
        // An entry is stale when its key was taken through the other lane meanwhile.
        taken = dirty_.count(key) && !processing_.count(key);
      }
    }
    if (taken) {
      processing_.insert(key);
      dirty_.erase(key);
      return key;
    }
    if (delayed_.empty()) cv_.wait(lock);
    else cv_.wait_until(lock, delayed_.begin()->first);
  }
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mutex_);
  processing_.erase(key);
  const bool urgent = urgent_after_.erase(key) > 0;
  if (dirty_.count(key)) {
    (urgent ? urgent_ : queue_).push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::shutdown() {
  std::lock_guard lock(mutex_);
  shutting_down_ = true;
  cv_.notify_all();
}

std::size_t WorkQueue::depth() const {
  std::lock_guard lock(mutex_);
  return dirty_.size() + delayed_.size();
}

}  // namespace cmop::operate
