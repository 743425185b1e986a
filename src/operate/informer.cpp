#include "cmop/operate/informer.hpp"

#include <random>

#include "cmop/operate/controller.hpp"
#include "cmop/operate/watch_stream.hpp"

namespace cmop::operate {

std::string object_key(const rapidjson::Value& object) {
  return str_at(object, "metadata.namespace") + "/" + str_at(object, "metadata.name");
}

namespace {
// resourceVersions are opaque, but every API server backed by etcd hands out
// increasing integers; only then can two be ordered.
bool older_than(const rapidjson::Value& a, const rapidjson::Value& b) {
  auto ra = str_at(a, "metadata.resourceVersion"), rb = str_at(b, "metadata.resourceVersion");
  auto numeric = [](const std::string& s) {
    return !s.empty() && s.size() < 19 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  return numeric(ra) && numeric(rb) && std::stoll(ra) < std::stoll(rb);
}
}  // namespace

Informer::Informer(const KubeClient& kube, ResourceType type, std::string ns, std::string label_selector,
                   int watch_timeout_seconds, ControllerMetrics& metrics, Handler on_change)
    : kube_(kube),
      type_(std::move(type)),
      ns_(std::move(ns)),
      label_selector_(std::move(label_selector)),
      watch_timeout_seconds_(watch_timeout_seconds),
      metrics_(metrics),
      on_change_(std::move(on_change)) {}

Informer::Object Informer::get(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = cache_.find(key);
  return it == cache_.end() ? nullptr : it->second;
}

std::vector<std::string> Informer::keys() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (auto& [k, v] : cache_) out.push_back(k);
  return out;
}

std::vector<Informer::Object> Informer::select(const std::string& ns,
                                               const std::function<bool(const rapidjson::Value&)>& match) const {
  std::lock_guard lock(mutex_);
  std::vector<Object> out;
  for (auto it = cache_.lower_bound(ns + "/"); it != cache_.end() && it->first.compare(0, ns.size() + 1, ns + "/") == 0;
       ++it)
    if (match(*it->second)) out.push_back(it->second);
  return out;
}

namespace {
// A cached object with an allocator of its own whose chunks fit it: a Document's
// default pool takes 64 KiB at its first allocation, so a cache of a few KiB objects
// cost 64 KiB each (and their churn fragmented the heap).
struct CachedObject {
  rapidjson::MemoryPoolAllocator<> pool;
  rapidjson::Document doc;
  explicit CachedObject(std::size_t chunk) : pool(chunk), doc(&pool) {}
};
}  // namespace

void Informer::store_locked(const std::string& key, const rapidjson::Value& object) {
  auto cached = std::make_shared<CachedObject>(4096);
  cached->doc.CopyFrom(object, cached->pool);
  cache_[key] = Object(cached, &cached->doc);
}

void Informer::remember(const rapidjson::Value& object) {
  std::string key = object_key(object);
  std::lock_guard lock(mutex_);
  auto it = cache_.find(key);
  if (it != cache_.end() && older_than(object, *it->second)) return;
  store_locked(key, object);
}

void Informer::run(StopSignal& stop) {
  const std::string what = type_.plural + (label_selector_.empty() ? "" : " (" + label_selector_ + ")");
  std::mt19937 rng(std::random_device{}());
  // A low cap: after an outage the informer is blind until its next attempt, so the
  // gap between attempts bounds the recovery (at most 2 s + 50% jitter). A list or
  // watch every 2-3 s from one client is nothing a recovering API server notices,
  // and its 429 Retry-After still stretches the wait when it asks.
  const auto initial_backoff = std::chrono::milliseconds(500);
  const auto max_backoff = std::chrono::milliseconds(2000);
  auto backoff = initial_backoff;
  // Waits the current backoff (or the server's Retry-After, when longer) and doubles it.
  auto sleep_backoff = [&](int retry_after_seconds = 0) {
    auto jitter = std::uniform_int_distribution<long>(0, backoff.count() / 2)(rng);
    stop.sleep_for(std::max(backoff + std::chrono::milliseconds(jitter),
                            std::chrono::milliseconds(std::chrono::seconds(retry_after_seconds))));
    backoff = std::min(backoff * 2, max_backoff);
  };
  auto retry_after = [](const Error& e) {
    auto* api = dynamic_cast<const KubeApiError*>(&e);
    return api ? api->retry_after_seconds() : 0;
  };
  while (!stop.stop_requested()) {
    std::string rv;
    try {
      auto list = kube_.list(type_, ns_, label_selector_);
      rv = str_at(list, "metadata.resourceVersion");
      std::map<std::string, Object> before;
      {
        std::lock_guard lock(mutex_);
        before.swap(cache_);
        if (list.HasMember("items") && list["items"].IsArray())
          for (auto& item : list["items"].GetArray()) store_locked(object_key(item), item);
      }
      synced_ = true;
      if (on_listed_) on_listed_();
      // Objects that vanished while we were not watching are reported too, with
      // their last known state.
      for (auto& [k, obj] : before)
        if (!get(k)) on_change_(k, obj.get(), nullptr);
      for (auto& k : keys()) {
        auto old = before.find(k);
        on_change_(k, get(k).get(), old == before.end() ? nullptr : old->second.get());
      }
      ++metrics_.relists;
      log_line("info", "listed " + std::to_string(keys().size()) + " " + what + " at resourceVersion " + rv);
    } catch (const Error& e) {
      ++metrics_.watch_errors;
      log_line("error", "cannot list " + what + ": " + e.what());
      sleep_backoff(retry_after(e));
      continue;
    }

    bool relist = false;
    // An ERROR event other than 410 Expired (a failing server: 500, 429, 504 ...) ends the
    // stream like a 410, but relisting at once would hammer that server in a loop: back off.
    bool failed_with_error_event = false;
    while (!relist && !stop.stop_requested()) {
      WatchOptions wo;
      wo.resource_version = rv;
      wo.allow_bookmarks = true;
      wo.label_selector = label_selector_;
      wo.cancelled = [&stop] { return stop.stop_requested(); };
      // Spread the re-watch times of several operators/restarts, as client-go does.
      wo.timeout_seconds = watch_timeout_seconds_ +
                           std::uniform_int_distribution<int>(0, watch_timeout_seconds_ / 5)(rng);
      try {
        kube_.watch(type_, ns_, wo, [&](WatchEvent& ev) {
          if (stop.stop_requested()) return false;
          WatchAction action = interpret_watch_event(ev);
          if (action.kind == WatchAction::Kind::relist) {
            log_line(action.error_code == 410 ? "info" : "warn",
                     "watch of " + what + ": error " + std::to_string(action.error_code) + " (" +
                         action.error_reason + "): " + action.error_message + "; relisting");
            relist = true;
            failed_with_error_event = action.error_code != 410;
            return false;
          }
          if (!action.resource_version.empty()) rv = action.resource_version;
          if (action.kind == WatchAction::Kind::bookmark) return true;
          Object before;  // kept alive for the handler
          {
            std::lock_guard lock(mutex_);
            auto it = cache_.find(action.key);
            if (it != cache_.end()) before = it->second;
            if (action.kind == WatchAction::Kind::remove) cache_.erase(action.key);
            else if (it == cache_.end() || !older_than(ev.object, *it->second))
              store_locked(action.key, ev.object);
          }
          // A deletion is news whatever it follows.
          on_change_(action.key, &ev.object, action.kind == WatchAction::Kind::remove ? nullptr : before.get());
          return true;
        });
        if (failed_with_error_event) {
          ++metrics_.watch_errors;
          sleep_backoff();
        } else {
          backoff = initial_backoff;
          ++metrics_.watch_restarts;  // the stream ended normally: re-watch from the last RV
        }
      } catch (const KubeApiError& e) {
        ++metrics_.watch_errors;
        if (e.gone()) {
          log_line("info", "watch of " + what + " expired: " + e.what() + "; relisting");
          relist = true;
        } else {
          log_line("error", "watch of " + what + " failed: " + e.what());
          sleep_backoff(e.retry_after_seconds());
          relist = true;
        }
      } catch (const Error& e) {
        if (stop.stop_requested()) break;  // the watch was cancelled for shutdown
        ++metrics_.watch_errors;
        log_line("warn", "watch of " + what + " interrupted: " + e.what() + "; re-watching from " + rv);
        sleep_backoff();
      }
    }
  }
}

}  // namespace cmop::operate
