#pragma once
// Git sync: keeps one local mirror of a remote repository up to date (libgit2).
// Nothing is checked out: a commit's files are read from the object database
// (git::Tree).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "cmop/git/tree.hpp"

namespace cmop::git {

struct Credentials {
  // HTTP(S): token or basic auth. A token alone is sent as password with
  // username "x-access-token" (GitHub/GitLab/Gitea accept that form).
  std::string username;
  std::string password;
  // SSH: key files (private key required, public optional) + passphrase.
  std::string ssh_private_key_file;
  std::string ssh_public_key_file;
  std::string ssh_passphrase;

  bool operator==(const Credentials&) const = default;
};

struct SyncOptions {
  std::string url;  // https://, http://, git://, ssh://, scp-like user@host:path, file:// (only if allow_local)
  std::string ref;  // branch, tag or full/abbreviated commit; empty = remote's default branch
  Credentials credentials;
  bool allow_local = false;  // permit file:// URLs and local paths
  std::string ca_file;       // extra CA bundle (PEM) for https, trusted for this repository only,
                             // in addition to the system CAs (never installed process-wide)
  // SSH: OpenSSH known_hosts content (plain or hashed host entries). When set, the
  // server's host key must match an entry for the host ("[host]:port" off port 22);
  // when empty, SSH host keys are not verified.
  std::string ssh_known_hosts = {};
  // Network deadlines. A remote that accepts and then never answers must not hold
  // a sync (and its worker) forever:
  // - stall_timeout: connecting, and every wait for data from the remote, may take
  //   at most this long without any progress (0 = unbounded);
  // - deadline: the whole transfer ends by then (time_point::max() = none).
  // Either fails the sync with Error(network) naming the remote and the step.
  std::chrono::milliseconds stall_timeout{std::chrono::seconds(60)};
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // Fetch the whole history even for a branch or tag (a shared mirror does when any
  // of its users names a commit id: those need every commit reachable from refs).
  bool full_history = false;
};

// What one fetch into a mirror brought (Repository::fetch).
struct FetchResult {
  std::string default_branch;  // "refs/heads/x" as the remote advertises it, "" when none
  std::uint64_t received_objects = 0;
  std::uint64_t received_bytes = 0;
};

// What a repack (Repository::gc) did.
struct GcResult {
  std::size_t objects = 0;        // objects in the new pack: all that the refs reach
  std::size_t packs_removed = 0;  // packs replaced by it
  std::size_t loose_removed = 0;  // loose object files removed
};

struct SyncResult {
  std::string commit;      // the commit the ref points at (40 hex), now the current one
  bool changed = false;    // false when the ref still points at the previous commit
  // Objects the fetch downloaded (0 when the remote had nothing new): a shallow
  // mirror fetches only what the new commit adds.
  std::uint64_t received_objects = 0;
};

// Throws Error(forbidden) for file:// or local paths unless allow_local, and
// Error(invalid_argument) for unsupported schemes or malformed URLs.
void validate_url(std::string_view url, bool allow_local);

// One mirror directory per git repo. Layout inside `dir` is private to this class.
// Contract: a failed sync leaves the previous current commit untouched.
class Repository {
 public:
  explicit Repository(std::filesystem::path dir);
  ~Repository();
  Repository(const Repository&) = delete;
  Repository& operator=(const Repository&) = delete;

  // Clones on first use, fetches afterwards; resolves ref and makes that commit
  // the current one.
  // Throws Error(git|forbidden|invalid_argument|not_found) with the URL and libgit2's reason.
  SyncResult sync(const SyncOptions& options);

  // The current commit, if any sync has succeeded.
  std::optional<std::string> current_commit() const;
  // The committer time of the current commit, RFC 3339 in UTC ("" before the
  // first sync): a timestamp that is the same wherever the commit is packaged.
  std::string current_commit_time() const;
  // The current commit's files. Error(not_found) before the first sync.
  Tree tree() const;

  // --- a mirror shared by several readers (sync::MirrorPool) -------------------
  // These never touch the `current` pointer: each reader keeps its own commit.
  // Clones on first use, fetches afterwards (every branch and tag of the remote,
  // forced and pruned), under the same locks as sync().
  FetchResult fetch(const SyncOptions& options);
  // The commit `ref` names in the mirror as last fetched (see SyncOptions::ref);
  // `default_branch` is what the fetch read from the remote. Throws like sync().
  std::string resolve(const std::string& url, const std::string& ref, const std::string& default_branch) const;
  // The files of `commit` (40 hex), which must be in the mirror.
  Tree tree_at(const std::string& commit) const;
  // Repacks the mirror: one pack of every object reachable from its refs (loose
  // refs packed too), replacing the packs and loose objects it had; unreachable
  // objects are dropped. libgit2 has no `git gc`: this is its core, done with
  // git_packbuilder. The caller guarantees nobody reads the mirror meanwhile
  // (a running fetch is excluded by the sync lock).
  GcResult gc();

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace cmop::git
