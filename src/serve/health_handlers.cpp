// /healthz, /readyz (the publisher probe behind it) and /metrics.
#include <algorithm>

#include "answers.hpp"
#include "cmop/util/log.hpp"
#include "cmop/util/time.hpp"
#include "server_impl.hpp"

namespace cmop::serve {
namespace log = util::log;
using Clock = std::chrono::steady_clock;

void Server::Impl::probe_until_ready() {
  std::string last_logged;
  for (;;) {
    std::string reason;
    try {
      publisher->probe();
      ready = true;
      log::info("publisher reachable; ready", {{"publisher", publisher->describe()}});
      return;
    } catch (const std::exception& e) {
      reason = e.what();
    }
    if (reason != last_logged) {
      log::warn("publisher not reachable; not ready", {{"publisher", publisher->describe()}, {"error", reason}});
      last_logged = reason;
    }
    std::unique_lock lk(probe_mu);
    not_ready_reason = reason;
    if (probe_cv.wait_for(lk, options.probe_interval, [this] { return probe_stop; })) return;
  }
}

void Server::Impl::stop_prober() {
  {
    std::lock_guard lk(probe_mu);
    probe_stop = true;
  }
  probe_cv.notify_all();
  if (prober.joinable()) prober.join();
}


HttpResponse Server::Impl::readiness() const {
  if (ready) return json_ok("{\"status\":\"ready\"}");
  std::string reason;
  {
    std::lock_guard lk(probe_mu);
    reason = not_ready_reason;
  }
  return json_ok(json_object([&](JsonWriter& w) {
                   put(w, "status", "not ready");
                   put(w, "error", "publisher " + publisher->describe() + ": " + reason);
                 }),
                 503);
}

HttpResponse Server::Impl::metrics_text() const {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  Metrics::Gauges g;
  g.repos = workspace->list().size();
  g.waiting_requests = waiting_requests.load();
  g.ready = ready;
  const auto now = Clock::now();
  const auto since = pool->running_since();
  g.running_jobs = static_cast<int>(since.size());
  if (!since.empty()) g.oldest_job_seconds = std::chrono::duration<double>(now - since.front()).count();
  // A sync past its timeout plus one more git stall (the last transfer's own
  // limit) and a minute of slack for a last chart's upload is stuck.
  if (options.sync_timeout.count() > 0) {
    const auto limit = options.sync_timeout + options.network_timeout + std::chrono::seconds(60);
    g.stuck_jobs = static_cast<int>(std::count_if(since.begin(), since.end(), [&](auto t) { return now - t > limit; }));
  }
  g.connections = http->connection_stats();
  for (auto& state : workspace->list())
    if (auto when = util::parse_rfc3339_seconds(state.last_success_time)) g.last_success.emplace_back(state.spec.name, *when);
  r.body = metrics.render(g) + render_mirror_metrics(workspace->mirror_stats());
  return r;
}

}  // namespace cmop::serve
