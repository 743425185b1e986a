#include "sync/discover.hpp"

#include "cmop/chart/discovery.hpp"
#include "cmop/chart/folder_metadata.hpp"
#include "cmop/package/packager.hpp"

namespace cmop::sync {

ChartLayout::ChartLayout(const util::FileTree& tree, const std::string& path)
    : chart_paths(chart::discover_charts(tree, path)), present_(chart_paths.begin(), chart_paths.end()) {
  const std::uint64_t max_file = package::Limits{}.max_file_bytes;
  for (const auto& chart_path : chart_paths) {
    try {
      // Checked by size before reading: a huge Chart.yaml is never read whole.
      auto md = chart::read_folder_metadata(tree, chart_path, max_file);
      path_of_name.emplace(md.name, chart_path);
      metadata_by_path.emplace(chart_path, std::move(md));
    } catch (...) {
      error_by_path.emplace(chart_path, std::current_exception());
    }
  }
}

const chart::Metadata& ChartLayout::metadata(const std::string& path) const {
  if (auto it = error_by_path.find(path); it != error_by_path.end()) std::rethrow_exception(it->second);
  return metadata_by_path.at(path);
}

bool ChartLayout::defines(const std::string& path, const std::string& name, const std::string& version) const {
  auto it = metadata_by_path.find(path);
  return it != metadata_by_path.end() && it->second.name == name && it->second.version == version;
}

}  // namespace cmop::sync
