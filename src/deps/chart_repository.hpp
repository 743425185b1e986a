#pragma once
// A Helm chart repository over HTTP: its index.yaml (revalidated by ETag /
// Last-Modified, cached on disk, parsed once and shared across workers) and its
// chart archives (verified against the index's digest, cached by it).
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cmop/deps/repo_index.hpp"
#include "cmop/net/http_client.hpp"
#include "deps/dependency_location.hpp"
#include "deps/disk_cache.hpp"

namespace cmop::deps::detail {

// The indexes one sync read: each fetched or revalidated at most once.
struct IndexSession {
  IndexSession() = default;
  IndexSession(const IndexSession&) = delete;
  IndexSession& operator=(const IndexSession&) = delete;
  // Drops the indexes; when they were big, the heap they leave is given back to
  // the system (RSS falls back after a sync of a large index).
  ~IndexSession();

  std::map<std::string, std::shared_ptr<const RepoIndex>> indexes;  // by URL and user
  std::uint64_t index_bytes = 0;                                     // their index.yaml text
};

// Validators of an index.yaml copy (the cache file's head).
struct Validators {
  std::string etag, last_modified;
  bool operator==(const Validators&) const = default;
  bool empty() const { return etag.empty() && last_modified.empty(); }
  std::string head() const { return "etag " + etag + "\nlast-modified " + last_modified + "\n\n"; }
};

class ChartRepositoryClient {
 public:
  // `http` and `cache` outlive the client. Parsed indexes are kept between
  // sessions within cache.limits().max_parsed_*.
  ChartRepositoryClient(net::HttpClient& http, DiskCache& cache) : http_(http), cache_(cache) {}

  // The repository's index, once per session. Every request ends by the calling
  // thread's net::DeadlineScope, and so does waiting for another thread's fetch of
  // the same index. Throws Error(dependency) naming `subject`.
  std::shared_ptr<const RepoIndex> index(IndexSession& session, const Remote& remote, const std::string& subject);

  // The archive `entry` points at (relative to the repository URL), checked
  // against the entry's digest when it has one. Throws Error(dependency).
  std::string download(const Remote& remote, const IndexEntry& entry, const std::string& subject);

 private:
  struct IndexRequest;
  // The last parsed index per URL with the validators it was fetched under.
  struct ParsedIndex {
    Validators validators;
    std::shared_ptr<const RepoIndex> index;
    std::uint64_t text_bytes = 0;
    std::uint64_t last_used = 0;
  };

  std::unique_lock<std::timed_mutex> wait_for_fetch(const IndexRequest& r);
  std::optional<Validators> known_validators(const IndexRequest& r);
  net::Response fetch(const IndexRequest& r, const std::optional<Validators>& have);
  std::shared_ptr<const RepoIndex> reuse_parsed(const IndexRequest& r, const Validators& known, IndexSession& session);
  std::shared_ptr<const RepoIndex> parse_shared(const IndexRequest& r, const std::string& body, bool& parsed_here);
  std::shared_ptr<const RepoIndex> remember(const IndexRequest& r, IndexSession& session, std::string body,
                                            const Validators& validators, bool fetched);
  std::vector<std::shared_ptr<const RepoIndex>> keep_parsed(const std::string& key, ParsedIndex p);

  net::HttpClient& http_;
  DiskCache& cache_;
  // A 304 for the same validators reuses `parsed_` instead of parsing the cached
  // body again; least recently used dropped first.
  std::mutex parsed_mu_;  // guards the four below
  std::map<std::string, ParsedIndex> parsed_;
  std::uint64_t use_clock_ = 0;
  std::map<std::string, std::shared_ptr<std::timed_mutex>> fetch_locks_;     // per index URL
  std::map<std::string, std::weak_ptr<const RepoIndex>> parsed_by_digest_;  // by sha256 of the body
};

}  // namespace cmop::deps::detail
