#pragma once
// The sync's package step: a chart whose content changed packaged under the
// version the repo's `versioning` gives it, and what it may replace.
#include <string>

#include "cmop/chart/metadata.hpp"
#include "cmop/deps/resolver.hpp"
#include "cmop/package/packager.hpp"
#include "cmop/publish/publication.hpp"
#include "cmop/sync/repo_state.hpp"

namespace cmop::sync {

struct SyncRun;

// What the folder published last for its current version: that version itself,
// or under `revision` its newest <version>+<commit>. Null when none.
const publish::Publication* last_published(const RepoState& state, const std::string& chart_path,
                                           const chart::Metadata& md);

// The chart packaged: under `revision`, as its last revision when the bytes are
// the same (a commit that touched only ignored files is no new revision), else as
// <version>+<commit>; otherwise under its own version.
package::Package package_chart(const SyncRun& run, const std::string& chart_path, const chart::Metadata& md,
                               const deps::Resolution& resolution, const publish::Publication* previous);

// Whether the folder already published these very bytes under this version.
bool already_published(const RepoState& state, const std::string& chart_path, const package::Package& pkg);

// Only `overwrite` replaces a published package: Error(conflict) telling to bump
// the version when other bytes are published under the package's version.
void check_version_bumped(const RepoState& state, const package::Package& pkg);

// The package's provenance: the commit's time (read once per sync), the redacted
// remote, the commit, the chart folder.
void stamp_source(package::Package& pkg, SyncRun& run, const std::string& chart_path);

}  // namespace cmop::sync
