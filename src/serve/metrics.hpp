#pragma once
// The counters behind GET /metrics (Prometheus text exposition format 0.0.4).
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cmop/httpd/http_server.hpp"

namespace cmop::serve {

class Metrics {
 public:
  // result: "success" (ok), "partial" (some charts failed), "error" (the repo
  // itself could not be synced, or the request failed before syncing).
  void record_sync(const std::string& repo, const std::string& result, double seconds, std::uint64_t published);
  void record_http(int status);
  // outcome: queued, ignored, pong, refused, unsigned, rate_limited, replayed.
  void record_hook(const std::string& outcome);
  // The repo is gone: its series go with it (else every repo ever created and
  // deleted would stay in every scrape).
  void forget(const std::string& repo);

  // Sampled by the caller at scrape time.
  struct Gauges {
    std::size_t repos = 0;
    std::size_t waiting_requests = 0;
    int running_jobs = 0;
    double oldest_job_seconds = 0;  // how long the longest-running sync or delete has run
    int stuck_jobs = 0;             // running longer than the sync timeout allows
    bool ready = false;
    httpd::ConnectionStats connections;  // the HTTP server's, as they are now
    // Each repo's last fully or partly successful sync (seconds since the epoch), from its state.
    std::vector<std::pair<std::string, double>> last_success;
  };
  std::string render(const Gauges& g) const;

  static constexpr std::array<double, 12> kDurationBuckets{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> syncs_;  // (repo, result)
  struct Histogram {
    std::array<std::uint64_t, kDurationBuckets.size()> buckets{};  // non-cumulative counts
    std::uint64_t count = 0;
    double sum = 0;
  };
  std::map<std::string, Histogram> durations_;  // by repo
  std::uint64_t charts_published_ = 0;
  std::uint64_t sync_failures_ = 0;
  std::map<int, std::uint64_t> http_;
  std::map<std::string, std::uint64_t> hooks_;
  // Each repo's most recent sync by this process: when it ended and whether it
  // was fully successful (what the CmopRepoSyncFailing alert watches).
  struct LastSync {
    double ended = 0;  // seconds since the epoch
    bool success = false;
  };
  std::map<std::string, LastSync> last_sync_;
};

}  // namespace cmop::serve
