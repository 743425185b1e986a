// Finding the charts of a repository (a commit's tree or a folder).
#include "cmop/chart/discovery.hpp"

#include <algorithm>

#include "cmop/error.hpp"

namespace cmop::chart {

namespace {

std::string join(const std::string& rel, const std::string& name) { return rel == "." ? name : rel + "/" + name; }

}  // namespace

std::vector<std::string> discover_charts(const util::FileTree& tree, const std::string& subpath) {
  using Kind = util::FileTree::Kind;
  using Status = util::FileTree::Resolved::Status;
  // The subpath is untrusted configuration: it must name a directory inside the
  // root, lexically and after resolving symlinks.
  std::string clean;
  if (!util::tree_clean(subpath, clean)) throw Error(Errc::forbidden, subpath, "path escapes the repository root");
  if (tree.kind(clean) == Kind::missing) throw Error(Errc::not_found, subpath, "path does not exist in the repository");
  auto start = tree.resolve(clean);
  if (start.status == Status::escapes) throw Error(Errc::forbidden, subpath, "path resolves outside the repository root");
  if (start.status == Status::broken) throw Error(Errc::not_found, subpath, "path cannot be resolved: " + start.why);
  if (start.kind != Kind::directory) throw Error(Errc::not_found, subpath, "path is not a directory");

  std::vector<std::string> charts;
  struct Pending {
    std::string real;  // path in the tree
    std::string rel;   // as reported: under subpath as written (cleaned)
  };
  std::vector<Pending> stack{{start.path, clean.empty() ? "." : clean}};
  while (!stack.empty()) {
    Pending cur = std::move(stack.back());
    stack.pop_back();
    // A symlinked Chart.yaml still makes a chart folder, so that the chart is
    // reported: reading it later refuses a link that leaves the repository.
    auto chart_yaml = tree.kind(util::tree_join(cur.real, "Chart.yaml"));
    bool is_chart = chart_yaml == Kind::file || chart_yaml == Kind::symlink;
    if (is_chart) {
      // Everything below a chart's folder is that chart's: `helm package` packs a
      // Chart.yaml in templates/, files/ or any other subfolder as a plain file
      // (a test fixture, an example), and charts/ holds its vendored subcharts.
      // So a nested Chart.yaml is never a chart of its own.
      charts.push_back(cur.rel);
      continue;
    }
    // No depth cut-off: the walk is iterative, and a cut-off would skip deep
    // charts silently, without a report line saying why.
    for (const auto& name : tree.list(cur.real)) {
      // Symlinked directories are never followed: they could leave the repository
      // or loop.
      const std::string child = util::tree_join(cur.real, name);
      if (tree.kind(child) != Kind::directory) continue;
      if (name == ".git") continue;
      stack.push_back({child, join(cur.rel, name)});
    }
  }
  std::sort(charts.begin(), charts.end());
  return charts;
}

std::vector<std::string> discover_charts(const std::filesystem::path& root, const std::string& subpath) {
  util::DirectoryTree tree(root);
  return discover_charts(static_cast<const util::FileTree&>(tree), subpath);
}

}  // namespace cmop::chart
