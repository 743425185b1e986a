#pragma once
// Helpers shared by the sync suites.
#include <catch2/catch.hpp>

#include <string>

#include "cmop/sync/workspace.hpp"

namespace cmop::test {

// The outcome of the chart folder `path` in a sync report; fails the test when absent.
inline const sync::ChartOutcome& outcome(const sync::SyncReport& r, const std::string& path) {
  for (auto& c : r.charts)
    if (c.path == path) return c;
  FAIL("no outcome for " << path);
  throw;
}

}  // namespace cmop::test
