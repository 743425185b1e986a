#pragma once
// A chart folder's metadata as Helm's loader sees it before packaging.
#include <cstdint>
#include <string>

#include "cmop/chart/metadata.hpp"
#include "cmop/util/file_tree.hpp"

namespace cmop::chart {

// Chart.yaml of the chart at `chart_path` in `tree` ("." or "" = the root), with
// requirements.yaml's dependencies applied when the folder has one (Helm's loader
// reads it for any apiVersion, so dependency resolution must too). Each file is
// checked by size before it is read (max_file_bytes). Throws what
// parse_chart_yaml, apply_requirements_yaml and util::read_tree_file throw, naming
// "<chart_path>/Chart.yaml" or "<chart_path>/requirements.yaml".
Metadata read_folder_metadata(const util::FileTree& tree, const std::string& chart_path,
                              std::uint64_t max_file_bytes);

}  // namespace cmop::chart
