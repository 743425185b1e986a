#include "cmop/serve/command.hpp"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cmop/error.hpp"
#include "cmop/serve/server.hpp"
#include "cmop/util/log.hpp"

namespace cmop::serve {
namespace {

struct CommandOptions {
  ServerOptions server;
  std::string state_dir = "./cmop-state";
  std::string local_repo_dir;
  std::string log_format = "text";
  std::string log_level = "info";
  double shutdown_grace_seconds = 25;
};

int run(CommandOptions& o) {
  namespace log = util::log;
  log::set_format(log::parse_format(o.log_format));
  log::set_level(log::parse_level(o.log_level));
  o.server.state_dir = o.state_dir;
  o.server.local_repo_dir = o.local_repo_dir;

  // SIGTERM/SIGINT are taken by this thread with sigwait; every thread started
  // from here on inherits the blocked mask, so no other thread is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Server server(o.server);
  server.start();
  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  log::info("signal received, shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  auto grace = std::chrono::milliseconds(static_cast<long long>(o.shutdown_grace_seconds * 1000));
  if (!server.shutdown(grace)) {
    // Syncs still running past the deadline: leave without waiting for them. Every
    // state write is atomic, so this is as safe as being killed, and the next
    // start re-syncs whatever was interrupted.
    log::warn("shutdown deadline passed with syncs still running; exiting", {});
    std::fflush(nullptr);
    std::_Exit(0);
  }
  return 0;
}

// A flag's range: the bounds check_options() holds the options to.
CLI::Range range(const OptionBounds& b) { return CLI::Range(b.min, b.max); }

// Seconds on the command line, a std::chrono::seconds in the options.
CLI::Option* add_seconds(CLI::App& cmd, const std::string& flag, std::chrono::seconds& into, const std::string& help,
                         const OptionBounds& b) {
  return cmd.add_option_function<long>(flag, [&into](long v) { into = std::chrono::seconds(v); }, help)
      ->check(range(b));
}

// MiB on the command line, bytes in the options.
CLI::Option* add_mib(CLI::App& cmd, const std::string& flag, std::uint64_t& into, const std::string& help,
                     const OptionBounds& b) {
  return cmd.add_option_function<std::uint64_t>(flag, [&into](std::uint64_t mib) { into = mib << 20; }, help)
      ->check(range(b));
}

void add_listener_flags(CLI::App& cmd, CommandOptions& o) {
  cmd.add_option("--listen", o.server.listen, "address:port to serve the API on")
      ->envname("CMOP_LISTEN")
      ->capture_default_str();
  cmd.add_option("--state-dir", o.state_dir, "repos, dependencies, clones, what was published")
      ->envname("CMOP_STATE_DIR")
      ->capture_default_str();
}

// Where charts are published: a ChartMuseum, an OCI registry or the embedded repo.
void add_target_flags(CLI::App& cmd, CommandOptions& o) {
  auto& s = o.server;
  cmd.add_option("--chartmuseum-url", s.chartmuseum_url, "publish to this ChartMuseum (else the embedded local repo)")
      ->envname("CMOP_CHARTMUSEUM_URL");
  cmd.add_option("--chartmuseum-username", s.chartmuseum_username, "basic auth user for ChartMuseum")
      ->envname("CMOP_CHARTMUSEUM_USERNAME");
  cmd.add_option("--chartmuseum-password", s.chartmuseum_password, "basic auth password for ChartMuseum")
      ->envname("CMOP_CHARTMUSEUM_PASSWORD");
  cmd.add_option("--chartmuseum-token", s.chartmuseum_token, "bearer token for ChartMuseum")
      ->envname("CMOP_CHARTMUSEUM_TOKEN");
  cmd.add_option("--chartmuseum-tenant", s.chartmuseum_tenant, "multi-tenant prefix (org/repo)")
      ->envname("CMOP_CHARTMUSEUM_TENANT");
  cmd.add_option("--oci-registry", s.oci_registry,
                 "publish to this OCI registry namespace, oci://host[:port]/path (as helm push)")
      ->envname("CMOP_OCI_REGISTRY");
  cmd.add_option("--oci-username", s.oci_username, "user name for the OCI registry")->envname("CMOP_OCI_USERNAME");
  cmd.add_option("--oci-password", s.oci_password, "password or token for the OCI registry")
      ->envname("CMOP_OCI_PASSWORD");
  cmd.add_option("--plain-http-registries", s.plain_http_registries,
                 "registries (host:port, comma-separated) reached over plain http:// (Helm's --plain-http)")
      ->envname("CMOP_PLAIN_HTTP_REGISTRIES")
      ->delimiter(',');
  cmd.add_option("--ca-file", s.ca_file,
                 "extra CA bundle (PEM) trusted for git remotes, chart repositories, registries and ChartMuseum")
      ->envname("CMOP_CA_FILE");
  cmd.add_option("--chartmuseum-max-upload-size", s.chartmuseum_max_upload_bytes,
                 "ChartMuseum's --max-upload-size in bytes, named when it refuses a package as too large "
                 "(default: ChartMuseum's own default, 20 MiB)")
      ->envname("CMOP_CHARTMUSEUM_MAX_UPLOAD_SIZE");
  cmd.add_option("--local-repo-dir", o.local_repo_dir, "the embedded local chart repo (default <state-dir>/charts)")
      ->envname("CMOP_LOCAL_REPO_DIR");
}

void add_signing_flags(CLI::App& cmd, CommandOptions& o) {
  cmd.add_option("--signing-key", o.server.signing_key,
                 "ASCII-armored OpenPGP secret key (RSA, no passphrase): sign every chart (<chart>.tgz.prov)")
      ->envname("CMOP_SIGNING_KEY");
}

void add_auth_flags(CLI::App& cmd, CommandOptions& o) {
  cmd.add_option("--token", o.server.token, "bearer token required on mutating requests")->envname("CMOP_TOKEN");
}

// Which git remotes may be reached and how they are trusted.
void add_git_flags(CLI::App& cmd, CommandOptions& o) {
  auto& s = o.server;
  cmd.add_flag("--allow-local-git", s.allow_local_git, "permit file:// and local paths as git URLs")
      ->envname("CMOP_ALLOW_LOCAL_GIT");
  cmd.add_option("--git-ca-file", s.git_ca_file, "extra CA bundle (PEM) trusted for https git remotes")
      ->envname("CMOP_GIT_CA_FILE");
  cmd.add_option("--ssh-known-hosts", s.ssh_known_hosts_file,
                 "OpenSSH known_hosts file; when set, SSH git servers must present a listed host key")
      ->envname("CMOP_SSH_KNOWN_HOSTS");
}

// How many syncs run, for how long, and what the shared git mirrors may take.
void add_sync_flags(CLI::App& cmd, CommandOptions& o) {
  auto& s = o.server;
  cmd.add_option("--workers", s.workers, "concurrent repo syncs")
      ->envname("CMOP_WORKERS")
      ->check(range(bounds::workers))
      ->capture_default_str();
  cmd.add_option("--max-git-mirrors", s.git_mirrors.max_mirrors,
                 "git mirrors at most (one per remote URL and credentials); a repo needing one more fails its "
                 "sync, 0 = unbounded")
      ->envname("CMOP_MAX_GIT_MIRRORS")
      ->capture_default_str();
  cmd.add_option("--max-git-mirror-bytes", s.git_mirrors.max_disk_bytes,
                 "no new git mirror once the mirrors use this many bytes of disk, 0 = unbounded")
      ->envname("CMOP_MAX_GIT_MIRROR_BYTES")
      ->capture_default_str();
  cmd.add_option("--max-git-fetches-per-host", s.git_mirrors.max_fetches_per_host,
                 "git fetches running at once per remote host; more wait, 0 = unbounded")
      ->envname("CMOP_MAX_GIT_FETCHES_PER_HOST")
      ->check(range(bounds::max_git_fetches_per_host))
      ->capture_default_str();
  cmd.add_option("--git-gc-after-fetches", s.git_mirrors.gc_after_fetches,
                 "repack a git mirror after this many fetches that brought objects, 0 = never")
      ->envname("CMOP_GIT_GC_AFTER_FETCHES")
      ->capture_default_str();
  add_seconds(cmd, "--git-gc-interval", s.git_mirrors.gc_interval,
              "seconds after which a git mirror fetched since its last repack is repacked, 0 = never (default 3600)",
              bounds::git_gc_interval)
      ->envname("CMOP_GIT_GC_INTERVAL");
  add_seconds(cmd, "--sync-timeout", s.sync_timeout,
              "seconds one repo sync may take at most; git transfers are cut off then, 0 = no limit (default 600)",
              bounds::sync_timeout)
      ->envname("CMOP_SYNC_TIMEOUT");
  add_seconds(cmd, "--network-timeout", s.network_timeout,
              "seconds a git transfer or a chart-repo request may wait for an answer (connect included), 0 = no "
              "limit (default 60)",
              bounds::network_timeout)
      ->envname("CMOP_NETWORK_TIMEOUT");
  cmd.add_option("--max-syncs-per-host", s.max_syncs_per_host,
                 "repo syncs of one git host running at once; 0 = workers - 1 (at least 1), so a hanging host "
                 "cannot hold every worker")
      ->envname("CMOP_MAX_SYNCS_PER_HOST")
      ->check(range(bounds::max_syncs_per_host))
      ->capture_default_str();
}

// Dependency chart repositories: which hosts, and the cache of what they served.
void add_dependency_flags(CLI::App& cmd, CommandOptions& o) {
  auto& s = o.server;
  cmd.add_option("--dependency-hosts", s.dependency_hosts,
                 "hosts dependency chart repos may be fetched from (comma-separated, *.domain allowed); "
                 "default any host except loopback and link-local addresses, which must be listed to be reached")
      ->envname("CMOP_DEPENDENCY_HOSTS")
      ->delimiter(',');
  add_mib(cmd, "--dependency-cache-size", s.dependency_cache.max_bytes,
          "MiB the dependency cache (<state-dir>/cache) may hold, least recently used evicted first; 0 = no limit "
          "(default 256)",
          bounds::dependency_cache_size)
      ->envname("CMOP_DEPENDENCY_CACHE_SIZE");
  cmd.add_option("--dependency-cache-entries", s.dependency_cache.max_entries,
                 "files the dependency cache may hold (indexes, archives, manifests); 0 = no limit")
      ->envname("CMOP_DEPENDENCY_CACHE_ENTRIES")
      ->capture_default_str();
  add_seconds(cmd, "--dependency-cache-max-age", s.dependency_cache.max_age,
              "seconds a dependency cache file may go unused before it is removed; 0 = no limit (default 604800, 7 "
              "days)",
              bounds::dependency_cache_max_age)
      ->envname("CMOP_DEPENDENCY_CACHE_MAX_AGE");
  add_mib(cmd, "--dependency-index-memory", s.dependency_cache.max_parsed_bytes,
          "MiB of index.yaml text whose parsed indexes are kept in memory between syncs (a 304 reuses them), least "
          "recently used dropped; 0 = no limit (default 32)",
          bounds::dependency_index_memory)
      ->envname("CMOP_DEPENDENCY_INDEX_MEMORY");
}

// What the HTTP listener lets clients take.
void add_connection_flags(CLI::App& cmd, CommandOptions& o) {
  auto& s = o.server;
  cmd.add_option("--max-connections", s.max_connections,
                 "open HTTP connections at most; 0 = half the file-descriptor limit (16..4096)")
      ->envname("CMOP_MAX_CONNECTIONS")
      ->capture_default_str();
  cmd.add_option("--max-connections-per-client", s.max_connections_per_client,
                 "open HTTP connections from one client address at most; 0 = a quarter of --max-connections, at "
                 "least 4")
      ->envname("CMOP_MAX_CONNECTIONS_PER_CLIENT")
      ->capture_default_str();
  cmd.add_option("--reserved-connections", s.reserved_connections,
                 "HTTP connections kept for /healthz, /readyz and requests with the bearer token; 0 = an eighth of "
                 "--max-connections, at least 2")
      ->envname("CMOP_RESERVED_CONNECTIONS")
      ->capture_default_str();
  cmd.add_option("--hook-rate-limit", s.hook_rate_per_minute,
                 "push webhooks accepted per repo per minute (POST /hooks/{name}); more are answered 429")
      ->envname("CMOP_HOOK_RATE_LIMIT")
      ->check(range(bounds::hook_rate_limit))
      ->capture_default_str();
}

void add_process_flags(CLI::App& cmd, CommandOptions& o) {
  cmd.add_option("--log-format", o.log_format, "text or json (JSON lines)")
      ->envname("CMOP_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd.add_option("--log-level", o.log_level, "debug, info, warn or error")
      ->envname("CMOP_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  cmd.add_option("--shutdown-grace", o.shutdown_grace_seconds,
                 "seconds to let in-flight requests finish after SIGTERM/SIGINT")
      ->envname("CMOP_SHUTDOWN_GRACE")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

}  // namespace

void add_command(CLI::App& app) {
  auto o = std::make_shared<CommandOptions>();
  auto* cmd = app.add_subcommand("serve", "Serve the sidecar HTTP API: git repos of charts -> a chart repository");
  add_listener_flags(*cmd, *o);
  add_target_flags(*cmd, *o);
  add_signing_flags(*cmd, *o);
  add_auth_flags(*cmd, *o);
  add_git_flags(*cmd, *o);
  add_sync_flags(*cmd, *o);
  add_dependency_flags(*cmd, *o);
  add_connection_flags(*cmd, *o);
  add_process_flags(*cmd, *o);
  cmd->callback([o] {
    int code = run(*o);
    std::fflush(nullptr);
    if (code != 0) std::exit(code);
  });
}

}  // namespace cmop::serve
