#include "sync/package.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

#include "cmop/error.hpp"
#include "cmop/util/redact.hpp"
#include "sync/sync_run.hpp"

namespace cmop::sync {
namespace {

// `version` with the commit as SemVer build metadata (Flux's Revision strategy).
std::string revision_version(const std::string& version, const std::string& commit) {
  return version + (version.find('+') == std::string::npos ? "+" : ".") + commit.substr(0, 12);
}

// Whether `published` is a revision of `version`: "<version>+<12 hex>" or "<version>.<12 hex>" after a '+'.
bool is_revision_of(const std::string& published, const std::string& version) {
  if (published.size() != version.size() + 13 || published.compare(0, version.size(), version) != 0) return false;
  const char sep = published[version.size()];
  if (sep != (version.find('+') == std::string::npos ? '+' : '.')) return false;
  return std::all_of(published.begin() + static_cast<std::ptrdiff_t>(version.size()) + 1, published.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(static_cast<unsigned char>(c)); });
}

const publish::Publication* same_version(const RepoState& state, const package::Package& pkg) {
  auto it = std::find_if(state.published.begin(), state.published.end(), [&](auto& p) {
    return p.name == pkg.metadata.name && p.version == pkg.metadata.version;
  });
  return it == state.published.end() ? nullptr : &*it;
}

}  // namespace

const publish::Publication* last_published(const RepoState& state, const std::string& chart_path,
                                           const chart::Metadata& md) {
  const bool revisions = state.spec.versioning == Versioning::revision;
  auto previous = std::find_if(state.published.rbegin(), state.published.rend(), [&](auto& p) {
    return p.chart_path == chart_path && p.name == md.name &&
           (revisions ? is_revision_of(p.version, md.version) : p.version == md.version);
  });
  return previous == state.published.rend() ? nullptr : &*previous;
}

package::Package package_chart(const SyncRun& run, const std::string& chart_path, const chart::Metadata& md,
                               const deps::Resolution& resolution, const publish::Publication* previous) {
  package::PackageInput in{{}, chart_path, resolution.archives, resolution.local_subcharts,
                           resolution.lock_yaml, {}, &run.tree()};
  if (run.state.spec.versioning != Versioning::revision) return package::package_chart(in);
  if (previous) {
    in.version_override = previous->version;
    auto again = package::package_chart(in);
    if (again.digest == previous->digest) return again;
  }
  in.version_override = revision_version(md.version, run.report.commit);
  return package::package_chart(in);
}

bool already_published(const RepoState& state, const std::string& chart_path, const package::Package& pkg) {
  const publish::Publication* same = same_version(state, pkg);
  return same && same->digest == pkg.digest && same->chart_path == chart_path;
}

void check_version_bumped(const RepoState& state, const package::Package& pkg) {
  // (Under `revision` a conflict is the same commit resolving other dependency
  // versions than before.)
  const publish::Publication* same = same_version(state, pkg);
  if (state.spec.versioning != Versioning::overwrite && same && !same->digest.empty() && same->digest != pkg.digest)
    throw Error(Errc::conflict, pkg.metadata.name + "-" + pkg.metadata.version,
                "content changed but version " + pkg.metadata.version + " was not bumped: it is published with digest " +
                    same->digest +
                    " and published versions are immutable; bump `version` in Chart.yaml (or set the "
                    "repo's versioning to revision or overwrite)");
}

void stamp_source(package::Package& pkg, SyncRun& run, const std::string& chart_path) {
  if (!run.commit_time) run.commit_time = run.tree().commit_time();
  pkg.created = *run.commit_time;
  pkg.source_git = util::redact_url(run.state.spec.git);
  pkg.source_commit = run.report.commit;
  pkg.source_path = chart_path;
}

}  // namespace cmop::sync
