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
  // The last Ready=True/False each resource was given (by key), so events mark
  // changes even though Ready passes through Unknown while a sync runs.
  struct SettledOutcome {
    std::string uid;
    bool ready = false;
    std::string reason;
    long generation = 0;
  };
  std::mutex settled_mutex_;
  std::map<std::string, SettledOutcome> settled_;
};

}  // namespace cmop::operate
