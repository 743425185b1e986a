#pragma once
// One-shot commands for CI jobs and laptops, over the core without a server, a
// state dir or Kubernetes (docs/ci.md):
//   cmop package [DIR...] [-d OUT]                       package charts as a sync would
//   cmop publish --once --git URL|PATH ... TARGET        one sync of a repo into a target
namespace CLI {
class App;
}

namespace cmop::oneshot {

// Exit codes of both commands.
enum ExitCode : int {
  ok = 0,            // every chart packaged / published (or already there)
  chart_failed = 1,  // some chart was refused or failed: each is listed with its reason
  run_failed = 2,    // the run as a whole failed: bad flags, the repo, the folder or the target
};

void add_package_command(CLI::App& app);
void add_publish_command(CLI::App& app);

}  // namespace cmop::oneshot
