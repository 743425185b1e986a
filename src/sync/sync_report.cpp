#include "cmop/sync/sync_report.hpp"

#include <algorithm>

namespace cmop::sync {

std::string to_string(ChartOutcome::Status s) {
  switch (s) {
    case ChartOutcome::Status::published: return "published";
    case ChartOutcome::Status::unchanged: return "unchanged";
    case ChartOutcome::Status::failed: return "failed";
    case ChartOutcome::Status::removed: return "removed";
  }
  return "failed";
}

bool SyncReport::ok() const { return error.empty() && count(ChartOutcome::Status::failed) == 0; }

std::size_t SyncReport::count(ChartOutcome::Status s) const {
  return static_cast<std::size_t>(
      std::count_if(charts.begin(), charts.end(), [s](const ChartOutcome& c) { return c.status == s; }));
}

}  // namespace cmop::sync
