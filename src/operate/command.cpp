#include "cmop/operate/command.hpp"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include "cmop/error.hpp"
#include "cmop/operate/health_server.hpp"
#include "cmop/operate/kube_client.hpp"
#include "cmop/operate/leader_election.hpp"
#include "cmop/util/log.hpp"
#include "cmop/util/prometheus.hpp"
#include "cmop/util/url.hpp"

namespace cmop::operate {
namespace {

std::string make_identity() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::mt19937 rng(std::random_device{}());
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(rng()));
  return std::string(host) + "_" + suffix;
}

// The controller's metrics and whether this replica leads.
std::string metrics_text(const Controller& controller, bool leading) {
  std::string out = controller.render_metrics();
  util::prometheus::single(out, "cmop_operator_is_leader", "gauge", "1 when this replica reconciles.",
                           leading ? "1" : "0");
  return out;
}

// The checks of the flags that CLI11 cannot make, and what they leave implicit.
void check_options(OperateOptions& o) {
  auto& c = o.controller;
  if (c.image.empty())
    throw Error(Errc::invalid_argument, "--image", "is required: the image the CronJobs run `cmop trigger` with");
  if (!o.token_secret.empty()) {
    auto slash = o.token_secret.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == o.token_secret.size())
      throw Error(Errc::invalid_argument, "--token-secret", "must be NAME/KEY, got \"" + o.token_secret + "\"");
    c.token_secret_name = o.token_secret.substr(0, slash);
    c.token_secret_key = o.token_secret.substr(slash + 1);
  }
  if (!util::is_http_url(c.sidecar_url))
    throw Error(Errc::invalid_argument, "--sidecar-url", "must be an http:// or https:// URL");
  if (c.trigger_endpoint.empty()) c.trigger_endpoint = c.sidecar_url;
}

// /healthz, /readyz and /metrics of the operator's probe server.
HealthResponse probe_answer(const std::string& path, const Controller& controller, bool leading) {
  if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
  if (path == "/readyz") {
    // A standby replica is ready: it serves its purpose by waiting for the Lease.
    bool ready = !leading || controller.metrics().synced;
    return {ready ? 200 : 503, "text/plain; charset=utf-8", ready ? "ready\n" : "not synced yet\n"};
  }
  if (path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", metrics_text(controller, leading)};
  return {404, "text/plain; charset=utf-8", "not found\n"};
}

// A thread that waits for SIGTERM or SIGINT (blocked in every thread: `signals`)
// and asks `stop` to stop.
void stop_on_signal(const sigset_t& signals, StopSignal& stop) {
  std::thread([signals, &stop] {
    int sig = 0;
    sigwait(&signals, &sig);
    log_line("info", std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ", stopping");
    stop.request_stop();
  }).detach();
}

// Let in-flight reconciles finish before handing the Lease over, within the pod's
// termination grace period, and keep renewing meanwhile so no successor starts
// while they run. (Watches are cancelled at once: an idle operator is done well
// within 2 s; only a sync in flight can take longer.) Never returns.
[[noreturn]] void hand_over_lease(LeaderElector& elector, const LeaseOptions& lo, std::thread& worker,
                                  const std::atomic<bool>& controller_done, std::atomic<bool>& leading) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  // hold() renewed within the last retry period, well inside the Lease's duration:
  // the next renewal is due only if the reconciles take longer than that.
  auto next_renew = std::chrono::steady_clock::now() + lo.retry_period;
  while (!controller_done && std::chrono::steady_clock::now() < deadline) {
    if (std::chrono::steady_clock::now() >= next_renew) {
      try {
        elector.try_acquire_or_renew();
      } catch (const Error& e) {
        log_line("warn", std::string("lease renewal during shutdown failed: ") + e.what());
      }
      next_renew = std::chrono::steady_clock::now() + lo.retry_period;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  elector.release();
  leading = false;
  if (controller_done) {
    worker.join();
    // Nothing is left to do once the Lease is given up: the controller has stopped
    // and the log is flushed. Unwinding further only made the exit wait for the
    // probe server's graceful shutdown (up to 1.2 s for its connections to close).
    log_line("info", "stopped");
    std::fflush(nullptr);
    std::_Exit(0);
  }
  log_line("warn", "stopping with work still in flight after 20 s");
  std::fflush(nullptr);
  std::_Exit(0);
}

// Reconciles while this replica holds the Lease; returns when it never got it.
int run_as_leader(KubeClient& kube, Controller& controller, const OperateOptions& o, const std::string& identity,
                  StopSignal& stop, std::atomic<bool>& leading) {
  LeaseOptions lo;
  lo.name = o.lease_name;
  lo.ns = o.lease_namespace;
  lo.identity = identity;
  LeaderElector elector(kube, lo);
  if (!elector.acquire(stop)) return 0;
  leading = true;
  StopSignal controller_stop;
  std::atomic<bool> controller_done{false};
  std::thread worker([&] {
    controller.run(controller_stop);
    controller_done = true;
  });
  bool clean = elector.hold(stop);
  controller_stop.request_stop();
  if (!clean) {
    // Another replica may already lead: stop reconciling at once, as client-go
    // does, rather than wait for in-flight work.
    log_line("error", "exiting: leadership lost");
    std::fflush(nullptr);
    std::_Exit(1);
  }
  hand_over_lease(elector, lo, worker, controller_done, leading);
}

}  // namespace

int run(OperateOptions o) {
  set_log_format(o.log_format);
  util::log::set_level(util::log::parse_level(o.log_level));
  check_options(o);
  auto& c = o.controller;

  // Signals are taken by one thread with sigwait; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  KubeClient kube(load_kube_config(o.kubeconfig));
  if (o.lease_namespace.empty()) o.lease_namespace = kube.config().default_namespace;
  const std::string identity = make_identity();
  c.instance = identity;
  Controller controller(kube, c);
  StopSignal stop;
  std::atomic<bool> leading{!o.leader_elect};

  HealthServer health(o.listen, [&](const std::string& path) { return probe_answer(path, controller, leading); });
  log_line("info", "operator listening on port " + std::to_string(health.port()) + " for /healthz and /metrics; " +
                       "watching " + (c.watch_namespace.empty() ? "all namespaces" : "namespace " + c.watch_namespace) +
                       "; sidecar " + c.sidecar_url);
  stop_on_signal(signals, stop);

  if (!o.leader_elect) {
    controller.run(stop);
    return 0;
  }
  return run_as_leader(kube, controller, o, identity, stop, leading);
}

void add_command(CLI::App& app) {
  auto o = std::make_shared<OperateOptions>();
  auto* cmd = app.add_subcommand("operate", "Run the Kubernetes operator for Chartmuseum resources");
  auto& c = o->controller;
  cmd->add_option("--sidecar-url", c.sidecar_url, "The cmop serve API")->envname("CMOP_SIDECAR_URL")->capture_default_str();
  cmd->add_option("--token", c.sidecar_token, "Bearer token for the sidecar")->envname("CMOP_TOKEN");
  cmd->add_option("--namespace", c.watch_namespace, "Watch one namespace (default: all)")->envname("CMOP_WATCH_NAMESPACE");
  cmd->add_option("--kubeconfig", o->kubeconfig, "kubeconfig file (default: in-cluster)")->envname("KUBECONFIG");
  cmd->add_option("--image", c.image, "Image the CronJobs run (`cmop trigger NAME`)")->envname("CMOP_IMAGE");
  cmd->add_option("--token-secret", o->token_secret, "NAME/KEY of the Secret holding the sidecar token for CronJobs")
      ->envname("CMOP_TOKEN_SECRET");
  cmd->add_option("--trigger-endpoint", c.trigger_endpoint, "Sidecar URL as seen from CronJob pods (default: sidecar URL)")
      ->envname("CMOP_TRIGGER_ENDPOINT");
  cmd->add_flag("--leader-elect", o->leader_elect, "Lease-based leader election")->envname("CMOP_LEADER_ELECT");
  cmd->add_option("--lease-name", o->lease_name, "Lease name")->envname("CMOP_LEASE_NAME")->capture_default_str();
  cmd->add_option("--lease-namespace", o->lease_namespace, "Lease namespace (default: the pod's)")
      ->envname("CMOP_LEASE_NAMESPACE");
  cmd->add_option("--listen", o->listen, "Address for /healthz and /metrics")
      ->envname("CMOP_OPERATOR_LISTEN")
      ->capture_default_str();
  cmd->add_option("--log-format", o->log_format, "text or json")
      ->envname("CMOP_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--log-level", o->log_level, "debug, info, warn or error")
      ->envname("CMOP_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  cmd->add_option("--workers", c.workers, "Concurrent reconciles")->check(CLI::Range(1, 64))->capture_default_str();
  auto resync_seconds = std::make_shared<int>(300);
  cmd->add_option("--resync-seconds", *resync_seconds, "Re-check every Chartmuseum this often")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  auto watch_timeout = std::make_shared<int>(300);
  cmd->add_option("--watch-timeout-seconds", *watch_timeout, "Renew watch streams this often")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->callback([o, resync_seconds, watch_timeout] {
    o->controller.resync_period = std::chrono::seconds(*resync_seconds);
    o->controller.watch_timeout_seconds = *watch_timeout;
    std::exit(run(*o));
  });
}

}  // namespace cmop::operate
