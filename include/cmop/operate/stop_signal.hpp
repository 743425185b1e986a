#pragma once
// A stop flag that sleepers wait on: every loop of the operator ends through it.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace cmop::operate {

// A stop flag that sleepers can wait on.
class StopSignal {
 public:
  void request_stop();
  bool stop_requested() const { return stopped_.load(); }
  // Sleeps up to d; returns false when stop was requested.
  bool sleep_for(std::chrono::milliseconds d);

 private:
  std::atomic<bool> stopped_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
};

}  // namespace cmop::operate
