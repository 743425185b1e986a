#pragma once
// Server::Impl: the state the sidecar API's handlers share. Its construction is in
// server.cpp; the handlers are grouped by what they serve: repo_handlers.cpp (git
// repos and dependency repositories), sync_handlers.cpp (running syncs, GET /syncs),
// hook_handlers.cpp (push webhooks), chart_handlers.cpp (the embedded /charts/) and
// health_handlers.cpp (/healthz, /readyz, /metrics, the publisher probe).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "cmop/oci/registry.hpp"
#include "cmop/serve/request.hpp"
#include "cmop/serve/server.hpp"
#include "cmop/sync/workspace.hpp"
#include "hook_guards.hpp"
#include "http.hpp"
#include "metrics.hpp"
#include "sync_feed.hpp"
#include "sync_scheduler.hpp"

namespace cmop::serve {

struct Server::Impl {
  ServerOptions options;
  // Locked before anything touches the state dir; moved into the Workspace, which
  // owns it from then on.
  std::optional<sync::StateDir> state_dir;
  std::shared_ptr<publish::Publisher> publisher;
  bool serve_local_repo = false;
  std::filesystem::path local_repo_dir;
  std::unique_ptr<sync::Workspace> workspace;
  Metrics metrics;

  std::atomic<bool> ready{false};
  mutable std::mutex probe_mu;  // guards the three below
  std::condition_variable probe_cv;
  bool probe_stop = false;
  std::string not_ready_reason = "publisher not probed yet";
  std::thread prober;

  HookRateLimiter hook_limiter{options.hook_rate_per_minute};
  DeliveryLog deliveries;
  // Each repo's webhook secret, apart from its state: the refusal path of a
  // webhook looks up this string and nothing else (no copy of a large state, so
  // its cost and answer are the same whether or not the repo exists). Refreshed
  // from the workspace after every apply and removal.
  mutable std::mutex secrets_mu;
  std::map<std::string, std::string> hook_secrets;
  void refresh_hook_secret(const std::string& repo);
  // Requests waiting for a sync or delete to finish (the waiting-requests gauge);
  // asynchronous requests, answered at once, are not among them.
  std::atomic<std::size_t> waiting_requests{0};
  RepoLanes::Waiter counted(const Responder& respond);
  bool trusted(const HttpRequest& head) const;
  SyncFeed feed;
  // Specs accepted by an asynchronous POST /repo/new for repos the workspace does
  // not know yet: GET /repo/{name} shows them while their first apply is queued
  // (and the reason when that apply was refused), so a client polling the state
  // never mistakes an accepted repo for an unknown one.
  struct Pending {
    std::string key;  // the apply job's coalesce key
    sync::RepoState state;
  };
  mutable std::mutex pending_mu;
  std::map<std::string, Pending> pending;
  std::unique_ptr<WorkerPool> pool;
  std::unique_ptr<RepoLanes> lanes;
  std::unique_ptr<HttpServer> http;
  bool started = false;
  bool stopped = false;

  // Construction, in the order the constructor takes its steps (server.cpp).
  explicit Impl(ServerOptions o);
  void open_state_dir();
  void make_publisher(const oci::ClientOptions& registry);
  void open_workspace(const oci::ClientOptions& registry);
  void make_lanes();
  void make_listener();
  // The HttpServer's log line and counters for each answered request.
  void observe_response(const std::string& method, const std::string& target, int status, std::size_t bytes,
                        double seconds, const std::string& remote, bool complete);

  void stop_prober();
  void probe_until_ready();
  void teardown();

  void handle(HttpRequest req, const Responder& respond);
  bool authorized(const std::string& header, const Route& route) const;
  // What the request's head alone refuses (unknown route, method, credentials);
  // sets `route`.
  std::optional<HttpResponse> refusal(const HttpRequest& req, Route& route) const;
  // The same for HttpServer, before a body is read or a 100 Continue sent.
  std::optional<HttpResponse> precheck(const HttpRequest& head) const;

  HttpResponse readiness() const;
  HttpResponse metrics_text() const;
  HttpResponse list_repos() const;
  HttpResponse get_repo(const std::string& name) const;
  // A state object with "syncing": whether a sync of the repo is queued or running.
  std::string state_json(const sync::RepoState& state) const;
  bool syncing(const std::string& repo) const;
  HttpResponse list_dependencies() const;
  HttpResponse put_dependency(const HttpRequest& req);
  HttpResponse chart_file(const std::string& file, const std::string& method) const;
  void new_repo(const HttpRequest& req, const Responder& respond);
  // `async`: queue the update and answer 202 at once (as a webhook does).
  void update_repo(const std::string& name, bool async, const Responder& respond);
  HttpResponse update_job(const std::string& name);
  // When a repo's update was last asked for, kept until its job starts: the job
  // serves every request that joined it, so it asks for a git fetch begun after
  // the latest of them (one another repo of the same remote began since is reused).
  void note_update_asked(const std::string& name);
  std::mutex update_asked_mu;
  std::map<std::string, std::chrono::steady_clock::time_point> update_asked;
  HttpResponse receive_hook(const HttpRequest& req, const std::string& name);
  void watch_syncs(const HttpRequest& req, const Responder& respond);
  // `owner` non-empty: only when the repo is that owner's (or has none).
  void delete_repo(const std::string& name, const std::string& owner, const Responder& respond);

  // Runs one sync job, announcing its start and end on the feed under `owner`.
  HttpResponse run_sync(const std::string& repo, const std::string& owner,
                        const std::function<sync::SyncReport()>& sync_call);
};

}  // namespace cmop::serve
