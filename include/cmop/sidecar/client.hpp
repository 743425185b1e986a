#pragma once
// The sidecar (`cmop serve`) as its clients see it: the calls `operate` and
// `trigger` make over its HTTP API, and its JSON answers parsed once into plain
// types. Built on net::HttpClient; RapidJSON stays inside src/sidecar.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cmop/error.hpp"

namespace cmop::sidecar {

// One chart folder's outcome in a sync: status is "published", "unchanged",
// "removed" or "failed" (as the sidecar writes it); reason says why it failed.
struct ChartOutcome {
  std::string path, name, version, status, reason;
};

// A sync report (the answer of POST /repo/{name}/update and of POST /repo/new).
struct SyncReport {
  std::string commit;
  std::string error;  // a repo-level failure; "" when the sync ran
  std::vector<ChartOutcome> charts;
};

// A chart version the repo has published (the state's "charts").
struct PublishedChart {
  std::string name, version;
};

// GET /repo/{name}: what the sidecar holds for a repo.
struct RepoStatus {
  std::string owner;            // spec.owner: the resource managing it ("" = none)
  std::string last_error;       // lastError: the last sync failed as a whole
  std::string last_commit;      // lastCommit
  std::string last_sync_time;   // lastSyncTime ("" before the first sync ends)
  bool syncing = false;         // a sync is queued or runs
  std::optional<bool> last_sync_ok;        // lastSync.ok when present as a boolean
  std::vector<ChartOutcome> last_sync;     // lastSync.charts
  std::vector<PublishedChart> charts;      // charts
  // The last sync's charts with status "failed".
  std::vector<ChartOutcome> failed_charts() const;
};

// An {"error": ..., "code": ...} answer; code is the Errc name to_string gives
// (or "SyncFailed", "Unavailable", "TooManyRequests"), "" when absent.
struct ErrorAnswer {
  std::string error, code;
};

// Parsers of the wire JSON. Missing or mistyped members (or a JSON value that is
// no object) read as empty; the ones for reports and states throw
// Error(upstream, what, "answer is not JSON (offset N)") for text that is not
// JSON. parse_error_answer gives nullopt for text that is not a JSON object.
SyncReport parse_sync_report(std::string_view json, std::string_view what);
RepoStatus parse_repo_status(std::string_view json, std::string_view what);
std::optional<ErrorAnswer> parse_error_answer(std::string_view json);

// The Errc a "code" names; nullopt for none or an unknown one. "Unavailable" and
// "TooManyRequests" (a sidecar shutting down, too many waiters) are network
// failures, retried; "SyncFailed" (the repo's git or publish target) is upstream.
std::optional<Errc> errc_from_code(std::string_view code);

// One GET /syncs answer: where the feed stands and the owners of repos whose
// sync started or ended since `after`. Only a 200 is parsed (status says).
struct SyncsPage {
  int status = 0;
  std::string epoch;
  std::uint64_t generation = 0;
  std::vector<std::string> owners;  // "" for a repo without an owner
};

// The raw outcome of the trigger's update: status and body as they came.
struct UpdateAnswer {
  int status = 0;
  std::optional<SyncReport> report;  // a 200 whose body is a JSON object
  std::optional<ErrorAnswer> error;  // any other answer whose body is a JSON object
  std::string body;
};

class Client {
 public:
  // base_url: the sidecar's http(s) URL (trailing slashes ignored); token: its
  // bearer token ("" sends none).
  Client(std::string base_url, std::string token);

  // --- the operator's calls. An answer other than 200/202 throws Error with the
  // category the answer's "code" names, else one derived from the status
  // (400 invalid_argument, 401 unauthorized, 403 forbidden, 404 not_found,
  // 409 conflict, 502 upstream, 503 network, others internal), naming
  // "sidecar <METHOD> <path>" and carrying "HTTP <status>: <error>". A request
  // waits at most 10 minutes (a waiting re-registration may clone a large repo).

  // GET /repo/{name}; nullopt when the sidecar does not know the repo (404).
  std::optional<RepoStatus> repo(const std::string& name) const;
  // POST /repo/new (body: the repo's spec as JSON); waits for the sync.
  SyncReport apply(const std::string& body_json) const;
  // POST /repo/new?async=true: registers the spec, queues its sync (202).
  void apply_async(const std::string& body_json) const;
  // POST /repo/{name}/update?async=true: queues a sync now.
  void update_async(const std::string& name) const;
  enum class Removal { removed, unknown, not_ours };
  // DELETE /repo/{name}?owner=: removes the repo if `owner` manages it (or nobody
  // does). 404 and 400 (a name no repo can have) are `unknown`, 409 `not_ours`.
  Removal remove(const std::string& name, const std::string& owner) const;
  // GET /syncs?after=&epoch=&waitSeconds=: the sidecar waits up to `wait` for
  // news; the request up to `timeout`. A 200 without epoch, generation and repos throws
  // Error(upstream, "sidecar GET /syncs", "unexpected answer"); Error(network)
  // when no answer came or `cancelled` answered true.
  SyncsPage syncs(std::uint64_t after, const std::string& epoch, std::chrono::seconds wait,
                  std::chrono::milliseconds timeout, const std::function<bool()>& cancelled) const;

  // --- the trigger's call: POST /repo/{name}/update, waiting up to `timeout` for
  // the sync. Throws Error(network) only when no answer came.
  UpdateAnswer update(const std::string& name, std::chrono::milliseconds timeout) const;

 private:
  struct Http;
  std::string base_, token_;
  std::shared_ptr<const Http> http_;
};

}  // namespace cmop::sidecar
