#pragma once
// What `cmop operate` is told: where the sidecar is, what the CronJobs run, how
// often to resync and retry.
#include <chrono>
#include <string>

namespace cmop::operate {

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

}  // namespace cmop::operate
