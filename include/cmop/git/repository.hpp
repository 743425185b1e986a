#pragma once
// Git sync: keeps one local checkout of a remote repository up to date (libgit2).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

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
  // Regular files larger than this are checked out as sparse placeholders of the
  // same size: their content is never read into memory nor written (a size check,
  // e.g. Helm's 5 MiB per-file limit, still sees the true size). 0 = no limit.
  std::uint64_t placeholder_above_bytes = 0;
  // Network deadlines. A remote that accepts and then never answers must not hold
  // a sync (and its worker) forever:
  // - stall_timeout: connecting, and every wait for data from the remote, may take
  //   at most this long without any progress (0 = unbounded);
  // - deadline: the whole transfer ends by then (time_point::max() = none).
  // Either fails the sync with Error(network) naming the remote and the step.
  std::chrono::milliseconds stall_timeout{std::chrono::seconds(60)};
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct SyncResult {
  std::string commit;                // checked-out commit id (40 hex)
  bool changed = false;              // false when the ref still points at the previous commit
  std::filesystem::path worktree;    // directory holding the checked-out files
};

// Throws Error(forbidden) for file:// or local paths unless allow_local, and
// Error(invalid_argument) for unsupported schemes or malformed URLs.
void validate_url(std::string_view url, bool allow_local);

// One mirror directory per git repo. Layout inside `dir` is private to this class.
// Contract: a failed sync leaves the previous worktree and commit untouched.
class Repository {
 public:
  explicit Repository(std::filesystem::path dir);
  ~Repository();
  Repository(const Repository&) = delete;
  Repository& operator=(const Repository&) = delete;

  // Clones on first use, fetches afterwards; resolves ref; checks out when it moved.
  // Throws Error(git|forbidden|invalid_argument|not_found) with the URL and libgit2's reason.
  SyncResult sync(const SyncOptions& options);

  // Commit of the current worktree, if any sync has succeeded.
  std::optional<std::string> current_commit() const;
  // The committer time of the current commit, RFC 3339 in UTC ("" before the
  // first sync): a timestamp that is the same wherever the commit is packaged.
  std::string current_commit_time() const;
  std::filesystem::path worktree() const;

  // Git tree id of `subdir` (relative, '/'-separated, "" = root) at the current
  // commit: a cheap content key for a chart folder. Empty if it does not exist.
  std::string tree_id(std::string_view subdir) const;

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace cmop::git
