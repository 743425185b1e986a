#pragma once
// The Workspace's insides (not a public header): the repos' states, the ledger of
// who publishes what, and one sync as its steps. Where each part lives:
//   workspace.cpp  loading the state dir, the public operations
//   sync.cpp       one sync, top to bottom: fetch, discover, order, resolve,
//                  package, publish, record (one file per step, named for it)
//   claims.cpp     the ledger: who owns a name+version, the claims journal
//   publish.cpp    uploads and removals, each recorded in the ledger
//   record.cpp     the repo's state file, written during and at the end of a sync
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cmop/sync/workspace.hpp"

namespace cmop::sync {

struct ChartLayout;
struct SyncRun;

struct Workspace::Impl {
  StateDir state_dir;  // first: its lock is taken before anything in it is read
  std::filesystem::path dir;
  std::shared_ptr<publish::Publisher> publisher;
  WorkspaceOptions options;
  deps::Resolver resolver;
  MirrorPool mirrors;

  mutable std::mutex mu;  // guards everything below
  std::map<std::string, RepoState> repos;
  std::vector<deps::NamedRepository> dependency_repos;
  // The working copy of each repo whose sync or removal is running (see InFlight):
  // that repo's publications are read from it, not from `repos`, until it is stored.
  std::map<std::string, const RepoState*> in_flight;
  std::map<std::string, std::shared_ptr<std::mutex>> repo_locks;

  Impl(StateDir d, std::shared_ptr<publish::Publisher> p, WorkspaceOptions o);

  std::filesystem::path repos_dir() const { return dir / "repos"; }
  std::filesystem::path state_file(const std::string& name) const { return repos_dir() / (name + ".json"); }
  // Where versions before shared mirrors kept one mirror per repo (adopted at load).
  std::filesystem::path clone_dir(const std::string& name) const { return dir / "clones" / name; }
  std::filesystem::path dependencies_file() const { return dir / "dependencies.json"; }
  // Claims made since the state file was last written (see journal_claim()).
  std::filesystem::path claims_file(const std::string& name) const { return repos_dir() / (name + ".claims"); }

  // --- workspace.cpp
  void load();
  std::shared_ptr<std::mutex> lock_for(const std::string& name);
  // The repo's stored state (a copy); Error(not_found) for an unknown name.
  RepoState stored_state(const std::string& name) const;
  // The spec's own dependency repos, then the workspace's others.
  std::vector<deps::NamedRepository> repositories_for(const RepoSpec& spec) const;

  // --- claims.cpp: the ledger. Who owns what is not kept anywhere but in the
  // repos' states: it is read from each repo's publications as they are now
  // (caller holds mu), a running sync's or removal's working copy for its repo,
  // the stored state for the others.
  const RepoState& current(const std::string& name, const RepoState& stored) const;
  std::optional<publish::Publication> owner_of(const std::string& name, const std::string& version) const;
  // Every publication of every repo, sorted by name, then version.
  std::vector<publish::Publication> all_publications() const;
  // Throws Error(invalid_argument) for a publication without a repo, name or
  // version, and Error(conflict) when `owner` (of its name+version) is another repo.
  static void check_claim(const publish::Publication& p, const std::optional<publish::Publication>& owner);
  // The one way a repo's publications change (caller holds mu; `state` is the
  // repo's working copy, registered as InFlight): `pub` added to or replaced in
  // state.published. Throws what check_claim() throws, e.g. Error(conflict) when
  // another repo owns its name+version.
  void record_publication(RepoState& state, const publish::Publication& pub);
  // Its inverse (caller holds mu): name+version leaves state.published.
  void forget_publication(RepoState& state, const std::string& name, const std::string& version);
  // Appends one claim ("+") or release ("-") of name+version and flushes it to disk.
  void journal_claim(const std::string& repo, char op, const publish::Publication& pub);
  // Applies the journal left by a sync that did not finish, in order (idempotent:
  // a claim is an upsert, a release an erase). A torn last line is ignored.
  void replay_claims(RepoState& s) const;
  struct InFlight;

  // --- record.cpp. The state file is rewritten whole, so writing it once per chart
  // made a sync of N charts cost N^2. It is written at the end of a sync and at
  // most once per checkpoint interval meanwhile; what must be durable before each
  // upload (the claim on name+version) goes to a small append-only journal instead.
  void persist(RepoState& s);
  // Persists progress (chart keys) if the last write is older than the interval.
  void checkpoint(RepoState& s, std::chrono::steady_clock::time_point& last_write);
  // The chart's content key is now the one published; a failure to save it is the
  // repo's (the chart did publish), reported in the sync's error.
  void record_progress(SyncRun& run, const std::string& chart_path, const std::string& key);
  // The sync's outcome into the repo's state, persisted and stored; returns the report.
  SyncReport record(SyncRun& run);

  // --- sync.cpp. Runs one sync of `name` (caller holds the repo's lock), asked for at `requested_at`.
  SyncReport sync(const std::string& name,
                  std::chrono::steady_clock::time_point requested_at = std::chrono::steady_clock::now());
  // One chart folder of the sync: resolved, packaged when its content changed, published.
  ChartOutcome sync_chart(SyncRun& run, const std::string& chart_path);

  // --- publish.cpp
  // Publishes the package (claim_and_upload) and sets outcome.status to published.
  // A publish target that is unreachable or refuses us stops the sync (the rest
  // would fail the same way), reported once at repo level; the error is rethrown.
  void publish_chart(SyncRun& run, const std::string& chart_path, const package::Package& pkg,
                     ChartOutcome& outcome);
  // Claims name+version for the repo (journaled), uploads, then records the
  // uploaded digest; a failed first upload releases the claim.
  void claim_and_upload(RepoState& state, const std::string& chart_path, const package::Package& pkg,
                        const ChartLayout& layout);
  void remove_publication(RepoState& state, const publish::Publication& pub);
  // Removes what chart folders that left the repo published (moved folders keep theirs).
  void withdraw_vanished(SyncRun& run);
};

// Registers a repo's working copy of its state, for as long as a sync or removal
// changes it, as the one its publications are read from (by other repos' syncs:
// a claim is seen by them at once). On the way out, by a return or an exception,
// the stored state takes its publications over, so nothing claimed goes unseen.
struct Workspace::Impl::InFlight {
  Impl& impl;
  const std::string name;
  InFlight(Impl& i, std::string n, const RepoState& working);
  ~InFlight();
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
};

}  // namespace cmop::sync
