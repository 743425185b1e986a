#pragma once
// The core's front door: named git repos, named dependency chart repos, and what
// each git repo published, all persisted in a state dir. serve/operate/trigger
// are thin layers over this.
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
#include "cmop/publish/ledger.hpp"
#include "cmop/publish/publisher.hpp"

namespace cmop::sync {

// What a sync does with a chart whose content changed while its `version` did not.
enum class Versioning {
  immutable,  // default: the chart is failed with a reason; the published package stays as it is
  revision,   // publish as <version>+<first 12 hex digits of the commit> (SemVer build metadata)
  overwrite,  // replace the published package (ChartMuseum ?force)
};
std::string to_string(Versioning v);
// Error(invalid_argument) for anything but "immutable", "revision", "overwrite".
Versioning parse_versioning(const std::string& text);

struct RepoSpec {
  std::string name;  // DNS-1123 label
  std::string git;   // URL
  std::string ref;   // branch/tag/commit, "" = default branch
  std::string path;  // sub-path to search for charts, "" = whole repo
  std::vector<deps::NamedRepository> dependencies;  // registered along with the repo
  git::Credentials credentials;
  // Who manages the repo ("<namespace>/<name>" of the operator's resource; "" =
  // nobody in particular). A repo with an owner refuses specs and removals from
  // anyone else, so two resources of the same name cannot take over each other's
  // repo and charts.
  std::string owner;
  Versioning versioning = Versioning::immutable;
  // Authenticates push webhooks for this repo (HMAC key, or GitLab's token); "" =
  // webhooks refused. A secret: persisted with the credentials, never answered.
  std::string webhook_secret;
  // Suspended: apply() only records the spec and update() refuses (Error conflict):
  // no sync of any kind until a spec without it is applied.
  bool suspend = false;

  bool operator==(const RepoSpec&) const = default;
};

struct ChartOutcome {
  enum class Status { published, unchanged, failed, removed };
  std::string path;  // chart folder in the repo
  std::string name, version, digest;
  Status status = Status::failed;
  std::string reason;  // for failed
};
std::string to_string(ChartOutcome::Status s);

struct SyncReport {
  std::string repo;
  std::string commit;
  bool fetched_changes = false;
  std::vector<ChartOutcome> charts;
  std::string error;  // repo-level failure (clone, publish target down); charts may still be listed
  double seconds = 0;
  bool ok() const;  // no repo error and no failed chart
  std::size_t count(ChartOutcome::Status s) const;
};

struct RepoState {
  RepoSpec spec;
  std::string last_commit;
  std::string last_sync_time;     // RFC 3339 of the last attempt
  std::string last_success_time;  // RFC 3339
  std::string last_error;
  std::vector<ChartOutcome> last_charts;  // outcome of the last sync
  std::vector<publish::Publication> published;
  std::map<std::string, std::string> chart_keys;  // chart path -> content key last published
};

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
  // cut off at the deadline, and charts not begun by then are reported as not
  // attempted, the sync failing with a reason naming the remote.
  std::chrono::seconds sync_timeout{600};
  // How long a git transfer may go without an answer (connect included).
  std::chrono::milliseconds git_stall_timeout{std::chrono::seconds(60)};
};

class Workspace {
 public:
  Workspace(std::filesystem::path state_dir, std::shared_ptr<publish::Publisher> publisher,
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
  // Deletes exactly what the repo published, its clone and its state.
  // Error(not_found) for an unknown name; a publisher failure leaves the state in
  // place (so a retry can finish the job).
  // `expected_owner` non-empty: refuse (Error conflict) when the repo has another owner.
  void remove(const std::string& name, const std::string& expected_owner = "");

  std::optional<RepoState> get(const std::string& name) const;
  std::vector<RepoState> list() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmop::sync
