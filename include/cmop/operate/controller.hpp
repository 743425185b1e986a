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
#include <set>
#include <string>

#include "cmop/operate/informer.hpp"
#include "cmop/operate/kube_client.hpp"
#include "cmop/operate/work_queue.hpp"

namespace cmop::operate {

inline constexpr const char* kFinalizer = "cm.bitnami.com/cleanup";
// Any new value on a Chartmuseum asks for a sync now; status.lastHandledReconcileAt echoes it.
inline constexpr const char* kRequestedAtAnnotation = "cm.bitnami.com/requestedAt";
inline constexpr const char* kApiVersion = "cm.bitnami.com/v1alpha1";
inline constexpr const char* kKind = "Chartmuseum";
// The labels of the CronJobs the operator makes (the CronJob informer selects on the first).
inline constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr const char* kRepoLabel = "cm.bitnami.com/repo";

// The name of a resource's CronJob. The API server refuses CronJob names over 52
// characters (its Jobs append an 11-character suffix within the 63 a name may have):
// a longer resource name keeps its first 41 characters and gets "-" and 10 hex digits
// of the SHA-256 of the whole name, stable across restarts and distinct per name.
std::string cronjob_name_for(const std::string& resource_name);

// A stop flag that sleepers can wait on.
class StopSignal {
 public:
  void request_stop();
  bool stop_requested() const { return stopped_.load(); }
  // Sleeps up to d; returns false when stop was requested.
  bool sleep_for(std::chrono::milliseconds d);

 private:
  std::atomic<bool> stopped_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
};

struct ControllerOptions {
  std::string sidecar_url = "http://127.0.0.1:8081";
  std::string sidecar_token;
  std::string watch_namespace;       // empty = all namespaces
  std::string image;                 // the CronJobs' image (runs `cmop trigger NAME`)
  std::string token_secret_name;     // Secret (in the CR's namespace) holding the sidecar token
  std::string token_secret_key;
  std::string trigger_endpoint;      // sidecar URL as seen from CronJob pods
  int workers = 2;
  std::chrono::milliseconds resync_period{std::chrono::minutes(5)};
  int watch_timeout_seconds = 300;
  std::chrono::milliseconds retry_base{std::chrono::seconds(1)};
  std::chrono::milliseconds retry_max{std::chrono::minutes(5)};
  int successful_jobs_history = 3;
  int failed_jobs_history = 3;
  int job_backoff_limit = 2;
  std::string instance = "cmop-operator";  // reportingInstance of Events
  // Long-poll the sidecar's GET /syncs so a sync the operator did not run (CronJob,
  // webhook) reaches the resource's status at once (sidecar_feed.hpp). Each poll
  // waits at most sidecar_poll_wait, which also bounds how long stopping takes.
  bool follow_sidecar_syncs = true;
  std::chrono::seconds sidecar_poll_wait{5};
};

// Counters exported on /metrics (Prometheus text format).
struct ControllerMetrics {
  std::atomic<long> reconcile_success{0};
  std::atomic<long> reconcile_error{0};
  std::atomic<long> reconcile_micros{0};
  // cmop_operator_reconcile_duration_seconds: non-cumulative counts per bucket (the
  // last one is +Inf); the sum is reconcile_micros, the count the two totals above.
  static constexpr std::array<double, 12> kReconcileBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5,   1,    2.5,   5,    10,  60};
  std::array<std::atomic<long>, kReconcileBuckets.size() + 1> reconcile_buckets{};
  void record_reconcile(double seconds);
  std::atomic<long> sidecar_applies{0};
  std::atomic<long> status_writes{0};
  std::atomic<long> relists{0};
  std::atomic<long> watch_restarts{0};
  std::atomic<long> watch_errors{0};
  std::atomic<bool> synced{false};
};

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

// One log line on stderr ("text" or JSON lines per set_log_format).
void log_line(const std::string& level, const std::string& message);
void set_log_format(const std::string& format);

}  // namespace cmop::operate
