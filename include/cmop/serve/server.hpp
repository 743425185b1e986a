#pragma once
// `cmop serve` as a library: the sidecar HTTP API of docs/sidecar-api.md over one
// sync::Workspace. The binary's subcommand and the tests both drive this.
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cmop/deps/resolver.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/sync/mirror_pool.hpp"
#include "cmop/util/log.hpp"

namespace cmop::serve {

struct ServerOptions {
  std::string listen = "127.0.0.1:8081";  // host:port; port 0 = any free port
  std::filesystem::path state_dir = "./cmop-state";

  // Publishing: a ChartMuseum when chartmuseum_url is set, else the embedded local
  // chart repo in local_repo_dir ("" = <state_dir>/charts), served under /charts/.
  std::string chartmuseum_url;
  std::string chartmuseum_username, chartmuseum_password;
  std::string chartmuseum_token;
  std::string chartmuseum_tenant;
  std::size_t chartmuseum_max_upload_bytes = 0;  // its --max-upload-size, for messages; 0 = its default
  std::filesystem::path local_repo_dir;
  // Publishing into an OCI registry instead (oci://host[:port]/path), as `helm push`.
  std::string oci_registry;
  std::string oci_username, oci_password;
  // Registries (host[:port]) spoken to over plain http://, for publishing and for
  // oci:// dependencies (Helm's --plain-http); all others need TLS.
  std::vector<std::string> plain_http_registries;
  // Extra CA bundle (PEM) trusted for every TLS peer: git remotes, chart
  // repositories, registries, ChartMuseum. git_ca_file below is its older name.
  std::filesystem::path ca_file;
  // An ASCII-armored OpenPGP secret key (RSA, unprotected): every published chart
  // gets Helm's provenance file <chart>.tgz.prov, signed with it. "" = unsigned.
  std::filesystem::path signing_key;
  // Replaces the publisher chosen above (tests: slow or failing publishers).
  // /charts/ is served only when the embedded local repo is the publisher.
  std::shared_ptr<publish::Publisher> publisher;

  std::string token;  // non-empty: mutations need "Authorization: Bearer <token>"
  bool allow_local_git = false;
  std::filesystem::path git_ca_file;          // extra CA bundle for https git remotes
  std::filesystem::path ssh_known_hosts_file; // set: SSH git remotes must match a host key in it
  int workers = 4;     // concurrent syncs (and deletes)
  // The shared git mirrors: how many, how much disk, fetches per host, repacks.
  sync::MirrorLimits git_mirrors;
  // A sync ends by this long after it started (0 = no limit). A git transfer, and
  // each step of a chart-repo request (connect, TLS, one read or write), gives up
  // after network_timeout without an answer from the remote (0 = no limit).
  std::chrono::seconds sync_timeout{600};
  std::chrono::seconds network_timeout{60};
  // Dependency chart repositories: their URLs come from chart authors (Chart.yaml)
  // as well as from POST /repo/dependency. Non-empty: only these hosts ("*.domain"
  // for a domain) may be fetched from. Either way, loopback and link-local
  // addresses (the pod itself, cloud metadata) are refused unless listed here.
  std::vector<std::string> dependency_hosts;
  // Syncs of repos on one git host (host:port) running at once (0 = workers - 1,
  // at least 1): a host whose syncs hang leaves workers to the other hosts.
  int max_syncs_per_host = 0;
  // The dependency cache (<state_dir>/cache) and the parsed indexes kept in memory
  // between syncs: sizes, counts and age, least recently used evicted first.
  deps::CacheLimits dependency_cache;
  int io_threads = 2;  // HTTP threads; they never run a sync

  // Push webhooks (POST /hooks/{name}) accepted per repo per minute (a token bucket
  // holding this many, refilled evenly); more are answered 429 and sync nothing.
  int hook_rate_per_minute = 30;

  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
  // Receiving a request's head, and then its body, must each finish within this;
  // an idle keep-alive connection is closed after it. Writing a response must make
  // progress within it (a slow but steady download is never cut).
  std::chrono::milliseconds io_timeout{std::chrono::seconds(30)};
  // A request body must start within body_grace, then arrive at min_body_rate
  // bytes a second on average; a slower one is closed.
  std::chrono::milliseconds body_grace{std::chrono::seconds(5)};
  std::size_t min_body_rate = 16 * 1024;
  // Open connections at most (0 = from the file-descriptor limit: half of it,
  // between 16 and 4096). Past it the longest-idle connection is closed for a
  // new one, or the new one when none is idle.
  std::size_t max_connections = 0;
  // From one client address (0 = a quarter of max_connections, at least 4).
  std::size_t max_connections_per_client = 0;
  // Kept for /healthz, /readyz and requests with the bearer token (0 = an eighth
  // of max_connections, at least 2): other requests in progress hold the rest at
  // most, and are answered 503 past it.
  std::size_t reserved_connections = 0;
  // How often readiness re-probes the publisher until it answered once.
  std::chrono::milliseconds probe_interval{std::chrono::seconds(2)};
};

// The numbers of ServerOptions that have bounds, in one place: check_options()
// holds a ServerOptions to them, and `cmop serve` gives them to its flags as
// ranges, so the command line and the library refuse the same values.
struct OptionBounds {
  const char* flag;  // named in the refusal
  long long min, max;
};
namespace bounds {
inline constexpr OptionBounds workers{"--workers", 1, 256};
inline constexpr OptionBounds io_threads{"io threads", 1, 256};
inline constexpr OptionBounds max_syncs_per_host{"--max-syncs-per-host", 0, 256};
inline constexpr OptionBounds max_git_fetches_per_host{"--max-git-fetches-per-host", 0, 1024};
inline constexpr OptionBounds hook_rate_limit{"--hook-rate-limit", 1, 100000};
// Seconds.
inline constexpr OptionBounds git_gc_interval{"--git-gc-interval", 0, 86400LL * 365};
inline constexpr OptionBounds sync_timeout{"--sync-timeout", 0, 86400LL * 7};
inline constexpr OptionBounds network_timeout{"--network-timeout", 0, 86400};
inline constexpr OptionBounds dependency_cache_max_age{"--dependency-cache-max-age", 0, 86400LL * 3650};
// MiB (the flags' unit; the options hold bytes).
inline constexpr OptionBounds dependency_cache_size{"--dependency-cache-size", 0, 1LL << 30};
inline constexpr OptionBounds dependency_index_memory{"--dependency-index-memory", 0, 1LL << 30};
}  // namespace bounds

// Throws Error(invalid_argument) naming the flag when `value` is outside `b`.
void check_bounds(const OptionBounds& b, long long value);

// The checks of the options alone, before anything is opened: the bounds above,
// one publish target, URLs and CA files. Settles what the options leave implicit:
// every path made absolute, --git-ca-file defaulting to --ca-file. The Server's
// constructor runs it first. Throws Error(invalid_argument) naming the flag.
void check_options(ServerOptions& options);

class Server {
 public:
  // Checks the options (check_options), locks and loads the state dir, builds the
  // publisher and binds the listen address. Throws Error(invalid_argument) for bad
  // options, Error(io) when it cannot bind or load the state.
  explicit Server(ServerOptions options);
  // Stops (waiting for running syncs) if still running.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Starts serving on background threads; returns at once.
  void start();
  int port() const;
  std::string url() const;  // http://127.0.0.1:<port> (or the bound host)

  // Graceful stop: closes the listener and idle connections, lets in-flight
  // requests (and the syncs they wait for) finish until `grace` elapses, then closes
  // what is left. Returns true when everything finished in time; false means
  // syncs are still running on the worker threads (the destructor will wait for
  // them; a process may instead exit: the state dir is crash-safe).
  bool shutdown(std::chrono::milliseconds grace);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmop::serve
