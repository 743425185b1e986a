#include "sync/publish.hpp"

#include "cmop/error.hpp"
#include "sync/sync_run.hpp"
#include "sync/workspace_impl.hpp"

namespace cmop::sync {

void Workspace::Impl::publish_chart(SyncRun& run, const std::string& chart_path, const package::Package& pkg,
                                    ChartOutcome& outcome) {
  try {
    claim_and_upload(run.state, chart_path, pkg, *run.layout);
  } catch (const Error& e) {
    if (e.code() == Errc::network || e.code() == Errc::unauthorized || e.code() == Errc::upstream ||
        e.code() == Errc::io) {
      // The publish target is unreachable or refusing us: the rest would fail
      // the same way. Report it once at repo level; the next sync retries all.
      run.stopped = true;
      run.report.error = "publishing to " + publisher->describe() + " failed: " + e.what();
    }
    throw;
  }
  outcome.status = ChartOutcome::Status::published;
}

void Workspace::Impl::claim_and_upload(RepoState& state, const std::string& chart_path, const package::Package& pkg,
                                       const ChartLayout& layout) {
  const auto& name = pkg.metadata.name;
  const auto& version = pkg.metadata.version;
  bool already_ours = false;
  publish::Publication claim;
  {
    // Claim name+version for this repo before uploading, and persist the claim:
    // after a crash mid-upload the next sync knows the chart is ours to replace.
    // The claim carries the digest of what is known to be uploaded (empty for a
    // first upload): the new digest is recorded only once the upload succeeded,
    // so a failed or interrupted upload is retried by the next sync instead of
    // being taken for "unchanged".
    std::lock_guard lk(mu);
    std::string uploaded_digest;
    if (auto owner = owner_of(name, version)) {
      if (owner->repo != state.spec.name)
        throw Error(Errc::conflict, name + "-" + version,
                    "already published by repo \"" + owner->repo + "\" from " + owner->chart_path);
      // Two folders of this repository defining the same name+version are a
      // conflict; a folder that moved (git mv) or whose old folder now defines
      // something else takes the publication over.
      if (owner->chart_path != chart_path && layout.defines(owner->chart_path, name, version))
        throw Error(Errc::conflict, name + "-" + version,
                    "also defined by " + owner->chart_path + " in this repository");
      if (owner->chart_path != chart_path && !layout.metadata_by_path.count(owner->chart_path))
        state.chart_keys.erase(owner->chart_path);
      already_ours = true;
      uploaded_digest = owner->digest;
    }
    claim = publish::Publication{state.spec.name, name, version, uploaded_digest, chart_path, "", ""};
    if (already_ours)
      if (auto owner = owner_of(name, version)) {
        claim.commit = owner->commit;  // the bytes known uploaded are still the earlier commit's
        claim.cmop_version = owner->cmop_version;
      }
    record_publication(state, claim);
  }
  auto release_claim = [&] {
    {
      std::lock_guard lk(mu);
      forget_publication(state, name, version);
    }
    try {
      journal_claim(state.spec.name, '-', claim);
    } catch (...) {
      // Best effort: the state file written at the end of the sync has no claim
      // either, and the caller must see the upload's error, not this one.
    }
  };
  try {
    journal_claim(state.spec.name, '+', claim);
  } catch (...) {
    if (!already_ours) release_claim();
    throw;
  }
  try {
    publisher->publish(pkg, already_ours);
  } catch (...) {
    // A first upload that failed is not ours. (One that timed out may still have
    // landed: the next sync's upload then meets 409 with the same digest and
    // adopts it.)
    if (!already_ours) release_claim();
    throw;
  }
  std::lock_guard lk(mu);
  record_publication(state, {state.spec.name, name, version, pkg.digest, chart_path, pkg.source_commit, CMOP_VERSION});
}

void Workspace::Impl::remove_publication(RepoState& state, const publish::Publication& pub) {
  publisher->remove_exact(pub.name, pub.version, pub.digest);
  std::lock_guard lk(mu);
  forget_publication(state, pub.name, pub.version);
}

// A chart folder that disappeared from the repo (or from spec.path) takes its
// published versions with it. Version bumps keep earlier versions: chart repos
// are append-only by convention and pinned installs must keep working.
void Workspace::Impl::withdraw_vanished(SyncRun& run) {
  RepoState& state = run.state;
  const ChartLayout& layout = *run.layout;
  auto published = state.published;
  for (auto& pub : published) {
    if (layout.holds(pub.chart_path)) continue;
    // Earlier versions of a chart whose folder moved stay published with it:
    // they follow the folder that defines the chart's name now.
    if (auto moved = layout.path_of_name.find(pub.name); moved != layout.path_of_name.end()) {
      publish::Publication relocated = pub;
      relocated.chart_path = moved->second;
      {
        std::lock_guard lk(mu);
        record_publication(state, relocated);
      }
      try {
        journal_claim(state.spec.name, '+', relocated);
      } catch (const Error&) {
        // The state file written at the end of the sync records the move too.
      }
      continue;
    }
    ChartOutcome outcome{pub.chart_path, pub.name, pub.version, pub.digest, ChartOutcome::Status::removed, ""};
    try {
      remove_publication(state, pub);
      state.chart_keys.erase(pub.chart_path);
    } catch (const Error& e) {
      outcome.status = ChartOutcome::Status::failed;
      outcome.reason = std::string("removing: ") + e.what();
    }
    run.report.charts.push_back(std::move(outcome));
  }
}

}  // namespace cmop::sync
