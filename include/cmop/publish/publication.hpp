#pragma once
// Who published what: one name+version in the chart repo and the git repo (and
// folder) it came from. Each repo's state lists its own; who owns a name+version
// is read from those lists (sync::Workspace), not kept anywhere else.
#include <string>

namespace cmop::publish {

struct Publication {
  std::string repo;     // the git repo (CR) name that owns it
  std::string name;
  std::string version;
  std::string digest;
  std::string chart_path;  // folder in the clone
  // Where the published bytes came from: the commit, and the cmop that packaged
  // them ("" in states written before they were recorded). Default-initialized,
  // so brace-initializing the fields above stays complete.
  std::string commit{};
  std::string cmop_version{};
};

}  // namespace cmop::publish
