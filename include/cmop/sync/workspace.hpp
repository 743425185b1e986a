#pragma once
// The core's front door: named git repos, named dependency chart repos, and what
// each git repo published, all persisted in a state dir. serve/operate/trigger
// are thin layers over this. The types it speaks in have their own headers
// (versioning, repo_spec, sync_report, repo_state, state_dir), included here.
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cmop/deps/resolver.hpp"
#include "cmop/git/repository.hpp"
#include "cmop/publish/publication.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/sync/repo_spec.hpp"
#include "cmop/sync/mirror_pool.hpp"
#include "cmop/sync/repo_state.hpp"
#include "cmop/sync/state_dir.hpp"
#include "cmop/sync/sync_report.hpp"
#include "cmop/sync/versioning.hpp"

namespace cmop::sync {

struct WorkspaceOptions {
  bool allow_local_git = false;
  net::TlsOptions tls;  // for dependency repos
  net::ConnectionPolicy dependency_peers;  // which dependency repos may be reached (default: any)
  // oci:// dependencies; null = own client with `tls` and `dependency_peers`. A
  // shared one must carry the same policy.
  std::shared_ptr<oci::RegistryClient> registry;
  std::string git_ca_file;      // extra CA bundle (PEM) for https git remotes
  std::string ssh_known_hosts;  // OpenSSH known_hosts content; empty = host keys not verified
  // A sync ends by this long after it started (0 = no limit): the git transfer is
  // cut off at the deadline, and so is every HTTP request of the sync (chart
  // repositories, registries, the publisher: net::DeadlineScope); charts not begun
  // by then are reported as not attempted, the sync failing with a reason naming
  // the remote.
  std::chrono::seconds sync_timeout{600};
  // How long a git transfer may go without an answer (connect included).
  std::chrono::milliseconds git_stall_timeout{std::chrono::seconds(60)};
  // Bounds of the dependency cache (<state dir>/cache) and of the parsed indexes
  // kept in memory between syncs.
  deps::CacheLimits dependency_cache;
  // The git mirrors, one per remote and credentials (see MirrorPool): how many,
  // how much disk, how many fetches per host at once, when they are repacked.
  MirrorLimits mirrors;
};

// WorkspaceOptions::ssh_known_hosts from an OpenSSH known_hosts file (the
// --ssh-known-hosts of cmop serve and cmop publish). Throws Error(invalid_argument)
// naming the flag when the file cannot be read or lists no host key: an empty
// list would read as "host keys not verified".
std::string read_ssh_known_hosts(const std::filesystem::path& file);

class Workspace {
 public:
  // Owns `state_dir` (its lock and secrets) for its lifetime and reads the state in
  // it. Throws what StateDir's constructor throws (Error(io) when another process
  // holds the dir), Error(invalid_argument) without a publisher, and Error(io or
  // invalid_argument) naming a state file that cannot be read.
  Workspace(StateDir state_dir, std::shared_ptr<publish::Publisher> publisher, WorkspaceOptions options = {});
  // The same, taking the directory's lock first.
  Workspace(const std::filesystem::path& state_dir, std::shared_ptr<publish::Publisher> publisher,
            WorkspaceOptions options = {});
  ~Workspace();

  // Adds or replaces a named chart repository (persisted).
  void put_dependency_repo(const deps::NamedRepository& repo);
  std::vector<deps::NamedRepository> dependency_repos() const;

  // Registers or changes the spec (persisted first), then syncs. The same spec again
  // re-syncs cheaply (nothing changed → nothing uploaded). A suspended spec is only
  // recorded: the report then carries the last commit and no charts.
  SyncReport apply(const RepoSpec& spec);
  // Throws what apply() would throw before it records anything (an invalid spec,
  // Error(conflict) for a repo another owner manages), without waiting for a sync
  // of the repo: lets a caller refuse a spec at once and run apply() later.
  void check(const RepoSpec& spec) const;
  // Fetches and re-syncs what changed. Error(not_found) for an unknown name.
  SyncReport update(const std::string& name);
  // The same for a request made at `requested_at`: a fetch of the repo's remote
  // that began then or later (by a sync of any repo on that remote) serves it, so
  // syncs of many repos on one remote asked for at once cost one fetch.
  SyncReport update(const std::string& name, std::chrono::steady_clock::time_point requested_at);
  // Deletes exactly what the repo published, its clone, its state and its stored keys.
  // Error(not_found) for an unknown name; a publisher failure leaves the state in
  // place (so a retry can finish the job).
  // `expected_owner` non-empty: refuse (Error conflict) when the repo has another owner.
  void remove(const std::string& name, const std::string& expected_owner = "");

  // The repo's inline SSH private key, kept as a file in the state dir (libgit2
  // reads keys from files): where it is kept (pure; put it in the spec's
  // credentials.ssh_private_key_file), and storing it there (mode 0600), which
  // returns the same path. apply() deletes the repo's other stored keys once its
  // spec is recorded, remove() all of them. Error(invalid_argument) for a name
  // that is not a DNS-1123 label; store_ssh_key: Error(io) naming the file.
  std::string ssh_key_file(const std::string& name, const std::string& key) const;
  std::string store_ssh_key(const std::string& name, const std::string& key);

  std::optional<RepoState> get(const std::string& name) const;
  // The shared git mirrors (for /metrics).
  MirrorStats mirror_stats() const;
  std::vector<RepoState> list() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmop::sync
