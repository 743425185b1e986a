#pragma once
// Reading a sync report in a test: one chart's outcome, and the whole report as
// text for INFO().
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "cmop/sync/workspace.hpp"

namespace cmop::test {

// The outcome of the chart folder `path` in a sync report; fails the test when absent.
inline const sync::ChartOutcome& outcome(const sync::SyncReport& r, const std::string& path) {
  for (auto& c : r.charts)
    if (c.path == path) return c;
  FAIL("no outcome for " << path);
  throw std::logic_error("unreachable");
}

// Give it to one INFO before the checks. (An INFO written inside a loop over the
// charts ends with each iteration and attaches nothing to the checks after it.)
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
