#include "metrics.hpp"

#include <cstdio>

namespace cmop::serve {
namespace {

// Label values per the exposition format: backslash, double quote and newline escaped.
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

void Metrics::record_sync(const std::string& repo, const std::string& result, double seconds,
                          std::uint64_t published) {
  std::lock_guard lk(mu_);
  ++syncs_[{repo, result}];
  for (std::size_t i = 0; i < kDurationBuckets.size(); ++i) {
    if (seconds <= kDurationBuckets[i]) {
      ++duration_buckets_[i];
      break;
    }
  }
  ++duration_count_;
  duration_sum_ += seconds;
  charts_published_ += published;
  if (result != "success") ++sync_failures_;
}

void Metrics::record_http(int status) {
  std::lock_guard lk(mu_);
  ++http_[status];
}

std::string Metrics::render(std::size_t repos, std::size_t waiting_requests, int running_jobs, bool ready) const {
  std::lock_guard lk(mu_);
  std::string out;
  out += "# HELP cmop_syncs_total Repo syncs by result (success, partial: some charts failed, error: repo sync failed).\n";
  out += "# TYPE cmop_syncs_total counter\n";
  for (auto& [key, n] : syncs_)
    out += "cmop_syncs_total{repo=\"" + label(key.first) + "\",result=\"" + label(key.second) + "\"} " +
           std::to_string(n) + "\n";
  out += "# HELP cmop_sync_duration_seconds Time one repo sync took.\n";
  out += "# TYPE cmop_sync_duration_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kDurationBuckets.size(); ++i) {
    cumulative += duration_buckets_[i];
    out += "cmop_sync_duration_seconds_bucket{le=\"" + number(kDurationBuckets[i]) + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  out += "cmop_sync_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(duration_count_) + "\n";
  out += "cmop_sync_duration_seconds_sum " + number(duration_sum_) + "\n";
  out += "cmop_sync_duration_seconds_count " + std::to_string(duration_count_) + "\n";
  out += "# HELP cmop_charts_published_total Chart versions uploaded to the publish target.\n";
  out += "# TYPE cmop_charts_published_total counter\n";
  out += "cmop_charts_published_total " + std::to_string(charts_published_) + "\n";
  out += "# HELP cmop_sync_failures_total Repo syncs that were not fully successful.\n";
  out += "# TYPE cmop_sync_failures_total counter\n";
  out += "cmop_sync_failures_total " + std::to_string(sync_failures_) + "\n";
  out += "# HELP cmop_repos Registered git repos.\n";
  out += "# TYPE cmop_repos gauge\n";
  out += "cmop_repos " + std::to_string(repos) + "\n";
  out += "# HELP cmop_sync_waiting_requests HTTP requests waiting for a sync or delete to finish.\n";
  out += "# TYPE cmop_sync_waiting_requests gauge\n";
  out += "cmop_sync_waiting_requests " + std::to_string(waiting_requests) + "\n";
  out += "# HELP cmop_sync_workers_busy Worker threads running a sync or delete.\n";
  out += "# TYPE cmop_sync_workers_busy gauge\n";
  out += "cmop_sync_workers_busy " + std::to_string(running_jobs) + "\n";
  out += "# HELP cmop_ready Whether the server is ready (state loaded, publisher reached once).\n";
  out += "# TYPE cmop_ready gauge\n";
  out += std::string("cmop_ready ") + (ready ? "1" : "0") + "\n";
  out += "# HELP cmop_http_requests_total HTTP requests answered, by status code.\n";
  out += "# TYPE cmop_http_requests_total counter\n";
  for (auto& [code, n] : http_)
    out += "cmop_http_requests_total{code=\"" + std::to_string(code) + "\"} " + std::to_string(n) + "\n";
  return out;
}

}  // namespace cmop::serve
