#include "cmop/serve/server.hpp"

#include <algorithm>
#include <thread>
#include <utility>

#include "answers.hpp"
#include "cmop/error.hpp"
#include "cmop/publish/target.hpp"
#include "cmop/sign/signing_publisher.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/log.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/names.hpp"
#include "server_impl.hpp"

namespace cmop::serve {
namespace fs = std::filesystem;
namespace log = util::log;
using Clock = std::chrono::steady_clock;

// --- construction, step by step -------------------------------------------------

Server::Impl::Impl(ServerOptions o) : options(std::move(o)) {
  check_options(options);
  open_state_dir();
  oci::ClientOptions registry;
  registry.tls.ca_file = options.ca_file.string();
  registry.plain_http_hosts = options.plain_http_registries;
  if (options.network_timeout.count() > 0) registry.peers.stall_timeout = options.network_timeout;
  make_publisher(registry);
  open_workspace(registry);
  make_lanes();
  make_listener();
}

// Locked before anything touches the state dir; the embedded local chart repo is
// made when it is the publish target.
void Server::Impl::open_state_dir() {
  try {
    state_dir.emplace(options.state_dir);
    if (options.chartmuseum_url.empty() && options.oci_registry.empty()) {
      local_repo_dir = options.local_repo_dir.empty() ? options.state_dir / "charts" : options.local_repo_dir;
      fs::create_directories(local_repo_dir);
      serve_local_repo = true;
    }
  } catch (const fs::filesystem_error& e) {
    throw Error(Errc::io, e.path1().string(), e.code().message());
  }
}

// `registry`: the client options of the operator's publish target (its TLS, its
// plain-http hosts, its patience).
void Server::Impl::make_publisher(const oci::ClientOptions& registry) {
  if (options.publisher) {
    publisher = options.publisher;
  } else {
    publish::TargetOptions target;
    target.oci_registry = options.oci_registry;
    target.oci_credentials = {options.oci_username, options.oci_password};
    target.registry = std::make_shared<oci::RegistryClient>(registry);
    target.chartmuseum_url = options.chartmuseum_url;
    target.chartmuseum_tenant = options.chartmuseum_tenant;
    target.chartmuseum_username = options.chartmuseum_username;
    target.chartmuseum_password = options.chartmuseum_password;
    target.chartmuseum_token = options.chartmuseum_token;
    target.chartmuseum_max_upload_bytes = options.chartmuseum_max_upload_bytes;
    target.tls = registry.tls;
    if (serve_local_repo) {
      // One coalescing index writer: a sync costs the same with 10 or 10,000 charts
      // in the folder; GET /charts/index.yaml flushes first, so its readers still see
      // every sync that has answered.
      target.local_repo_dir = local_repo_dir;
      target.local_index_delay = std::chrono::milliseconds(200);
    }
    publisher = publish::make_target_publisher(target);
  }
  if (!options.signing_key.empty()) {  // every package gets its .prov (docs/verifying.md)
    auto key = sign::SigningKey::load(options.signing_key);
    log::info("signing charts", {{"key", key->describe()}});
    publisher = sign::make_signing_publisher(std::move(key), std::move(publisher));
  }
}

void Server::Impl::open_workspace(const oci::ClientOptions& registry) {
  sync::WorkspaceOptions wo;
  wo.allow_local_git = options.allow_local_git;
  wo.tls = registry.tls;
  wo.git_ca_file = options.git_ca_file.string();
  if (!options.ssh_known_hosts_file.empty()) wo.ssh_known_hosts = sync::read_ssh_known_hosts(options.ssh_known_hosts_file);
  wo.dependency_peers.allowed_hosts = options.dependency_hosts;
  wo.dependency_peers.allow_local_addresses = false;
  wo.dependency_peers.stall_timeout = options.network_timeout;  // the same patience as for git remotes
  // oci:// dependencies come from chart authors too: their registry client is held
  // to the same policy. The publish target's client (above) is the operator's choice.
  oci::ClientOptions dependency_registry = registry;
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
  for (auto& state : workspace->list())
    if (!state.spec.webhook_secret.empty()) hook_secrets[state.spec.name] = state.spec.webhook_secret;
}

// The workers, and a lane per repo in front of them (sync_scheduler.hpp).
void Server::Impl::make_lanes() {
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
}

void Server::Impl::make_listener() {
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
        observe_response(method, target, status, bytes, seconds, remote, complete);
      },
      [this](const HttpRequest& head) { return precheck(head); },
      [this](const HttpRequest& head) { return trusted(head); });
}

void Server::Impl::observe_response(const std::string& method, const std::string& target, int status,
                                    std::size_t bytes, double seconds, const std::string& remote, bool complete) {
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

// --- routing ----------------------------------------------------------------------

// Health probes, and requests with the bearer token (or a repo's trigger token for
// its update): what the connections kept in reserve are for.
bool Server::Impl::trusted(const HttpRequest& head) const {
  const Route route = route_request(head.method, head.target, serve_local_repo);
  if (route.endpoint == Endpoint::healthz || route.endpoint == Endpoint::readyz) return true;
  return !options.token.empty() && authorized(head.authorization, route);
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
