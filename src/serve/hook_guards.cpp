#include "hook_guards.hpp"

#include <cmath>

#include "cmop/util/hash.hpp"

namespace cmop::serve {

bool HookRateLimiter::take(const std::string& repo, int& retry_after) {
  std::lock_guard lk(mu_);
  auto now = Clock::now();
  auto [it, fresh] = buckets_.try_emplace(repo, Bucket{capacity_, now});
  Bucket& b = it->second;
  if (!fresh) {
    b.tokens = std::min(capacity_, b.tokens + std::chrono::duration<double>(now - b.at).count() * capacity_ / 60.0);
    b.at = now;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  retry_after = static_cast<int>(std::ceil((1 - b.tokens) * 60.0 / capacity_));
  return false;
}

void HookRateLimiter::forget(const std::string& repo) {
  std::lock_guard lk(mu_);
  buckets_.erase(repo);
}

bool DeliveryLog::first(const std::string& repo, const std::string& id) {
  const std::string key = util::sha256_hex(repo + '\n' + id);  // fixed size, whatever was sent
  std::lock_guard lk(mu_);
  const auto now = Clock::now();
  while (!order_.empty() && (now - order_.front().first > kWindow || order_.size() >= kCapacity)) {
    seen_.erase(order_.front().second);
    order_.pop_front();
  }
  if (!seen_.insert(key).second) return false;
  order_.emplace_back(now, key);
  return true;
}

}  // namespace cmop::serve
