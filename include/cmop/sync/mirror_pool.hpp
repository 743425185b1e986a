#pragma once
// The git mirrors of a Workspace, one per remote: every repo spec naming the same
// URL with the same credentials reads the same mirror, and concurrent syncs of
// those specs share one fetch. Design: docs/configuration.md, "Shared mirrors".
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cmop/git/repository.hpp"
#include "cmop/sync/repo_spec.hpp"

namespace cmop::sync {

struct MirrorLimits {
  std::size_t max_mirrors = 0;         // mirrors at most (0 = unbounded)
  std::uint64_t max_disk_bytes = 0;    // no new mirror once they use this much disk (0 = unbounded)
  int max_fetches_per_host = 4;        // concurrent fetches per remote host (0 = unbounded)
  std::uint32_t gc_after_fetches = 50; // repack a mirror after this many fetches that brought objects (0 = never)
  std::chrono::seconds gc_interval{3600};  // ... or this long after its last repack, if fetched since (0 = never)
};

struct MirrorStats {
  std::size_t mirrors = 0;
  std::size_t users = 0;          // repo specs reading them
  std::uint64_t disk_bytes = 0;   // as last measured (after each fetch and repack)
  std::uint64_t fetches = 0;      // fetches run
  std::uint64_t joined = 0;       // syncs served by a fetch another sync ran
  std::uint64_t fetched_bytes = 0;
  std::uint64_t fetched_objects = 0;
  std::uint64_t gcs = 0;
  std::uint64_t refused = 0;      // syncs refused by max_mirrors / max_disk_bytes
  std::map<std::string, int> fetching_by_host;  // fetches running now
  std::map<std::string, int> waiting_by_host;   // fetches waiting for a host slot
  std::map<std::string, int> peak_by_host;      // most fetches that ever ran at once
  MirrorLimits limits;
};

class MirrorPool {
 public:
  using Clock = std::chrono::steady_clock;

  // Mirrors live in `dir`/<id>/ (created on first use).
  MirrorPool(std::filesystem::path dir, MirrorLimits limits);
  ~MirrorPool();
  MirrorPool(const MirrorPool&) = delete;
  MirrorPool& operator=(const MirrorPool&) = delete;

  // The mirror a spec reads: a digest of its URL and of its credentials' identity
  // (the digest of user name, password, SSH key file contents and passphrase: a
  // secret is never part of a path or a log line). Pure but for reading key files.
  static std::string mirror_id(const RepoSpec& spec);
  // "host[:port]" of a git URL (scp-like "user@host:path" too), "local" for paths.
  static std::string host_of(const std::string& url);

  // Records `repo` as a user of its spec's mirror (leaving the one an earlier spec
  // named: removed when that was its last user). Creates nothing on disk.
  void attach(const std::string& repo, const RepoSpec& spec);
  // Forgets `repo`; its mirror is removed when no other repo uses it.
  void detach(const std::string& repo);
  // An earlier version's per-repo mirror (`legacy`/repo.git) becomes the mirror of
  // the repo's spec when that one has none yet (rename: nothing fetched again);
  // otherwise it is deleted. Call after attach().
  void adopt(const std::string& repo, const std::filesystem::path& legacy);
  // Deletes mirror directories no attached repo uses (left by a crash mid-delete).
  void remove_unused();

  // One sync's view of its mirror: the commit its ref names, and that commit's
  // files. While it lives the mirror is not repacked.
  struct Checkout {
    std::string commit;
    std::optional<git::Tree> tree;
    bool fetched = false;  // this sync ran the fetch (false: joined or reused one)
    git::FetchResult fetch;
    std::shared_ptr<void> lease;
  };
  // Brings the repo's mirror (attaching it) up to a fetch that began at or after
  // `requested_at`: one already running that began then is joined, a finished
  // one is reused, otherwise this sync fetches (waiting for a running one that
  // began earlier: the syncs that waited share the next fetch). Then resolves
  // options.ref. Throws what git::Repository throws, Error(too_large) past the
  // limits.
  Checkout checkout(const std::string& repo, const RepoSpec& spec, git::SyncOptions options,
                    Clock::time_point requested_at);

  MirrorStats stats() const;
  std::filesystem::path mirror_dir(const std::string& id) const { return dir_ / id; }

 private:
  struct Mirror;
  struct Host;
  std::shared_ptr<Mirror> find_or_create(const std::string& repo, const RepoSpec& spec);
  void release(const std::shared_ptr<Mirror>& m);
  void drop_user(const std::string& repo);  // caller holds mu_
  void maybe_gc(const std::shared_ptr<Mirror>& m);
  void measure(const std::shared_ptr<Mirror>& m);

  const std::filesystem::path dir_;
  const MirrorLimits limits_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Mirror>> mirrors_;  // by id
  std::map<std::string, std::string> user_mirror_;          // repo -> id
  std::map<std::string, std::shared_ptr<Host>> hosts_;
  MirrorStats totals_;
};

}  // namespace cmop::sync
