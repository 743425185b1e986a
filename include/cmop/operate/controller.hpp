#pragma once
// The Chartmuseum controller: list+watch Chartmuseums into a work queue, N workers
// reconciling each key level-triggered against the sidecar and the CronJob.
#include <rapidjson/document.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "cmop/operate/controller_metrics.hpp"
#include "cmop/operate/controller_options.hpp"
#include "cmop/operate/informer.hpp"
#include "cmop/operate/kube_client.hpp"
#include "cmop/operate/log.hpp"
#include "cmop/operate/resource.hpp"
#include "cmop/operate/stop_signal.hpp"
#include "cmop/operate/work_queue.hpp"

namespace cmop::operate {

class Controller {
 public:
  Controller(const KubeClient& kube, ControllerOptions options);
  ~Controller();

  // Runs the informer and the workers until stop is requested.
  void run(StopSignal& stop);
  // Reconciles one object now (what a worker does for a key). Throws on failures
  // that must be retried with backoff.
  void reconcile(const std::string& ns, const std::string& name);

  const ControllerMetrics& metrics() const { return metrics_; }
  std::size_t queue_depth() const { return queue_.depth(); }
  std::string render_metrics() const;

 private:
  class Run;  // one reconcile, in named steps (reconciler.cpp)
  std::optional<rapidjson::Document> current_chartmuseum(const std::string& ns, const std::string& name) const;
  void worker_loop();
  void resync_loop(StopSignal& stop);
  // Queues the resources named `name` in namespaces other than `ns`.
  void requeue_same_name(const std::string& ns, const std::string& name);

  const KubeClient& kube_;
  ControllerOptions options_;
  WorkQueue queue_;
  ControllerMetrics metrics_;
  // Watch-fed caches: reconciles read them instead of GETting after every event.
  std::unique_ptr<Informer> chartmuseums_;
  std::unique_ptr<Informer> cronjobs_;
  // uids whose cleanup finished (finalizer released): a reconcile that still finds
  // such an object in the cache (its update or DELETED event not delivered yet)
  // must not clean up again, which would re-register the repo it just removed.
  std::mutex cleaned_mutex_;
  std::set<std::string> cleaned_uids_;
  // --- what reconciles share (reconciler.cpp) -----------------------------------------
  // The resourceVersion of the last write of ours to the resource ("" for none): a
  // reconcile of that very version follows our own write (its watch echo, a sync
  // report, a resync), not a change made by someone else.
  std::string own_write(const std::string& key) const;
  void note_own_write(const rapidjson::Value& object);
  // Forgets what is kept for a resource that is gone.
  void forget(const std::string& key);
  // The Secret ns/name (null when it does not exist). With `cached_ok`, a copy read
  // less than secret_ttl() ago serves; otherwise (and always for a resource someone
  // else changed) it is read again. Secrets are not watched: listing them all would
  // take a grant to read every Secret, not just the named ones.
  std::shared_ptr<const rapidjson::Document> secret(const std::string& ns, const std::string& name, bool cached_ok);
  std::chrono::milliseconds secret_ttl() const;
  // The sidecar lost its state (a new epoch on GET /syncs, a synced repo it no longer
  // knows): every resource is reconciled at once, so each is applied again. At most
  // once per few seconds, whatever the number of signs.
  void sidecar_lost_state(const std::string& why);
  // A namespace being deleted refuses every create (403, "... because it is being
  // terminated"): the operator then creates nothing there (no Event, no CronJob) for
  // a while, and says so in one info line.
  static bool terminating_refusal(const KubeApiError& e);
  bool namespace_terminating(const std::string& ns) const;
  void note_terminating(const std::string& ns);

  mutable std::mutex shared_mutex_;
  std::map<std::string, std::string> own_writes_;  // key -> resourceVersion
  struct CachedSecret {
    std::shared_ptr<const rapidjson::Document> doc;
    std::chrono::steady_clock::time_point read_at;
  };
  std::map<std::string, CachedSecret> secrets_;  // "ns/name"
  std::chrono::steady_clock::time_point lost_state_at_{};
  struct Terminating {
    std::chrono::steady_clock::time_point seen, logged;
  };
  std::map<std::string, Terminating> terminating_;  // namespace -> when a create was refused
};

}  // namespace cmop::operate
