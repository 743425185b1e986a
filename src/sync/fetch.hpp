#pragma once
// The sync's fetch step: the repo's commit, from its remote's shared mirror.
#include <chrono>

#include "cmop/sync/mirror_pool.hpp"
#include "cmop/sync/workspace.hpp"

namespace cmop::sync {

struct SyncRun;

// Brings the remote's mirror up to a fetch that began at or after `requested_at`
// (bounded by the sync's deadline) and resolves the spec's ref; records the
// commit, and whether it is new, in the report. Throws what MirrorPool::checkout throws.
MirrorPool::Checkout fetch(MirrorPool& mirrors, const WorkspaceOptions& options, SyncRun& run,
                           std::chrono::steady_clock::time_point requested_at);

}  // namespace cmop::sync
