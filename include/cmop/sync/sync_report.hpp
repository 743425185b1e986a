#pragma once
// What one sync of a repo did, chart by chart.
#include <cstddef>
#include <string>
#include <vector>

namespace cmop::sync {

struct ChartOutcome {
  enum class Status { published, unchanged, failed, removed };
  std::string path;  // chart folder in the repo
  std::string name, version, digest;
  Status status = Status::failed;
  std::string reason;  // for failed
};
std::string to_string(ChartOutcome::Status s);

struct SyncReport {
  std::string repo;
  std::string commit;
  bool fetched_changes = false;
  std::vector<ChartOutcome> charts;
  std::string error;  // repo-level failure (clone, publish target down); charts may still be listed
  double seconds = 0;
  bool ok() const;  // no repo error and no failed chart
  std::size_t count(ChartOutcome::Status s) const;
};

}  // namespace cmop::sync
