#pragma once
// The operator's counters, exported on /metrics (Prometheus text format).
#include <array>
#include <atomic>

namespace cmop::operate {

struct ControllerMetrics {
  std::atomic<long> reconcile_success{0};
  std::atomic<long> reconcile_error{0};
  std::atomic<long> reconcile_micros{0};
  // cmop_operator_reconcile_duration_seconds: non-cumulative counts per bucket (the
  // last one is +Inf); the sum is reconcile_micros, the count the two totals above.
  static constexpr std::array<double, 12> kReconcileBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5,   1,    2.5,   5,    10,  60};
  std::array<std::atomic<long>, kReconcileBuckets.size() + 1> reconcile_buckets{};
  void record_reconcile(double seconds);
  std::atomic<long> sidecar_applies{0};
  std::atomic<long> status_writes{0};
  std::atomic<long> relists{0};
  std::atomic<long> watch_restarts{0};
  std::atomic<long> watch_errors{0};
  std::atomic<bool> synced{false};
};

}  // namespace cmop::operate
