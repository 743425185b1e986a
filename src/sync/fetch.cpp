#include "sync/fetch.hpp"

#include "sync/sync_run.hpp"

namespace cmop::sync {

MirrorPool::Checkout fetch(MirrorPool& mirrors, const WorkspaceOptions& options, SyncRun& run,
                           std::chrono::steady_clock::time_point requested_at) {
  const RepoSpec& spec = run.state.spec;
  git::SyncOptions opts{spec.git, spec.ref, spec.credentials, options.allow_local_git, options.git_ca_file};
  opts.ssh_known_hosts = options.ssh_known_hosts;
  opts.stall_timeout = options.git_stall_timeout;
  opts.deadline = run.deadline;
  MirrorPool::Checkout checkout = mirrors.checkout(run.report.repo, spec, opts, requested_at);
  run.report.commit = checkout.commit;
  run.report.fetched_changes = checkout.commit != run.state.last_commit;
  return checkout;
}

}  // namespace cmop::sync
