#include "cmop/chart/folder_metadata.hpp"

namespace cmop::chart {

Metadata read_folder_metadata(const util::FileTree& tree, const std::string& chart_path,
                              std::uint64_t max_file_bytes) {
  const std::string dir = chart_path == "." ? "" : chart_path;
  const std::string shown = chart_path.empty() ? "." : chart_path;
  auto md = parse_chart_yaml(
      util::read_tree_file(tree, util::tree_join(dir, "Chart.yaml"), shown + "/Chart.yaml", max_file_bytes),
      shown + "/Chart.yaml");
  const std::string requirements = util::tree_join(dir, "requirements.yaml");
  if (tree.kind(requirements) != util::FileTree::Kind::missing)
    apply_requirements_yaml(
        md, util::read_tree_file(tree, requirements, shown + "/requirements.yaml", max_file_bytes),
        shown + "/requirements.yaml");
  return md;
}

}  // namespace cmop::chart
