#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "cmop/util/file_tree.hpp"

namespace cmop::chart {

// Every directory under subpath of `tree` holding a Chart.yaml (a file, or a
// symlink: reading it later refuses one that leaves the tree), '/'-separated,
// sorted. Skips .git and does not descend into a found chart at all: its charts/
// holds its vendored subcharts, and a Chart.yaml anywhere else below it is one of
// its files, as `helm package` sees it. Symlinked directories are not
// followed. Throws Error(not_found) if subpath is missing and Error(forbidden) if
// subpath escapes the root (lexically or through a symlink). A chart at subpath
// itself is reported as subpath, or "." when subpath is empty.
std::vector<std::string> discover_charts(const util::FileTree& tree, const std::string& subpath = "");

// The same over a folder on disk.
std::vector<std::string> discover_charts(const std::filesystem::path& root, const std::string& subpath = "");

}  // namespace cmop::chart
