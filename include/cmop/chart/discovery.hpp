#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace cmop::chart {

// Every directory under root/subpath holding a Chart.yaml, relative to root,
// '/'-separated, sorted. Skips .git and does not descend into a found chart's
// charts/ directory (vendored subcharts belong to their parent). Symlinked
// directories are not followed. Throws Error(not_found) if subpath is missing and
// Error(forbidden) if subpath escapes root (lexically or through a symlink).
// A chart at root/subpath itself is reported as subpath, or "." when subpath is empty.
// Descends at most 64 directory levels.
std::vector<std::string> discover_charts(const std::filesystem::path& root, const std::string& subpath = "");

}  // namespace cmop::chart
