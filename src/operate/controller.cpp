// The informer (list + watch with bookmarks, relist on 410) and the worker pool.
#include "cmop/operate/controller.hpp"
#include "cmop/operate/cronjob.hpp"
#include "cmop/operate/json.hpp"
#include "cmop/operate/sidecar_feed.hpp"

#include "cmop/operate/informer.hpp"
#include "cmop/util/log.hpp"
#include "cmop/util/prometheus.hpp"

#include <sstream>
#include <thread>
#include <vector>

namespace cmop::operate {

void set_log_format(const std::string& format) { util::log::set_format(util::log::parse_format(format)); }

void log_line(const std::string& level, const std::string& message, const std::string& resource) {
  using util::log::Level;
  Level l = level == "error" ? Level::error : level == "warn" ? Level::warn : level == "debug" ? Level::debug : Level::info;
  if (resource.empty()) return util::log::write(l, message, {{"component", "operate"}});
  util::log::write(l, message, {{"component", "operate"}, {"resource", resource}});
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

namespace {
// The key of the Chartmuseum a CronJob of ours belongs to: its controller owner,
// else the label naming the repo; "" for neither.
std::string owner_key(const std::string& key, const rapidjson::Value* cronjob) {
  if (!cronjob) return {};
  std::string ns = key.substr(0, key.find('/'));
  if (auto* owners = value_at(*cronjob, "metadata.ownerReferences"); owners && owners->IsArray())
    for (auto& o : owners->GetArray())
      if (str_at(o, "kind") == kKind && str_at(o, "apiVersion") == kApiVersion) return ns + "/" + str_at(o, "name");
  if (auto* labels = value_at(*cronjob, "metadata.labels"); labels && labels->IsObject()) {
    auto it = labels->FindMember(kRepoLabel);
    if (it != labels->MemberEnd() && it->value.IsString()) return ns + "/" + it->value.GetString();
  }
  return {};
}

const rapidjson::Value* member_or_null(const rapidjson::Value* v, std::string_view path) {
  return v ? value_at(*v, path) : nullptr;
}

bool same(const rapidjson::Value* a, const rapidjson::Value* b) { return a == b || (a && b && *a == *b); }

// Only the CronJob controller's bookkeeping (status: lastScheduleTime, active Jobs)
// or the server's (resourceVersion, managedFields) changed: nothing we manage.
bool status_only_change(const rapidjson::Value* before, const rapidjson::Value* after) {
  if (!before || !after) return false;
  for (const char* path : {"spec", "metadata.labels", "metadata.ownerReferences", "metadata.deletionTimestamp",
                           "metadata.uid", "metadata.name"})
    if (!same(member_or_null(before, path), member_or_null(after, path))) return false;
  return true;
}
}  // namespace

Controller::Controller(const KubeClient& kube, ControllerOptions options)
    : kube_(kube), options_(std::move(options)), queue_(options_.retry_base, options_.retry_max) {
  chartmuseums_ = std::make_unique<Informer>(kube_, resources::chartmuseums, options_.watch_namespace, "",
                                             options_.watch_timeout_seconds, metrics_,
                                             [this](const std::string& key, const rapidjson::Value* object,
                                                    const rapidjson::Value* before) {
                                               // The watch's echo of our own write: the reconcile
                                               // that wrote it has seen it already.
                                               if (object && before && !own_write(key).empty() &&
                                                   own_write(key) == str_at(*object, "metadata.resourceVersion"))
                                                 return;
                                               queue_.add(key);
                                             });
  chartmuseums_->on_listed([this] { metrics_.synced = true; });
  // A CronJob of ours edited or deleted by hand brings its owner back at once
  // (a deleted CronJob's last state still names its owner).
  cronjobs_ = std::make_unique<Informer>(
      kube_, resources::cronjobs, options_.watch_namespace, std::string(kManagedByLabel) + "=cmop",
      options_.watch_timeout_seconds, metrics_,
      [this](const std::string& key, const rapidjson::Value* cronjob, const rapidjson::Value* before) {
        if (status_only_change(before, cronjob)) return;
        std::string owner = owner_key(key, cronjob);
        if (!owner.empty()) queue_.add(owner);
      });
}

Controller::~Controller() = default;

std::string Controller::own_write(const std::string& key) const {
  std::lock_guard lock(shared_mutex_);
  auto it = own_writes_.find(key);
  return it == own_writes_.end() ? std::string() : it->second;
}

void Controller::note_own_write(const rapidjson::Value& object) {
  std::lock_guard lock(shared_mutex_);
  if (own_writes_.size() > 100000) own_writes_.clear();  // a bound: it only saves reads
  own_writes_[object_key(object)] = str_at(object, "metadata.resourceVersion");
}

void Controller::forget(const std::string& key) {
  std::lock_guard lock(shared_mutex_);
  own_writes_.erase(key);
}

std::chrono::milliseconds Controller::secret_ttl() const {
  // Shorter than the resync, so a Secret rotated without any other change is still
  // picked up by the next resync, as documented.
  return std::min<std::chrono::milliseconds>(std::chrono::seconds(60), options_.resync_period / 2);
}

std::shared_ptr<const rapidjson::Document> Controller::secret(const std::string& ns, const std::string& name,
                                                              bool cached_ok) {
  const std::string key = ns + "/" + name;
  const auto now = std::chrono::steady_clock::now();
  if (cached_ok) {
    std::lock_guard lock(shared_mutex_);
    if (auto it = secrets_.find(key); it != secrets_.end() && now - it->second.read_at < secret_ttl())
      return it->second.doc;
  }
  std::shared_ptr<const rapidjson::Document> doc;
  try {
    doc = std::make_shared<const rapidjson::Document>(kube_.get(resources::secrets, ns, name));
  } catch (const KubeApiError& e) {
    if (!e.not_found()) throw;
  }
  std::lock_guard lock(shared_mutex_);
  // Expired entries go on the way, so the cache holds only what was read lately.
  for (auto it = secrets_.begin(); it != secrets_.end();)
    it = now - it->second.read_at >= secret_ttl() ? secrets_.erase(it) : std::next(it);
  if (doc) secrets_[key] = CachedSecret{doc, now};
  else secrets_.erase(key);
  return doc;
}

void Controller::sidecar_lost_state(const std::string& why) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(shared_mutex_);
    if (lost_state_at_ != std::chrono::steady_clock::time_point{} && now - lost_state_at_ < std::chrono::seconds(5))
      return;
    lost_state_at_ = now;
  }
  auto keys = chartmuseums_->keys();
  log_line("info", "the sidecar lost its state (" + why + "): applying all " + std::to_string(keys.size()) +
                       " resources again");
  for (auto& k : keys) queue_.add(k);
}

bool Controller::terminating_refusal(const KubeApiError& e) {
  return e.http_status() == 403 && std::string_view(e.what()).find("because it is being terminated") != std::string_view::npos;
}

bool Controller::namespace_terminating(const std::string& ns) const {
  std::lock_guard lock(shared_mutex_);
  auto it = terminating_.find(ns);
  // Probed again after a while: a namespace of that name may exist anew.
  return it != terminating_.end() && std::chrono::steady_clock::now() - it->second.seen < std::chrono::seconds(30);
}

void Controller::note_terminating(const std::string& ns) {
  const auto now = std::chrono::steady_clock::now();
  bool say = false;
  {
    std::lock_guard lock(shared_mutex_);
    if (terminating_.size() > 10000) terminating_.clear();
    auto [it, fresh] = terminating_.try_emplace(ns, Terminating{now, now});
    it->second.seen = now;
    say = fresh || now - it->second.logged > std::chrono::minutes(10);
    if (say) it->second.logged = now;
  }
  if (say)
    log_line("info", "namespace " + ns + " is being terminated: no Events or CronJobs are created in it");
}

void Controller::resync_loop(StopSignal& stop) {
  while (stop.sleep_for(options_.resync_period))
    for (auto& k : chartmuseums_->keys()) queue_.add(k);
}

void Controller::requeue_same_name(const std::string& ns, const std::string& name) {
  for (auto& k : chartmuseums_->keys()) {
    auto slash = k.find('/');
    if (k.compare(slash + 1, std::string::npos, name) == 0 && k.compare(0, slash, ns) != 0) queue_.add(k);
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
      log_line("warn", "reconcile failed, retrying in " + std::to_string(delay.count()) + " ms: " + e.what(), *key);
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
  threads.emplace_back([&] { chartmuseums_->run(stop); });
  threads.emplace_back([&] { cronjobs_->run(stop); });
  threads.emplace_back([&] { resync_loop(stop); });
  if (options_.follow_sidecar_syncs)
    threads.emplace_back([&] {
      follow_sidecar_syncs(
          options_, stop, options_.sidecar_poll_wait,
          [this](const std::string& key) {
            // Only resources this operator watches; ahead of the queue: the result of a
            // sync is what turns a resource Ready.
            if (chartmuseums_->get(key)) queue_.add_urgent(key);
          },
          [this] { sidecar_lost_state("it restarted: new epoch on GET /syncs"); });
    });
  // Workers start once both caches have listed (client-go's WaitForCacheSync): a
  // reconcile then never needs to GET a CronJob.
  while (!(chartmuseums_->synced() && cronjobs_->synced()) && stop.sleep_for(std::chrono::milliseconds(20))) {
  }
  for (int i = 0; i < std::max(1, options_.workers); ++i) threads.emplace_back([&] { worker_loop(); });
  while (stop.sleep_for(std::chrono::hours(24))) {
  }
  queue_.shutdown();
  for (auto& t : threads) t.join();
}

std::string Controller::render_metrics() const {
  std::ostringstream out;
  // HELP and TYPE as every cmop /metrics writes them; the samples as the stream shows them.
  auto family = [&out](std::string_view name, std::string_view type, std::string_view help) {
    std::string lines;
    util::prometheus::family(lines, name, type, help);
    out << lines;
  };
  family("cmop_operator_reconcile_total", "counter", "Reconciles by result.");
  out << "cmop_operator_reconcile_total{result=\"success\"} " << metrics_.reconcile_success << "\n"
      << "cmop_operator_reconcile_total{result=\"error\"} " << metrics_.reconcile_error << "\n";
  family("cmop_operator_reconcile_seconds_total", "counter", "Time spent reconciling.");
  out << "cmop_operator_reconcile_seconds_total " << metrics_.reconcile_micros / 1e6 << "\n";
  family("cmop_operator_reconcile_duration_seconds", "histogram", "Time one reconcile took.");
  long cumulative = 0;
  for (std::size_t i = 0; i < ControllerMetrics::kReconcileBuckets.size(); ++i) {
    cumulative += metrics_.reconcile_buckets[i];
    out << "cmop_operator_reconcile_duration_seconds_bucket{le=\"" << ControllerMetrics::kReconcileBuckets[i]
        << "\"} " << cumulative << "\n";
  }
  cumulative += metrics_.reconcile_buckets.back();
  out << "cmop_operator_reconcile_duration_seconds_bucket{le=\"+Inf\"} " << cumulative << "\n"
      << "cmop_operator_reconcile_duration_seconds_sum " << metrics_.reconcile_micros / 1e6 << "\n"
      << "cmop_operator_reconcile_duration_seconds_count " << cumulative << "\n";
  struct Counter {
    const char* name;
    const char* help;
    long value;
  };
  const Counter counters[] = {
      {"cmop_operator_sidecar_applies_total", "POST /repo/new calls.", metrics_.sidecar_applies},
      {"cmop_operator_status_writes_total", "Status subresource updates.", metrics_.status_writes},
      {"cmop_operator_relists_total", "Full lists of Chartmuseums.", metrics_.relists},
      {"cmop_operator_watch_restarts_total", "Watch streams that ended and were resumed.", metrics_.watch_restarts},
      {"cmop_operator_watch_errors_total", "Failed lists and watches.", metrics_.watch_errors},
  };
  for (const auto& c : counters) {
    family(c.name, "counter", c.help);
    out << c.name << " " << c.value << "\n";
  }
  family("cmop_operator_workqueue_depth", "gauge", "Keys waiting (including delayed retries).");
  out << "cmop_operator_workqueue_depth " << queue_.depth() << "\n";
  // Each scheduled resource's interval, by its repo name in the sidecar (the
  // resource's name), so an alert can compare a repo's last successful sync with
  // its own schedule. Suspended or deleted resources have none.
  family("cmop_operator_repo_update_interval_seconds", "gauge",
         "A Chartmuseum resource's schedule (spec.updateEveryMinutes) in seconds, by repo.");
  if (chartmuseums_) {
    for (const auto& key : chartmuseums_->keys()) {
      auto object = chartmuseums_->get(key);
      if (!object || value_at(*object, "metadata.deletionTimestamp")) continue;
      long minutes = CronJobTarget{}.every_minutes;
      if (auto* m = value_at(*object, "spec.updateEveryMinutes"); m && m->IsInt64()) minutes = static_cast<long>(m->GetInt64());
      if (auto* suspended = value_at(*object, "spec.suspend"); suspended && suspended->IsBool() && suspended->GetBool())
        continue;
      out << "cmop_operator_repo_update_interval_seconds{repo=\"" << util::prometheus::label_value(str_at(*object, "metadata.name"))
          << "\",resource_namespace=\"" << util::prometheus::label_value(str_at(*object, "metadata.namespace")) << "\"} "
          << minutes * 60 << "\n";
    }
  }
  return out.str();
}

}  // namespace cmop::operate
