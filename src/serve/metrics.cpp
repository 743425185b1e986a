#include "metrics.hpp"

#include <chrono>
#include <cstdio>

#include "cmop/util/prometheus.hpp"

namespace cmop::serve {
namespace {
using util::prometheus::family;
using util::prometheus::number;
using util::prometheus::single;
std::string label(const std::string& v) { return util::prometheus::label_value(v); }
}  // namespace

void Metrics::record_sync(const std::string& repo, const std::string& result, double seconds,
                          std::uint64_t published) {
  std::lock_guard lk(mu_);
  ++syncs_[{repo, result}];
  Histogram& h = durations_[repo];
  for (std::size_t i = 0; i < kDurationBuckets.size(); ++i) {
    if (seconds <= kDurationBuckets[i]) {
      ++h.buckets[i];
      break;
    }
  }
  ++h.count;
  h.sum += seconds;
  charts_published_ += published;
  if (result != "success") ++sync_failures_;
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  last_sync_[repo] = LastSync{now, result == "success"};
}

void Metrics::record_http(int status) {
  std::lock_guard lk(mu_);
  ++http_[status];
}

void Metrics::record_hook(const std::string& outcome) {
  std::lock_guard lk(mu_);
  ++hooks_[outcome];
}

void Metrics::forget(const std::string& repo) {
  std::lock_guard lk(mu_);
  durations_.erase(repo);
  last_sync_.erase(repo);
  for (auto it = syncs_.lower_bound({repo, std::string()}); it != syncs_.end() && it->first.first == repo;)
    it = syncs_.erase(it);
}

std::string Metrics::render(const Gauges& g) const {
  std::lock_guard lk(mu_);
  std::string out;
  family(out, "cmop_syncs_total", "counter",
         "Repo syncs by result (success, partial: some charts failed, error: repo sync failed).");
  for (auto& [key, n] : syncs_)
    out += "cmop_syncs_total{repo=\"" + label(key.first) + "\",result=\"" + label(key.second) + "\"} " +
           std::to_string(n) + "\n";
  family(out, "cmop_sync_duration_seconds", "histogram", "Time one repo sync took, by repo.");
  for (auto& [repo, h] : durations_) {
    const std::string r = "repo=\"" + label(repo) + "\"";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kDurationBuckets.size(); ++i) {
      cumulative += h.buckets[i];
      out += "cmop_sync_duration_seconds_bucket{" + r + ",le=\"" + number(kDurationBuckets[i]) + "\"} " +
             std::to_string(cumulative) + "\n";
    }
    out += "cmop_sync_duration_seconds_bucket{" + r + ",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
    out += "cmop_sync_duration_seconds_sum{" + r + "} " + number(h.sum) + "\n";
    out += "cmop_sync_duration_seconds_count{" + r + "} " + std::to_string(h.count) + "\n";
  }
  family(out, "cmop_repo_last_success_timestamp_seconds", "gauge",
         "When the repo last synced without a repo-level error (Unix time; absent before the first).");
  for (auto& [repo, when] : g.last_success)
    out += "cmop_repo_last_success_timestamp_seconds{repo=\"" + label(repo) + "\"} " + number(when) + "\n";
  family(out, "cmop_repo_last_sync_success", "gauge",
         "1 when the repo's most recent sync (since this process started) was fully successful, else 0.");
  for (const auto& [repo, last] : last_sync_)
    out += "cmop_repo_last_sync_success{repo=\"" + label(repo) + "\"} " + (last.success ? "1" : "0") + "\n";
  family(out, "cmop_repo_last_sync_timestamp_seconds", "gauge",
         "When the repo's most recent sync (since this process started) ended, successful or not.");
  for (const auto& [repo, last] : last_sync_)
    out += "cmop_repo_last_sync_timestamp_seconds{repo=\"" + label(repo) + "\"} " + number(last.ended) + "\n";
  single(out, "cmop_charts_published_total", "counter", "Chart versions uploaded to the publish target.",
         std::to_string(charts_published_));
  single(out, "cmop_sync_failures_total", "counter", "Repo syncs that were not fully successful.",
         std::to_string(sync_failures_));
  single(out, "cmop_repos", "gauge", "Registered git repos.", std::to_string(g.repos));
  single(out, "cmop_sync_waiting_requests", "gauge", "HTTP requests waiting for a sync or delete to finish.",
         std::to_string(g.waiting_requests));
  single(out, "cmop_sync_workers_busy", "gauge", "Worker threads running a sync or delete.",
         std::to_string(g.running_jobs));
  single(out, "cmop_sync_oldest_running_seconds", "gauge",
         "How long the longest-running sync or delete has been running (0 when none runs).",
         number(g.oldest_job_seconds));
  single(out, "cmop_sync_workers_stuck", "gauge",
         "Workers running one job for longer than the sync timeout allows (should stay 0).",
         std::to_string(g.stuck_jobs));
  single(out, "cmop_ready", "gauge", "Whether the server is ready (state loaded, publisher reached once).",
         g.ready ? "1" : "0");
  single(out, "cmop_http_connections_open", "gauge", "HTTP connections currently open.",
         std::to_string(g.connections.open));
  single(out, "cmop_http_connections_refused_total", "counter",
         "Connections closed at once because --max-connections were open.", std::to_string(g.connections.refused));
  single(out, "cmop_http_accept_fd_exhausted_total", "counter",
         "accept() failures for lack of file descriptors (EMFILE/ENFILE); accepting backs off meanwhile.",
         std::to_string(g.connections.fd_exhausted));
  single(out, "cmop_http_connections_refused_per_client_total", "counter",
         "Connections refused because their client address had --max-connections-per-client open (answered 503 "
         "unless their request was a health probe or carried the bearer token).",
         std::to_string(g.connections.refused_per_client));
  single(out, "cmop_http_requests_shed_total", "counter",
         "Requests without credentials answered 503 because only the connections kept for health probes and "
         "authenticated requests were left.",
         std::to_string(g.connections.shed));
  single(out, "cmop_http_slow_bodies_total", "counter",
         "Connections closed because a request body arrived slower than the minimum rate.",
         std::to_string(g.connections.slow_bodies));
  single(out, "cmop_http_untrusted_requests_in_progress", "gauge",
         "Requests without credentials (other than health probes) being read, waited on or answered.",
         std::to_string(g.connections.untrusted_in_progress));
  family(out, "cmop_http_requests_total", "counter", "HTTP requests answered, by status code.");
  for (auto& [code, n] : http_)
    out += "cmop_http_requests_total{code=\"" + std::to_string(code) + "\"} " + std::to_string(n) + "\n";
  family(out, "cmop_webhooks_total", "counter",
         "Webhook requests by outcome (queued, ignored, pong, refused, unsigned, rate_limited, replayed).");
  for (auto& [outcome, n] : hooks_)
    out += "cmop_webhooks_total{outcome=\"" + label(outcome) + "\"} " + std::to_string(n) + "\n";
  return out;
}

}  // namespace cmop::serve
