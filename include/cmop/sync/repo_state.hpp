#pragma once
// Everything a Workspace remembers of one repo (persisted in its state file).
#include <map>
#include <string>
#include <vector>

#include "cmop/publish/publication.hpp"
#include "cmop/sync/repo_spec.hpp"
#include "cmop/sync/sync_report.hpp"

namespace cmop::sync {

struct RepoState {
  RepoSpec spec;
  std::string last_commit;
  std::string last_sync_time;     // RFC 3339 of the last attempt
  std::string last_success_time;  // RFC 3339
  std::string last_error;
  std::vector<ChartOutcome> last_charts;  // outcome of the last sync
  std::vector<publish::Publication> published;
  std::map<std::string, std::string> chart_keys;  // chart path -> content key last published
};

}  // namespace cmop::sync
