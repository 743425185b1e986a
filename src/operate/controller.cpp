// The informer (list + watch with bookmarks, relist on 410) and the worker pool.
#include "cmop/operate/controller.hpp"
#include "cmop/operate/sidecar_feed.hpp"

#include "cmop/operate/watch_stream.hpp"
#include "cmop/util/log.hpp"

#include <random>
#include <sstream>
#include <thread>
#include <vector>

namespace cmop::operate {

void set_log_format(const std::string& format) { util::log::set_format(util::log::parse_format(format)); }

void log_line(const std::string& level, const std::string& message) {
  using util::log::Level;
  Level l = level == "error" ? Level::error : level == "warn" ? Level::warn : level == "debug" ? Level::debug : Level::info;
  util::log::write(l, message, {{"component", "operate"}});
}

void StopSignal::request_stop() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  cv_.notify_all();
}

bool StopSignal::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  return !cv_.wait_for(lock, d, [&] { return stopped_.load(); });
}

Controller::Controller(const KubeClient& kube, ControllerOptions options)
    : kube_(kube), options_(std::move(options)), queue_(options_.retry_base, options_.retry_max) {}

namespace {
std::string key_of(const rapidjson::Value& obj) {
  return str_at(obj, "metadata.namespace") + "/" + str_at(obj, "metadata.name");
}
}  // namespace

void Controller::informer_loop(StopSignal& stop) {
  std::mt19937 rng(std::random_device{}());
  auto backoff = std::chrono::milliseconds(500);
  const auto max_backoff = std::chrono::milliseconds(30000);
  auto sleep_backoff = [&] {
    auto jitter = std::uniform_int_distribution<long>(0, backoff.count() / 2)(rng);
    stop.sleep_for(backoff + std::chrono::milliseconds(jitter));
    backoff = std::min(backoff * 2, max_backoff);
  };
  while (!stop.stop_requested()) {
    std::string rv;
    try {
      auto list = kube_.list(resources::chartmuseums, options_.watch_namespace);
      rv = str_at(list, "metadata.resourceVersion");
      std::set<std::string> keys;
      if (list.HasMember("items") && list["items"].IsArray())
        for (auto& item : list["items"].GetArray()) keys.insert(key_of(item));
      {
        std::lock_guard lock(known_mutex_);
        // Objects that vanished while we were not watching are enqueued too: the
        // reconcile finds them gone and has nothing left to do.
        for (auto& k : known_keys_) queue_.add(k);
        known_keys_ = keys;
      }
      for (auto& k : keys) queue_.add(k);
      ++metrics_.relists;
      metrics_.synced = true;
      log_line("info", "listed " + std::to_string(keys.size()) + " Chartmuseum(s) at resourceVersion " + rv);
    } catch (const Error& e) {
      ++metrics_.watch_errors;
      log_line("error", std::string("cannot list Chartmuseums: ") + e.what());
      sleep_backoff();
      continue;
    }

    bool relist = false;
    while (!relist && !stop.stop_requested()) {
      WatchOptions wo;
      wo.resource_version = rv;
      wo.allow_bookmarks = true;
      // Spread the re-watch times of several operators/restarts, as client-go does.
      wo.timeout_seconds = options_.watch_timeout_seconds +
                           std::uniform_int_distribution<int>(0, options_.watch_timeout_seconds / 5)(rng);
      try {
        kube_.watch(resources::chartmuseums, options_.watch_namespace, wo, [&](WatchEvent& ev) {
          if (stop.stop_requested()) return false;
          WatchAction action = interpret_watch_event(ev);
          if (action.kind == WatchAction::Kind::relist) {
            log_line(action.error_code == 410 ? "info" : "warn",
                     "watch error " + std::to_string(action.error_code) + " (" + action.error_reason +
                         "): " + action.error_message + "; relisting");
            relist = true;
            return false;
          }
          if (!action.resource_version.empty()) rv = action.resource_version;
          if (action.kind == WatchAction::Kind::bookmark) return true;
          {
            std::lock_guard lock(known_mutex_);
            if (action.kind == WatchAction::Kind::remove) known_keys_.erase(action.key);
            else known_keys_.insert(action.key);
          }
          queue_.add(action.key);
          return true;
        });
        backoff = std::chrono::milliseconds(500);
        ++metrics_.watch_restarts;  // the stream ended normally: re-watch from the last RV
      } catch (const KubeApiError& e) {
        ++metrics_.watch_errors;
        if (e.gone()) {
          log_line("info", std::string("watch expired: ") + e.what() + "; relisting");
          relist = true;
        } else {
          log_line("error", std::string("watch failed: ") + e.what());
          sleep_backoff();
          relist = true;
        }
      } catch (const Error& e) {
        ++metrics_.watch_errors;
        log_line("warn", std::string("watch interrupted: ") + e.what() + "; re-watching from " + rv);
        sleep_backoff();
      }
    }
  }
}

void Controller::resync_loop(StopSignal& stop) {
  while (stop.sleep_for(options_.resync_period)) {
    std::lock_guard lock(known_mutex_);
    for (auto& k : known_keys_) queue_.add(k);
  }
}

void Controller::worker_loop() {
  while (auto key = queue_.get()) {
    auto slash = key->find('/');
    std::string ns = key->substr(0, slash), name = key->substr(slash + 1);
    auto started = std::chrono::steady_clock::now();
    try {
      reconcile(ns, name);
      queue_.forget(*key);
      ++metrics_.reconcile_success;
    } catch (const std::exception& e) {
      ++metrics_.reconcile_error;
      auto delay = queue_.add_rate_limited(*key);
      log_line("warn", *key + ": reconcile failed: " + e.what() + "; retrying in " +
                           std::to_string(delay.count()) + "ms");
    }
    metrics_.record_reconcile(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    queue_.done(*key);
  }
}

void ControllerMetrics::record_reconcile(double seconds) {
  reconcile_micros += static_cast<long>(seconds * 1e6);
  std::size_t i = 0;
  while (i < kReconcileBuckets.size() && seconds > kReconcileBuckets[i]) ++i;
  ++reconcile_buckets[i];
}

void Controller::run(StopSignal& stop) {
  std::vector<std::thread> threads;
  threads.emplace_back([&] { informer_loop(stop); });
  threads.emplace_back([&] { resync_loop(stop); });
  if (options_.follow_sidecar_syncs)
    threads.emplace_back([&] {
      follow_sidecar_syncs(options_, stop, options_.sidecar_poll_wait, [this](const std::string& key) {
        std::lock_guard lock(known_mutex_);
        if (known_keys_.count(key)) queue_.add(key);  // only resources this operator watches
      });
    });
  for (int i = 0; i < std::max(1, options_.workers); ++i) threads.emplace_back([&] { worker_loop(); });
  while (stop.sleep_for(std::chrono::hours(24))) {
  }
  queue_.shutdown();
  for (auto& t : threads) t.join();
}

std::string Controller::render_metrics() const {
  std::ostringstream out;
  out << "# HELP cmop_operator_reconcile_total Reconciles by result.\n"
      << "# TYPE cmop_operator_reconcile_total counter\n"
      << "cmop_operator_reconcile_total{result=\"success\"} " << metrics_.reconcile_success << "\n"
      << "cmop_operator_reconcile_total{result=\"error\"} " << metrics_.reconcile_error << "\n"
      << "# HELP cmop_operator_reconcile_seconds_total Time spent reconciling.\n"
      << "# TYPE cmop_operator_reconcile_seconds_total counter\n"
      << "cmop_operator_reconcile_seconds_total " << metrics_.reconcile_micros / 1e6 << "\n"
      << "# HELP cmop_operator_reconcile_duration_seconds Time one reconcile took.\n"
      << "# TYPE cmop_operator_reconcile_duration_seconds histogram\n";
  long cumulative = 0;
  for (std::size_t i = 0; i < ControllerMetrics::kReconcileBuckets.size(); ++i) {
    cumulative += metrics_.reconcile_buckets[i];
    out << "cmop_operator_reconcile_duration_seconds_bucket{le=\"" << ControllerMetrics::kReconcileBuckets[i]
        << "\"} " << cumulative << "\n";
  }
  cumulative += metrics_.reconcile_buckets.back();
  out << "cmop_operator_reconcile_duration_seconds_bucket{le=\"+Inf\"} " << cumulative << "\n"
      << "cmop_operator_reconcile_duration_seconds_sum " << metrics_.reconcile_micros / 1e6 << "\n"
      << "cmop_operator_reconcile_duration_seconds_count " << cumulative << "\n"
      << "# HELP cmop_operator_sidecar_applies_total POST /repo/new calls.\n"
      << "# TYPE cmop_operator_sidecar_applies_total counter\n"
      << "cmop_operator_sidecar_applies_total " << metrics_.sidecar_applies << "\n"
      << "# HELP cmop_operator_status_writes_total Status subresource updates.\n"
      << "# TYPE cmop_operator_status_writes_total counter\n"
      << "cmop_operator_status_writes_total " << metrics_.status_writes << "\n"
      << "# HELP cmop_operator_relists_total Full lists of Chartmuseums.\n"
      << "# TYPE cmop_operator_relists_total counter\n"
      << "cmop_operator_relists_total " << metrics_.relists << "\n"
      << "# HELP cmop_operator_watch_restarts_total Watch streams that ended and were resumed.\n"
      << "# TYPE cmop_operator_watch_restarts_total counter\n"
      << "cmop_operator_watch_restarts_total " << metrics_.watch_restarts << "\n"
      << "# HELP cmop_operator_watch_errors_total Failed lists and watches.\n"
      << "# TYPE cmop_operator_watch_errors_total counter\n"
      << "cmop_operator_watch_errors_total " << metrics_.watch_errors << "\n"
      << "# HELP cmop_operator_workqueue_depth Keys waiting (including delayed retries).\n"
      << "# TYPE cmop_operator_workqueue_depth gauge\n"
      << "cmop_operator_workqueue_depth " << queue_.depth() << "\n";
  return out.str();
}

}  // namespace cmop::operate
