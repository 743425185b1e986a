#pragma once
// A list + watch of one resource type (optionally one namespace and a label
// selector) feeding a cache of its objects, as client-go's shared informer does:
// reconciles read the cache instead of GETting after every event. Relists on 410
// and on ERROR events (with backoff), resumes from the last resourceVersion after a
// stream ends, and stops within ~100 ms of a stop request (the watch is cancelled).
#include <rapidjson/document.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cmop/operate/kube_client.hpp"

namespace cmop::operate {

class StopSignal;
struct ControllerMetrics;

class Informer {
 public:
  using Object = std::shared_ptr<const rapidjson::Document>;
  // Called for every change: the key ("namespace/name"), the object's latest state
  // (for a deletion, its last one) and the state cached before (null when none: an
  // addition). After a relist, for every key old or new.
  using Handler = std::function<void(const std::string& key, const rapidjson::Value* object,
                                     const rapidjson::Value* before)>;

  Informer(const KubeClient& kube, ResourceType type, std::string ns, std::string label_selector,
           int watch_timeout_seconds, ControllerMetrics& metrics, Handler on_change);

  // Called after every successful list (once the cache holds it).
  void on_listed(std::function<void()> f) { on_listed_ = std::move(f); }
  // Lists and watches until stop is requested.
  void run(StopSignal& stop);

  // True once a list has been stored: an absent key then means "does not exist"
  // (as far as the watch has told us).
  bool synced() const { return synced_.load(); }
  // The cached object, null when not cached.
  Object get(const std::string& key) const;
  std::vector<std::string> keys() const;
  // The cached objects of one namespace for which `match` holds.
  std::vector<Object> select(const std::string& ns, const std::function<bool(const rapidjson::Value&)>& match) const;
  // Stores what a write of ours returned, unless the cache already holds a newer
  // version: a reconcile that follows before the watch delivers our own write then
  // does not act on the older object (and meet a 409).
  void remember(const rapidjson::Value& object);

 private:
  void store_locked(const std::string& key, const rapidjson::Value& object);

  const KubeClient& kube_;
  ResourceType type_;
  std::string ns_, label_selector_;
  int watch_timeout_seconds_;
  ControllerMetrics& metrics_;
  Handler on_change_;
  std::function<void()> on_listed_;
  mutable std::mutex mutex_;
  std::map<std::string, Object> cache_;
  std::atomic<bool> synced_{false};
};

// "namespace/name" of an object.
std::string object_key(const rapidjson::Value& object);

}  // namespace cmop::operate
