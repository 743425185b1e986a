#pragma once
// Private to src/git: fetching from a local repository (file:// or a path) by
// copying its objects, instead of through libgit2's local transport.
//
// Why: libgit2's local transport builds the pack it hands to the mirror with
// git_packbuilder, which searches deltas for every object (git_delta_create_from_index
// took 88% of a cold sync's CPU on a 117-chart monorepo, 10x git daemon, which
// reuses the deltas already on disk). Both repositories are on this machine, so
// there is nothing to save by compressing against each other: the objects are
// copied as they are, each deflated on its own, into one pack that libgit2's
// indexer writes into the mirror.
//
// The copy runs between connecting and downloading: libgit2 then finds every
// advertised branch and tag tip already in the mirror and downloads nothing, and
// updates and prunes the refs exactly as before (so refs, the default branch and
// errors stay libgit2's). Anything the copy did not bring (a ref that moved since)
// the transport still fetches. The mirror owns its copies: it does not depend on
// the source staying put.
#include <git2.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace cmop::git::detail {

// The directory a local remote's URL names, as libgit2's local transport reads it
// (file:///p and file://localhost/p percent-decoded, or a path as given); nullopt
// for any other URL or a file:// URL it would not read either.
std::optional<std::filesystem::path> local_repository_path(std::string_view url);

// How much history a copy brings, as Repository's fetch_depth decides for a remote.
enum class LocalDepth {
  tips,         // the first fetch of branches and tags: each tip's commit, tree and blobs
                // (a shallow mirror, as a depth-1 fetch makes it)
  new_commits,  // later fetches: every commit the mirror's refs do not reach yet
  everything,   // a commit id may be asked for: the whole history (a shallow mirror is deepened)
};

struct LocalCopy {
  std::uint64_t objects = 0;  // objects written into the mirror
  std::uint64_t bytes = 0;    // size of the pack they were written as
};

// Copies into `mirror` the objects reachable from the branches and tags of the
// repository at `source` that the mirror lacks, as deep as `depth` says (the
// mirror's own refs and what they reach are taken as present, as a fetch does).
// Commits whose parents the mirror then lacks are recorded in its `shallow` file,
// those whose parents it now has are taken out of it. Returns zero objects without
// touching the mirror when `source` cannot be opened as a repository or a tip
// cannot be read: the transport then reports that as it always did.
// `must_stop` is called every few hundred objects looked at and copied: it
// counts as progress for the caller's stall clock, and returns why the copy must
// end (the sync's deadline passed, say), empty while it may go on.
// Throws Error(git) naming `subject` when writing the copy fails, and
// Error(network) with must_stop's reason when it says stop.
LocalCopy copy_local_objects(git_repository* mirror, const std::filesystem::path& source, LocalDepth depth,
                             const std::string& subject, const std::function<std::string()>& must_stop);

}  // namespace cmop::git::detail
