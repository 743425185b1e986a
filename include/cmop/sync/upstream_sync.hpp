#pragma once
// A sync of a repo that mirrors an upstream chart repository instead of packaging
// a git repo: the upstream's selected versions published byte for byte, each one
// once (a version already mirrored is never downloaded again), nothing removed
// when the upstream drops a version. The Workspace runs it for specs with
// `upstream` set; claims and uploads stay the Workspace's (one ownership rule for
// git repos and mirrors alike).
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "cmop/package/packager.hpp"
#include "cmop/publish/publication.hpp"
#include "cmop/sync/repo_spec.hpp"
#include "cmop/sync/repo_state.hpp"
#include "cmop/sync/sync_report.hpp"
#include "cmop/upstream/upstream_source.hpp"

namespace cmop::sync {

// Throws Error(invalid_argument) naming the field when a mirror's spec also sets
// what only git repos have (git, ref, path, dependencies, a versioning policy
// other than immutable: upstream bytes are never changed), or when
// upstream::validate() refuses it.
void validate_upstream_spec(const RepoSpec& spec);

struct UpstreamPublishing {
  // Claims name+version for the repo and uploads the package, recording it in the
  // repo's state (`chart_path` is what the publication names as its source);
  // sets outcome.status. Throws Error(conflict) when another repo owns it, and
  // what publish::Publisher::publish() throws.
  std::function<void(const package::Package& pkg, const std::string& chart_path, ChartOutcome& outcome)> publish;
  // Removes a publication of the repo from the target and the repo's state (prune).
  // Throws what publish::Publisher::remove() throws.
  std::function<void(const publish::Publication& pub)> remove;
  std::string publisher;  // the target as described in errors
  // The sync ends by then: no fetch is begun after it, every request ends by it.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // Packages downloaded at once while earlier ones are published.
  std::size_t parallel_fetches = 4;
};

// Lists the upstream and publishes what is new, appending an outcome per selected
// version to report.charts: unchanged (already mirrored, same digest), published,
// or failed with the reason (digest mismatch, not a chart, owned by another repo,
// upstream content changed under a mirrored version). Failures of the upstream or
// the publish target as a whole, and the deadline, end it with report.error set;
// versions not begun are reported as not attempted. With spec.upstream.prune, a
// sync that listed the upstream and ended without a repo-level error then removes
// the versions it published that the upstream no longer offers.
void sync_from_upstream(const RepoState& state, upstream::UpstreamSource& source, SyncReport& report,
                        const UpstreamPublishing& publishing);

}  // namespace cmop::sync
