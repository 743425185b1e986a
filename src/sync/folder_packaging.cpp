// `cmop package`'s core: a sync's per-chart steps (read, resolve, package) over a
// folder on disk instead of a commit.
#include "cmop/sync/folder_packaging.hpp"

#include <map>
#include <set>
#include <utility>

#include "cmop/chart/discovery.hpp"
#include "cmop/chart/folder_metadata.hpp"
#include "cmop/error.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/util/file_tree.hpp"

namespace cmop::sync {

std::vector<FolderChart> package_folder(
    const FolderPackagingOptions& options,
    const std::function<void(const FolderChart&, std::size_t, std::size_t)>& on_chart) {
  if (options.cache_dir.empty()) throw Error(Errc::invalid_argument, "package_folder", "a cache dir is required");
  const util::DirectoryTree tree(options.root);
  std::set<std::string> found;
  const std::vector<std::string> everything{""};
  for (const auto& search : options.search_paths.empty() ? everything : options.search_paths) {
    std::string clean;
    if (!util::tree_clean(search, clean))
      throw Error(Errc::forbidden, search, "is outside " + tree.root().string());
    for (auto& path : chart::discover_charts(tree, clean)) found.insert(std::move(path));
  }
  const std::vector<std::string> paths(found.begin(), found.end());

  const auto started = std::chrono::steady_clock::now();
  const net::DeadlineScope deadline(options.timeout.count() > 0 ? started + options.timeout
                                                                : std::chrono::steady_clock::time_point::max());
  deps::Resolver resolver(options.cache_dir, options.tls, options.dependency_peers, options.registry,
                          options.cache_limits);
  deps::Resolver::Session indexes;  // each index.yaml fetched once for all the charts
  std::map<std::string, std::string> path_of_release;  // "<name>-<version>" -> the folder packaging it
  std::vector<FolderChart> charts;
  for (const auto& path : paths) {
    FolderChart chart;
    chart.path = path;
    try {
      const auto md = chart::read_folder_metadata(tree, path, package::Limits{}.max_file_bytes);
      auto resolution =
          resolver.resolve(md, tree, path == "." ? "" : path, options.dependencies, &indexes, nullptr);
      package::PackageInput in{{}, path, resolution.archives, resolution.local_subcharts, resolution.lock_yaml, {},
                               &tree};
      auto pkg = package::package_chart(in);
      auto [other, fresh] = path_of_release.emplace(pkg.filename, path);
      if (!fresh)
        throw Error(Errc::conflict, pkg.metadata.name + "-" + pkg.metadata.version,
                    "also defined by " + other->second + " (both would be " + pkg.filename + ")");
      chart.package = std::move(pkg);
    } catch (const Error& e) {
      chart.error = e.what();
    } catch (const std::exception& e) {
      chart.error = std::string("internal error: ") + e.what();
    }
    charts.push_back(std::move(chart));
    if (on_chart) on_chart(charts.back(), charts.size(), paths.size());
  }
  resolver.close_idle_connections();
  return charts;
}

}  // namespace cmop::sync
