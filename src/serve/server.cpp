#include "cmop/serve/server.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "cmop/error.hpp"
#include "cmop/sign/signing_publisher.hpp"
#include "cmop/sync/serialize.hpp"
#include "cmop/sync/workspace.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/log.hpp"
#include "cmop/util/names.hpp"
#include "cmop/util/redact.hpp"
#include "cmop/util/time.hpp"
#include "cmop/util/url.hpp"
#include "cmop/util/utf8.hpp"
#include "cmop/serve/request.hpp"
#include "cmop/serve/webhooks.hpp"
#include "http.hpp"
#include "metrics.hpp"
#include "sync_feed.hpp"
#include "sync_scheduler.hpp"

namespace cmop::serve {
namespace fs = std::filesystem;
namespace log = util::log;
using Clock = std::chrono::steady_clock;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

namespace {

// --- answers -----------------------------------------------------------------

int status_for(Errc code) {
  switch (code) {
    case Errc::invalid_argument:
    case Errc::invalid_chart: return 400;
    case Errc::unauthorized: return 401;
    case Errc::forbidden: return 403;
    case Errc::not_found: return 404;
    case Errc::conflict: return 409;
    case Errc::too_large: return 413;
    case Errc::git:
    case Errc::network:
    case Errc::upstream:
    case Errc::dependency: return 502;
    case Errc::io:
    case Errc::internal: return 500;
  }
  return 500;
}

HttpResponse error_response(const Error& e) { return json_error(status_for(e.code()), e.what(), to_string(e.code())); }

HttpResponse json_ok(std::string body, int status = 200) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// Values may quote names from git (bytes, not necessarily UTF-8): the answer stays
// valid JSON. Every answer is readable without a token: URLs in it are redacted.
void put(JsonWriter& w, const char* key, const std::string& value) {
  w.Key(key);
  const std::string text = util::to_valid_utf8(util::redact_text(value));
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

template <typename Fill>
std::string json_object(Fill fill) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  fill(w);
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

// A repo-level failure (clone/fetch, publish target down) carries no error
// category in the report; both are failures of a peer, hence 502.
HttpResponse report_response(const sync::SyncReport& report) {
  std::string body = sync::report_to_json(report);
  if (report.error.empty()) return json_ok(std::move(body));
  std::string wrapped = json_object([&](JsonWriter& w) {
    put(w, "error", report.error);
    put(w, "code", "SyncFailed");  // git or the publish target: the report says which
  });
  wrapped.pop_back();  // reopen the object to splice the report in verbatim
  wrapped += ",\"report\":" + body + "}";
  return json_ok(std::move(wrapped), 502);
}

// ?async=true|false (absent: false).
bool async_requested(const std::string& target) {
  const std::string value = query_parameter(target, "async");
  if (!value.empty() && value != "true" && value != "false")
    throw Error(Errc::invalid_argument, "query parameter \"async\"", "must be true or false");
  return value == "true";
}

bool is_sync_job(const std::string& key) { return key == "update" || key.rfind("apply:", 0) == 0; }

std::string sync_result(const sync::SyncReport& report) {
  if (!report.error.empty()) return "error";
  return report.ok() ? "success" : "partial";
}

// File names a Helm chart repository holds: <name>-<version>.tgz. No separators,
// no leading dot, so nothing outside the repo dir can be named.
bool is_chart_file_name(const std::string& f) {
  if (f.size() < 5 || f.size() > 255 || f.compare(f.size() - 4, 4, ".tgz") != 0) return false;
  if (!std::isalnum(static_cast<unsigned char>(f.front()))) return false;
  if (f.find("..") != std::string::npos) return false;
  for (unsigned char c : f)
    if (!std::isalnum(c) && c != '.' && c != '-' && c != '_' && c != '+') return false;
  return true;
}

// Accepted webhooks per repo: a token bucket each, holding up to `per_minute`
// and refilled evenly. Only authenticated hooks of registered repos take a token,
// so the map is bounded by the repos, and nobody without a repo's secret can use up
// its budget.
class HookRateLimiter {
 public:
  explicit HookRateLimiter(int per_minute) : capacity_(std::max(1, per_minute)) {}
  // True when the repo may sync now; otherwise `retry_after` holds whole seconds until it may.
  bool take(const std::string& repo, int& retry_after) {
    std::lock_guard lk(mu_);
    auto now = Clock::now();
    auto [it, fresh] = buckets_.try_emplace(repo, Bucket{capacity_, now});
    Bucket& b = it->second;
    if (!fresh) {
      b.tokens = std::min(capacity_, b.tokens + std::chrono::duration<double>(now - b.at).count() * capacity_ / 60.0);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return true;
    }
    retry_after = static_cast<int>(std::ceil((1 - b.tokens) * 60.0 / capacity_));
    return false;
  }
  void forget(const std::string& repo) {
    std::lock_guard lk(mu_);
    buckets_.erase(repo);
  }

 private:
  struct Bucket {
    double tokens;
    Clock::time_point at;
  };
  double capacity_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

// Webhook deliveries seen lately (by the provider's delivery id), so a captured
// signed delivery sent again is not acted on twice. Only deliveries whose signature
// held are remembered; at most kCapacity (the oldest make room), each for kWindow.
class DeliveryLog {
 public:
  static constexpr std::size_t kCapacity = 10000;
  static constexpr std::chrono::hours kWindow{24};
  // True the first time (repo, id) comes within the window; remembers it.
  bool first(const std::string& repo, const std::string& id) {
    const std::string key = util::sha256_hex(repo + '\n' + id);  // fixed size, whatever was sent
    std::lock_guard lk(mu_);
    const auto now = Clock::now();
    while (!order_.empty() && (now - order_.front().first > kWindow || order_.size() >= kCapacity)) {
      seen_.erase(order_.front().second);
      order_.pop_front();
    }
    if (!seen_.insert(key).second) return false;
    order_.emplace_back(now, key);
    return true;
  }
 private:
  std::mutex mu_;
  std::deque<std::pair<Clock::time_point, std::string>> order_;
  std::set<std::string> seen_;
};

}  // namespace

// --- the server ----------------------------------------------------------------

struct Server::Impl {
  ServerOptions options;
  // Locked before anything touches the state dir; moved into the Workspace, which
  // owns it from then on.
  std::optional<sync::StateDir> state_dir;
  std::shared_ptr<publish::Publisher> publisher;
  bool serve_local_repo = false;
  fs::path local_repo_dir;
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

  explicit Impl(ServerOptions o);
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
  std::map<std::string, Clock::time_point> update_asked;
  HttpResponse receive_hook(const HttpRequest& req, const std::string& name);
  void watch_syncs(const HttpRequest& req, const Responder& respond);
  // `owner` non-empty: only when the repo is that owner's (or has none).
  void delete_repo(const std::string& name, const std::string& owner, const Responder& respond);

  // Runs one sync job, announcing its start and end on the feed under `owner`.
  HttpResponse run_sync(const std::string& repo, const std::string& owner,
                        const std::function<sync::SyncReport()>& sync_call);
};

Server::Impl::Impl(ServerOptions o) : options(std::move(o)) {
  if (options.workers < 1)
    throw Error(Errc::invalid_argument, "--workers", "must be at least 1, got " + std::to_string(options.workers));
  if (options.max_syncs_per_host < 0)
    throw Error(Errc::invalid_argument, "--max-syncs-per-host", "must not be negative");
  if (options.io_threads < 1)
    throw Error(Errc::invalid_argument, "io threads", "must be at least 1, got " + std::to_string(options.io_threads));
  if (options.state_dir.empty()) throw Error(Errc::invalid_argument, "--state-dir", "must not be empty");
  // Every configured path is fixed at start-up: libgit2 and the publishers open
  // paths from other threads and layers, and a relative one would silently depend
  // on the working directory of whoever started us.
  for (fs::path* p : {&options.state_dir, &options.local_repo_dir, &options.git_ca_file, &options.ca_file,
                      &options.ssh_known_hosts_file})
    if (!p->empty()) *p = fs::absolute(*p).lexically_normal();

  try {
    state_dir.emplace(options.state_dir);
    if (!options.chartmuseum_url.empty() && !options.oci_registry.empty())
      throw Error(Errc::invalid_argument, "--oci-registry", "cannot be combined with --chartmuseum-url: choose one target");
    if (options.chartmuseum_url.empty() && options.oci_registry.empty()) {
      local_repo_dir = options.local_repo_dir.empty() ? options.state_dir / "charts" : options.local_repo_dir;
      fs::create_directories(local_repo_dir);
      serve_local_repo = true;
    }
  } catch (const fs::filesystem_error& e) {
    throw Error(Errc::io, e.path1().string(), e.code().message());
  }

  if (!options.ca_file.empty() && !fs::is_regular_file(options.ca_file))
    throw Error(Errc::invalid_argument, "--ca-file", options.ca_file.string() + " is not a readable file");
  net::TlsOptions tls;
  tls.ca_file = options.ca_file.string();
  oci::ClientOptions registry_options;
  registry_options.tls = tls;
  registry_options.plain_http_hosts = options.plain_http_registries;
  if (options.network_timeout.count() > 0) registry_options.peers.stall_timeout = options.network_timeout;
  auto registry = std::make_shared<oci::RegistryClient>(registry_options);

  if (options.publisher) {
    publisher = options.publisher;
  } else if (!options.oci_registry.empty()) {
    publish::OciPublisherOptions oo;
    oo.url = options.oci_registry;
    oo.credentials = {options.oci_username, options.oci_password};
    oo.client = registry;
    try {
      publisher = publish::make_oci_publisher(std::move(oo));
    } catch (const Error& e) {
      throw Error(Errc::invalid_argument, "--oci-registry \"" + options.oci_registry + "\"", e.reason());
    }
  } else if (!options.chartmuseum_url.empty()) {
    if (!util::is_http_url(options.chartmuseum_url))
      throw Error(Errc::invalid_argument, "--chartmuseum-url \"" + util::redact_url(options.chartmuseum_url) + "\"",
                  "must be an http:// or https:// URL");
    publish::ChartMuseumOptions cm;
    cm.url = options.chartmuseum_url;
    cm.tenant_path = options.chartmuseum_tenant;
    cm.username = options.chartmuseum_username;
    cm.password = options.chartmuseum_password;
    cm.bearer_token = options.chartmuseum_token;
    cm.tls = tls;
    cm.max_upload_bytes = options.chartmuseum_max_upload_bytes;
    publisher = publish::make_chartmuseum_publisher(std::move(cm));
  } else {
    // One coalescing index writer: a sync costs the same with 10 or 10,000 charts
    // in the folder; GET /charts/index.yaml flushes first, so its readers still see
    // every sync that has answered.
    publisher = publish::make_local_publisher(local_repo_dir.string(), "", std::chrono::milliseconds(200));
  }
  if (!options.signing_key.empty()) {  // every package gets its .prov (docs/verifying.md)
    auto key = sign::SigningKey::load(options.signing_key);
    log::info("signing charts", {{"key", key->describe()}});
    publisher = sign::make_signing_publisher(std::move(key), std::move(publisher));
  }

  sync::WorkspaceOptions wo;
  wo.allow_local_git = options.allow_local_git;
  wo.tls = tls;
  if (options.git_ca_file.empty()) options.git_ca_file = options.ca_file;
  if (!options.git_ca_file.empty()) {
    if (!fs::is_regular_file(options.git_ca_file))
      throw Error(Errc::invalid_argument, "--git-ca-file", options.git_ca_file.string() + " is not a readable file");
    wo.git_ca_file = options.git_ca_file.string();
  }
  if (!options.ssh_known_hosts_file.empty()) {
    try {
      wo.ssh_known_hosts = util::read_file(options.ssh_known_hosts_file);
    } catch (const Error& e) {
      throw Error(Errc::invalid_argument, "--ssh-known-hosts", options.ssh_known_hosts_file.string() + ": " + e.reason());
    }
    if (wo.ssh_known_hosts.find_first_not_of(" \t\r\n") == std::string::npos)
      throw Error(Errc::invalid_argument, "--ssh-known-hosts",
                  options.ssh_known_hosts_file.string() + " holds no host keys");
  }
  if (options.sync_timeout.count() < 0) throw Error(Errc::invalid_argument, "--sync-timeout", "must not be negative");
  if (options.network_timeout.count() < 0) throw Error(Errc::invalid_argument, "--network-timeout", "must not be negative");
  wo.dependency_peers.allowed_hosts = options.dependency_hosts;
  wo.dependency_peers.allow_local_addresses = false;
  wo.dependency_peers.stall_timeout = options.network_timeout;  // the same patience as for git remotes
  // oci:// dependencies come from chart authors too: their registry client is held
  // to the same policy. The publish target's client (above) is the operator's choice.
  oci::ClientOptions dependency_registry = registry_options;
  dependency_registry.peers = wo.dependency_peers;
  wo.registry = std::make_shared<oci::RegistryClient>(dependency_registry);
  wo.sync_timeout = options.sync_timeout;
  wo.git_stall_timeout = options.network_timeout;
  wo.mirrors = options.git_mirrors;
  wo.dependency_cache = options.dependency_cache;
  try {
    workspace = std::make_unique<sync::Workspace>(std::move(*state_dir), publisher, wo);
    state_dir.reset();
  } catch (const fs::filesystem_error& e) {
    throw Error(Errc::io, e.path1().string(), "loading the state dir: " + e.code().message());
  }

  pool = std::make_unique<WorkerPool>(options.workers);
  // A sync's end is announced once its lane no longer shows it: a client that reads
  // the repo's state on the news must not still see it syncing.
  lanes = std::make_unique<RepoLanes>(*pool, [this](const std::string& repo, const std::string& key) {
    if (!is_sync_job(key)) return;
    std::string owner;
    if (auto state = workspace->get(repo)) {
      owner = state->spec.owner;
    } else {
      std::lock_guard lk(pending_mu);
      auto it = pending.find(repo);
      if (it == pending.end()) return;  // no such repo (an update of an unknown name): no news
      owner = it->second.state.spec.owner;
    }
    feed.record(repo, owner);
  }, HostCap{options.max_syncs_per_host > 0 ? options.max_syncs_per_host : std::max(1, options.workers - 1),
                 [this](const std::string& repo) {
                   if (auto state = workspace->get(repo)) return remote_host(state->spec);
                   std::lock_guard lk(pending_mu);
                   auto it = pending.find(repo);
                   return it == pending.end() ? std::string() : remote_host(it->second.state.spec);
                 }});
  for (auto& state : workspace->list())
    if (!state.spec.webhook_secret.empty()) hook_secrets[state.spec.name] = state.spec.webhook_secret;
  HttpLimits limits;
  limits.max_header_bytes = options.max_header_bytes;
  limits.max_body_bytes = options.max_body_bytes;
  limits.io_timeout = options.io_timeout;
  limits.body_grace = options.body_grace;
  limits.min_body_rate = options.min_body_rate;
  limits.max_connections = options.max_connections;
  limits.max_connections_per_client = options.max_connections_per_client;
  limits.reserved_connections = options.reserved_connections;
  http = std::make_unique<HttpServer>(
      options.listen, limits, [this](HttpRequest req, Responder respond) { handle(std::move(req), respond); },
      [this](const std::string& method, const std::string& target, int status, std::size_t bytes, double seconds,
             const std::string& remote, bool complete) {
        metrics.record_http(status);
        // The operator's long poll of /syncs comes every few seconds: not worth a line each.
        const bool routine = status == 200 && complete && target.rfind("/syncs", 0) == 0;
        log::write(status >= 500 || !complete ? log::Level::warn : routine ? log::Level::debug : log::Level::info,
                   complete ? "http request" : "http response cut short",
                   {{"method", echoed_input(method, 16)},
                    {"path", echoed_input(target.substr(0, target.find('?')), 256)},
                    {"status", status},
                    {"bytes", bytes},
                    {"complete", complete},
                    {"ms", seconds * 1000.0},
                    {"remote", remote}});
      },
      [this](const HttpRequest& head) { return precheck(head); },
      [this](const HttpRequest& head) { return trusted(head); });
}

void Server::Impl::refresh_hook_secret(const std::string& repo) {
  auto state = workspace->get(repo);
  std::lock_guard lk(secrets_mu);
  if (state && !state->spec.webhook_secret.empty())
    hook_secrets[repo] = state->spec.webhook_secret;
  else
    hook_secrets.erase(repo);
}

RepoLanes::Waiter Server::Impl::counted(const Responder& respond) {
  ++waiting_requests;
  auto once = std::make_shared<std::atomic<bool>>(false);
  return [this, respond, once](const HttpResponse& r) {
    if (!once->exchange(true)) --waiting_requests;
    respond(r);
  };
}

// Health probes, and requests with the bearer token (or a repo's trigger token for
// its update): what the connections kept in reserve are for.
bool Server::Impl::trusted(const HttpRequest& head) const {
  const Route route = route_request(head.method, head.target, serve_local_repo);
  if (route.endpoint == Endpoint::healthz || route.endpoint == Endpoint::readyz) return true;
  return !options.token.empty() && authorized(head.authorization, route);
}

void Server::Impl::probe_until_ready() {
  std::string last_logged;
  for (;;) {
    std::string reason;
    try {
      publisher->probe();
      ready = true;
      log::info("publisher reachable; ready", {{"publisher", publisher->describe()}});
      return;
    } catch (const std::exception& e) {
      reason = e.what();
    }
    if (reason != last_logged) {
      log::warn("publisher not reachable; not ready", {{"publisher", publisher->describe()}, {"error", reason}});
      last_logged = reason;
    }
    std::unique_lock lk(probe_mu);
    not_ready_reason = reason;
    if (probe_cv.wait_for(lk, options.probe_interval, [this] { return probe_stop; })) return;
  }
}

void Server::Impl::stop_prober() {
  {
    std::lock_guard lk(probe_mu);
    probe_stop = true;
  }
  probe_cv.notify_all();
  if (prober.joinable()) prober.join();
}

// Order: nothing may answer a request after its connection is gone, and no sync
// may run without its workspace.
void Server::Impl::teardown() {
  stop_prober();
  feed.stop();
  if (lanes) lanes->abandon_queued(json_error(503, "server: shutting down"));
  if (pool) pool->stop();
  http.reset();
  lanes.reset();
  pool.reset();
  workspace.reset();
}

bool Server::Impl::authorized(const std::string& header, const Route& route) const {
  if (bearer_authorized(header, options.token)) return true;
  // A repo's CronJob holds only that repo's trigger token: it may update that
  // repo and do nothing else.
  return route.endpoint == Endpoint::update && !options.token.empty() &&
         bearer_authorized(header, util::repo_trigger_token(options.token, route.subject));
}

std::optional<HttpResponse> Server::Impl::refusal(const HttpRequest& req, Route& route) const {
  const std::string& m = req.method;
  route = route_request(m, req.target, serve_local_repo);
  const std::string shown = echoed_input(m, 16) + " " + echoed_input(route.path, 256);
  if (route.endpoint == Endpoint::none) return json_error(404, shown + ": no such endpoint");
  if (!route.method_allowed) {
    auto r = json_error(405, shown + ": method not allowed (allowed: " + route.allow + ")");
    r.headers.push_back({"Allow", route.allow});
    return r;
  }
  if (route.mutation && !authorized(req.authorization, route)) {
    auto r = json_error(401, shown + ": " +
                                 (req.authorization.empty() ? "a bearer token is required"
                                                            : "the bearer token was refused"));
    r.headers.push_back({"WWW-Authenticate", req.authorization.empty()
                                                 ? "Bearer realm=\"cmop\""
                                                 : "Bearer realm=\"cmop\", error=\"invalid_token\""});
    return r;
  }
  return std::nullopt;
}

std::optional<HttpResponse> Server::Impl::precheck(const HttpRequest& head) const {
  try {
    Route route;
    return refusal(head, route);
  } catch (const Error& e) {
    return error_response(e);
  }
}

void Server::Impl::handle(HttpRequest req, const Responder& respond) {
  try {
    const std::string& m = req.method;
    Route route;
    if (auto refused = refusal(req, route)) return respond(std::move(*refused));
    bool get = m == "GET" || m == "HEAD";

    switch (route.endpoint) {
      case Endpoint::healthz: return respond(json_ok("{\"status\":\"ok\"}"));
      case Endpoint::readyz: return respond(readiness());
      case Endpoint::metrics: return respond(metrics_text());
      case Endpoint::repos: return respond(list_repos());
      case Endpoint::dependency: return respond(get ? list_dependencies() : put_dependency(req));
      case Endpoint::new_repo: return new_repo(req, respond);
      case Endpoint::repo:
        require_name("repo name", route.subject);
        if (get) return respond(get_repo(route.subject));
        return delete_repo(route.subject, query_parameter(req.target, "owner"), respond);
      case Endpoint::update:
        require_name("repo name", route.subject);
        return update_repo(route.subject, async_requested(req.target), respond);
      case Endpoint::hook: return respond(receive_hook(req, route.subject));
      case Endpoint::syncs: return watch_syncs(req, respond);
      case Endpoint::charts_index: return respond(chart_file("index.yaml", m));
      case Endpoint::chart_file: return respond(chart_file(route.subject, m));
      case Endpoint::none: break;
    }
    respond(json_error(404, echoed_input(m, 16) + " " + echoed_input(route.path, 256) + ": no such endpoint"));
  } catch (const Error& e) {
    respond(error_response(e));
  } catch (const std::exception& e) {
    respond(json_error(500, std::string("internal error: ") + e.what()));
  }
}

HttpResponse Server::Impl::readiness() const {
  if (ready) return json_ok("{\"status\":\"ready\"}");
  std::string reason;
  {
    std::lock_guard lk(probe_mu);
    reason = not_ready_reason;
  }
  return json_ok(json_object([&](JsonWriter& w) {
                   put(w, "status", "not ready");
                   put(w, "error", "publisher " + publisher->describe() + ": " + reason);
                 }),
                 503);
}

HttpResponse Server::Impl::metrics_text() const {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  Metrics::Gauges g;
  g.repos = workspace->list().size();
  g.waiting_requests = waiting_requests.load();
  g.ready = ready;
  const auto now = Clock::now();
  const auto since = pool->running_since();
  g.running_jobs = static_cast<int>(since.size());
  if (!since.empty()) g.oldest_job_seconds = std::chrono::duration<double>(now - since.front()).count();
  // A sync past its timeout plus one more git stall (the last transfer's own
  // limit) and a minute of slack for a last chart's upload is stuck.
  if (options.sync_timeout.count() > 0) {
    const auto limit = options.sync_timeout + options.network_timeout + std::chrono::seconds(60);
    g.stuck_jobs = static_cast<int>(std::count_if(since.begin(), since.end(), [&](auto t) { return now - t > limit; }));
  }
  g.connections = http->connection_stats();
  for (auto& state : workspace->list())
    if (auto when = util::parse_rfc3339_seconds(state.last_success_time)) g.last_success.emplace_back(state.spec.name, *when);
  r.body = metrics.render(g) + render_mirror_metrics(workspace->mirror_stats());
  return r;
}

// Sync jobs are keyed "apply:<spec digest>" and "update"; "record:…" (a suspended
// spec) and "remove" sync nothing.
bool Server::Impl::syncing(const std::string& repo) const {
  auto a = lanes->activity(repo);
  if (a.running && is_sync_job(a.running_key)) return true;
  return std::any_of(a.queued_keys.begin(), a.queued_keys.end(), is_sync_job);
}

std::string Server::Impl::state_json(const sync::RepoState& state) const {
  std::string body = sync::state_to_json(state);
  body.pop_back();  // reopen the object to add what only the server knows
  body += syncing(state.spec.name) ? ",\"syncing\":true}" : ",\"syncing\":false}";
  return body;
}

HttpResponse Server::Impl::list_repos() const {
  std::string body = "{\"repos\":[";
  bool first = true;
  std::set<std::string> listed;
  for (auto& s : workspace->list()) {
    if (!first) body += ',';
    first = false;
    body += state_json(s);
    listed.insert(s.spec.name);
  }
  std::lock_guard lk(pending_mu);
  for (auto& [name, p] : pending) {
    if (listed.count(name)) continue;
    if (!first) body += ',';
    first = false;
    body += state_json(p.state);
  }
  body += "]}";
  return json_ok(std::move(body));
}

HttpResponse Server::Impl::get_repo(const std::string& name) const {
  auto state = workspace->get(name);
  if (!state) {
    std::lock_guard lk(pending_mu);
    if (auto it = pending.find(name); it != pending.end()) state = it->second.state;
  }
  if (!state) throw Error(Errc::not_found, "repo \"" + name + "\"", "not registered");
  return json_ok(state_json(*state));
}

HttpResponse Server::Impl::list_dependencies() const {
  return json_ok(json_object([&](JsonWriter& w) {
    w.Key("dependencies");
    w.StartArray();
    for (auto& d : workspace->dependency_repos()) {
      w.StartObject();
      put(w, "name", d.name);
      put(w, "url", util::redact_url(d.url));
      w.EndObject();
    }
    w.EndArray();
  }));
}

HttpResponse Server::Impl::put_dependency(const HttpRequest& req) {
  deps::NamedRepository repo = parse_dependency_request(req.content_type, req.body);
  workspace->put_dependency_repo(repo);
  log::info("dependency repository registered", {{"name", repo.name}, {"url", util::redact_url(repo.url)}});
  return json_ok(json_object([&](JsonWriter& w) {
    put(w, "name", repo.name);
    put(w, "url", util::redact_url(repo.url));
  }));
}

HttpResponse Server::Impl::chart_file(const std::string& file, const std::string& method) const {
  HttpResponse r;
  if (file == "index.yaml") {
    publisher->flush();  // what every finished sync published, no older
    r.content_type = "application/x-yaml";
    fs::path p = local_repo_dir / "index.yaml";
    std::error_code ec;
    if (fs::exists(p, ec))
      r.file = p.string();  // streamed: with thousands of charts it runs to megabytes
    else  // nothing published yet: still a valid, empty repository for `helm repo add`
      r.body = "apiVersion: v1\nentries: {}\ngenerated: \"" + util::now_rfc3339() + "\"\n";
    return r;
  }
  // <chart>.tgz.prov: the provenance beside a signed package (--signing-key).
  const bool prov = file.size() > 5 && file.compare(file.size() - 5, 5, ".prov") == 0;
  if (!is_chart_file_name(prov ? file.substr(0, file.size() - 5) : file))
    throw Error(Errc::invalid_argument, "chart file \"" + file + "\"",
                "not a chart archive name (<name>-<version>.tgz, or .tgz.prov)");
  fs::path p = local_repo_dir / file;
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) throw Error(Errc::not_found, "chart file \"" + file + "\"", "not in the repository");
  r.content_type = prov ? "application/pgp-signature" : "application/gzip";
  r.file = p.string();  // streamed by the HTTP layer, never read whole
  return r;
}

HttpResponse Server::Impl::run_sync(const std::string& repo, const std::string& owner,
                                    const std::function<sync::SyncReport()>& sync_call) {
  auto started = Clock::now();
  feed.record(repo, owner, true);
  sync::SyncReport report;
  try {
    report = sync_call();
  } catch (const Error& e) {
    log::write(e.code() == Errc::not_found || e.code() == Errc::invalid_argument ? log::Level::info : log::Level::warn,
               "sync refused", {{"repo", repo}, {"error", e.what()}});
    if (e.code() != Errc::not_found && e.code() != Errc::invalid_argument && e.code() != Errc::forbidden)
      metrics.record_sync(repo, "error", std::chrono::duration<double>(Clock::now() - started).count(), 0);
    return error_response(e);  // its end is announced by the lane (Impl's constructor)
  }
  std::string result = sync_result(report);
  metrics.record_sync(repo, result, report.seconds, report.count(sync::ChartOutcome::Status::published));
  std::string first_failure;
  for (auto& c : report.charts)
    if (c.status == sync::ChartOutcome::Status::failed) {
      first_failure = c.path + ": " + c.reason;
      break;
    }
  log::write(result == "success" ? log::Level::info : log::Level::warn, "sync finished",
             {{"repo", repo},
              {"result", result},
              {"commit", report.commit.substr(0, 12)},
              {"changed", report.fetched_changes},
              {"published", report.count(sync::ChartOutcome::Status::published)},
              {"unchanged", report.count(sync::ChartOutcome::Status::unchanged)},
              {"removed", report.count(sync::ChartOutcome::Status::removed)},
              {"failed", report.count(sync::ChartOutcome::Status::failed)},
              {"seconds", report.seconds},
              {"error", report.error.empty() ? first_failure : report.error}});
  return report_response(report);
}

void Server::Impl::new_repo(const HttpRequest& req, const Responder& respond) {
  NewRepoRequest parsed = parse_new_repo_request(req.body);
  sync::RepoSpec& spec = parsed.spec;
  const std::string& ssh_key = parsed.ssh_private_key;
  // libgit2 reads SSH keys from files: the workspace keeps the key in its state dir
  // under a name derived from its content (so the spec, and with it the dedup key
  // below, changes with the key).
  if (!ssh_key.empty()) spec.credentials.ssh_private_key_file = workspace->ssh_key_file(spec.name, ssh_key);
  // Identical specs (credentials included) may share one sync.
  sync::RepoState as_state;
  as_state.spec = spec;
  std::string key = std::string(spec.suspend ? "record:" : "apply:") + util::sha256_hex(sync::to_state_file(as_state));
  // ?async=true: refuse at once what apply() would refuse before syncing, then
  // answer 202 and let the sync's outcome reach the client through the repo's
  // state and GET /syncs, so no client holds a connection (or a worker) for it.
  const bool async = async_requested(req.target);
  if (async) {
    workspace->check(spec);
    std::lock_guard lk(pending_mu);
    if (!workspace->get(spec.name)) {
      auto it = pending.find(spec.name);
      if (it != pending.end() && !it->second.state.spec.owner.empty() && it->second.state.spec.owner != spec.owner)
        throw Error(Errc::conflict, "repo \"" + spec.name + "\"",
                    "is managed by " + it->second.state.spec.owner + ", not by " +
                        (spec.owner.empty() ? std::string("this request (it names no owner)") : spec.owner));
      sync::RepoState shown;
      shown.spec = spec;
      shown.spec.credentials = {};  // never needed for showing; kept out of memory we do not need it in
      pending[spec.name] = Pending{key, std::move(shown)};
    }
  }
  auto work = [this, spec, ssh_key, key]() -> HttpResponse {
    HttpResponse answer;
    // Written when this request's turn in the repo's lane comes, not before: the
    // apply of a request ahead of it deletes the keys its own spec does not name.
    if (!ssh_key.empty()) workspace->store_ssh_key(spec.name, ssh_key);
    if (spec.suspend) {
      // Suspended: the spec is recorded and nothing syncs (no sync to count either).
      try {
        answer = json_ok(sync::report_to_json(workspace->apply(spec)));
      } catch (const Error& e) {
        answer = error_response(e);
      }
    } else {
      answer = run_sync(spec.name, spec.owner, [&] { return workspace->apply(spec); });
    }
    refresh_hook_secret(spec.name);
    std::lock_guard lk(pending_mu);
    if (auto it = pending.find(spec.name); it != pending.end() && it->second.key == key) {
      if (workspace->get(spec.name)) {
        pending.erase(it);
      } else {  // refused before it was recorded: the state shows why
        std::string error = answer.body;
        rapidjson::Document doc;
        doc.Parse(answer.body.c_str());
        if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("error") && doc["error"].IsString())
          error = doc["error"].GetString();
        it->second.state.last_error = error;
      }
    }
    return answer;
  };
  if (!async) return (void)lanes->submit(spec.name, key, work, counted(respond));
  bool joined = lanes->submit(spec.name, key, work, [](const HttpResponse&) {});
  respond(json_ok(json_object([&](JsonWriter& w) {
                    put(w, "repo", spec.name);
                    put(w, "status", "queued");
                    w.Key("joined");
                    w.Bool(joined);
                  }),
                  202));
}

void Server::Impl::update_repo(const std::string& name, bool async, const Responder& respond) {
  note_update_asked(name);
  if (!async) return (void)lanes->submit(name, "update", [this, name] { return update_job(name); }, counted(respond));
  auto state = workspace->get(name);
  if (!state) throw Error(Errc::not_found, "repo \"" + name + "\"", "not registered");
  if (state->spec.suspend)
    throw Error(Errc::conflict, "repo \"" + name + "\"", "is suspended: no syncs until it is resumed");
  // Joins an update queued and not started; a running one may have fetched too early.
  bool joined = lanes->submit(name, "update", [this, name] { return update_job(name); }, [](const HttpResponse&) {});
  respond(json_ok(json_object([&](JsonWriter& w) {
                    put(w, "repo", name);
                    put(w, "status", "queued");
                    w.Key("joined");
                    w.Bool(joined);
                  }),
                  202));
}

void Server::Impl::note_update_asked(const std::string& name) {
  std::lock_guard lk(update_asked_mu);
  update_asked[name] = Clock::now();
}

HttpResponse Server::Impl::update_job(const std::string& name) {
  auto asked = Clock::now();
  {
    std::lock_guard lk(update_asked_mu);
    if (auto it = update_asked.find(name); it != update_asked.end()) {
      asked = it->second;
      update_asked.erase(it);
    }
  }
  auto state = workspace->get(name);
  if (!state) return error_response(Error(Errc::not_found, "repo \"" + name + "\"", "not registered"));
  return run_sync(name, state->spec.owner, [&] { return workspace->update(name, asked); });
}

void Server::Impl::watch_syncs(const HttpRequest& req, const Responder& respond) {
  auto number = [&](const char* key, std::uint64_t max) -> std::uint64_t {
    std::string text = query_parameter(req.target, key);
    if (text.empty()) return 0;
    if (text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
      throw Error(Errc::invalid_argument, std::string("query parameter \"") + key + "\"", "must be a whole number");
    return std::min<std::uint64_t>(std::stoull(text), max);
  };
  const std::uint64_t after = number("after", UINT64_MAX);
  const auto wait = std::chrono::seconds(number("waitSeconds", 60));  // bounded: a proxy would cut it anyway
  const bool with_token = !options.token.empty() && bearer_authorized(req.authorization, options.token);
  feed.watch(after, query_parameter(req.target, "epoch"), wait, respond, req.client, with_token);
}

// The hook's answers before the signature held say nothing about the repo: an
// unknown name, a repo without a webhook secret and a wrong signature all get the
// same 403, after the same work (one lookup of the secret, one HMAC of the body);
// the repo's state is read only once the signature held.
HttpResponse Server::Impl::receive_hook(const HttpRequest& req, const std::string& name) {
  const HookSignature signature = find_hook_signature(req.extension_headers);
  if (signature.provider == HookProvider::none) {
    metrics.record_hook("unsigned");
    auto r = json_error(401, "webhook: a signature is required (X-Hub-Signature-256, X-Gitlab-Token, "
                             "X-Gitea-Signature, X-Forgejo-Signature or X-Signature)");
    r.headers.push_back({"WWW-Authenticate", "HMAC-SHA256 realm=\"cmop\""});
    return r;
  }
  std::string secret;
  {
    std::lock_guard lk(secrets_mu);
    if (auto it = hook_secrets.find(name); it != hook_secrets.end()) secret = it->second;
  }
  // Without a secret the HMAC still runs (under a key that is never accepted).
  const bool valid =
      hook_signature_valid(signature, secret.empty() ? std::string_view("cmop: no webhook secret") : secret, req.body) &&
      !secret.empty();
  auto refused = [&] {
    metrics.record_hook("refused");
    log::info("webhook refused", {{"provider", to_string(signature.provider)}, {"remote", req.remote}});
    return json_error(403, "webhook: the signature was refused");
  };
  if (!valid) return refused();

  // The same signed delivery again (a replay, or a provider's retry of one already
  // taken): acknowledged, not acted on, and it takes nothing from the rate budget.
  const std::string delivery = hook_delivery_id(req.extension_headers);
  if (!delivery.empty() && !deliveries.first(name, delivery)) {
    metrics.record_hook("replayed");
    log::info("webhook replayed", {{"repo", name}, {"delivery", echoed_input(delivery)}, {"remote", req.remote}});
    return json_ok(json_object([&](JsonWriter& w) {
      put(w, "status", "duplicate");
      put(w, "repo", name);
      put(w, "reason", "delivery \"" + echoed_input(delivery) + "\" was already received");
    }));
  }
  std::optional<sync::RepoState> state = workspace->get(name);  // only now: the signature held
  if (!state) return refused();  // removed meanwhile

  auto answer = [&](int status, const std::string& outcome, const std::string& reason) {
    metrics.record_hook(outcome);
    log::info("webhook received", {{"repo", name},
                                   {"provider", to_string(signature.provider)},
                                   {"outcome", outcome},
                                   {"reason", reason}});
    return json_ok(json_object([&](JsonWriter& w) {
                     put(w, "status", outcome);
                     put(w, "repo", name);
                     if (!reason.empty()) put(w, "reason", reason);
                   }),
                   status);
  };
  HookEvent event = parse_hook_event(req.extension_headers, req.content_type, req.body);
  if (event.kind == HookEvent::Kind::ping) return answer(200, "pong", "");
  if (event.kind == HookEvent::Kind::other)
    return answer(200, "ignored", "event \"" + echoed_input(event.name) + "\" is not a push");
  if (state->spec.suspend) return answer(200, "ignored", "the repo is suspended");
  if (!hook_ref_tracked(state->spec.ref, event.ref, event.default_branch))
    return answer(200, "ignored",
                  "ref \"" + echoed_input(event.ref, 256) + "\" is not tracked (the repo follows " +
                      (state->spec.ref.empty() ? std::string("the default branch") : "\"" + state->spec.ref + "\"") +
                      ")");
  int retry_after = 0;
  if (!hook_limiter.take(name, retry_after)) {
    metrics.record_hook("rate_limited");
    auto r = json_error(429, "webhook: repo \"" + name + "\" received more pushes than " +
                                 std::to_string(options.hook_rate_per_minute) + " a minute");
    r.headers.push_back({"Retry-After", std::to_string(retry_after)});
    return r;
  }
  // Joins a queued update of the repo when there is one (coalesced); a running
  // sync may have fetched before this push, so a new one is queued behind it.
  note_update_asked(name);
  bool joined = lanes->submit(
      name, "update", [this, name] { return update_job(name); }, [](const HttpResponse&) {});
  return answer(202, "queued", joined ? "joined a sync already queued" : "");
}

void Server::Impl::delete_repo(const std::string& name, const std::string& owner, const Responder& respond) {
  lanes->submit(
      name, "remove",
      [this, name, owner]() -> HttpResponse {
        auto state = workspace->get(name);
        if (!state) {
          std::lock_guard lk(pending_mu);
          pending.erase(name);  // an accepted spec whose apply was refused: nothing else to remove
          return error_response(Error(Errc::not_found, "repo \"" + name + "\"", "not registered"));
        }
        try {
          workspace->remove(name, owner);
        } catch (const Error& e) {
          log::warn("repo removal failed", {{"repo", name}, {"error", e.what()}});
          return error_response(e);
        }
        hook_limiter.forget(name);
        feed.forget(name);
        metrics.forget(name);
        refresh_hook_secret(name);
        log::info("repo removed", {{"repo", name}, {"charts", state->published.size()}});
        return json_ok(json_object([&](JsonWriter& w) {
          put(w, "removed", name);
          w.Key("charts");
          w.StartArray();
          for (auto& p : state->published) {
            w.StartObject();
            put(w, "name", p.name);
            put(w, "version", p.version);
            w.EndObject();
          }
          w.EndArray();
        }));
      },
      counted(respond));
}

// --- public face -------------------------------------------------------------------

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Server::~Server() {
  if (impl_) impl_->teardown();
}

void Server::start() {
  if (impl_->started) return;
  impl_->started = true;
  impl_->http->start(impl_->options.io_threads);
  impl_->prober = std::thread([impl = impl_.get()] { impl->probe_until_ready(); });
  log::info("serving",
            {{"url", url()},
             {"state_dir", impl_->options.state_dir.string()},
             {"publisher", impl_->publisher->describe()},
             {"charts", impl_->serve_local_repo ? url() + "/charts" : std::string("-")},
             {"workers", impl_->options.workers},
             {"auth", !impl_->options.token.empty()}});
}

int Server::port() const { return impl_->http ? impl_->http->port() : 0; }

std::string Server::url() const { return "http://" + impl_->http->host() + ":" + std::to_string(port()); }

bool Server::shutdown(std::chrono::milliseconds grace) {
  if (!impl_->started || impl_->stopped) return true;
  impl_->stopped = true;
  auto deadline = Clock::now() + grace;
  log::info("shutting down", {{"grace_seconds", grace.count() / 1000.0}, {"waiting_requests", impl_->waiting_requests.load()}});
  impl_->feed.stop();  // long polls answer now rather than hold the drain
  bool drained = impl_->http->shutdown(deadline);
  impl_->stop_prober();
  impl_->lanes->abandon_queued(json_error(503, "server: shutting down"));
  // Syncs whose requesters went away may still be running.
  while (impl_->pool->running() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  bool idle = impl_->pool->running() == 0;
  if (idle) impl_->pool->stop();
  log::write(drained && idle ? log::Level::info : log::Level::warn, "stopped",
             {{"drained", drained}, {"syncs_still_running", impl_->pool->running()}});
  return drained && idle;
}

}  // namespace cmop::serve
