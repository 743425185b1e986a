#pragma once
// A sync report as text for INFO(): give it to one INFO before the checks. (An
// INFO written inside a loop over the charts ends with each iteration and
// attaches nothing to the checks after the loop.)
#include <string>

#include "cmop/sync/workspace.hpp"

namespace cmop::test {

inline std::string describe(const sync::SyncReport& report) {
  std::string out = "repo " + report.repo + " at " + report.commit;
  if (!report.error.empty()) out += ": " + report.error;
  for (const auto& c : report.charts) {
    out += "\n  " + c.path + " " + c.name + "-" + c.version + ": " + sync::to_string(c.status);
    if (!c.reason.empty()) out += ": " + c.reason;
  }
  return out;
}

}  // namespace cmop::test
