#pragma once
// The sync's discover step: which folders of the commit are charts, and each one's
// Chart.yaml, read and parsed once per sync. The chart's own pass uses it, and so
// does telling a moved or reused folder apart from two folders defining the same
// chart.
#include <exception>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cmop/chart/metadata.hpp"
#include "cmop/util/file_tree.hpp"

namespace cmop::sync {

struct ChartLayout {
  std::vector<std::string> chart_paths;                    // in discovery order
  std::map<std::string, chart::Metadata> metadata_by_path;  // folders whose Chart.yaml parsed
  std::map<std::string, std::exception_ptr> error_by_path;  // and why the others did not
  std::map<std::string, std::string> path_of_name;          // chart name -> first folder defining it

  // The chart folders below `path` in `tree`, each one's Chart.yaml read (with a
  // v1 chart's requirements.yaml). Throws what chart::discover_charts throws; an
  // unreadable Chart.yaml is kept for its chart's pass to report (metadata()).
  ChartLayout(const util::FileTree& tree, const std::string& path);

  // The folder's metadata; rethrows what made its Chart.yaml unreadable.
  const chart::Metadata& metadata(const std::string& path) const;
  // Whether `path` is a chart folder of the commit.
  bool holds(const std::string& path) const { return present_.count(path) > 0; }
  bool defines(const std::string& path, const std::string& name, const std::string& version) const;

 private:
  std::set<std::string> present_;
};

}  // namespace cmop::sync
