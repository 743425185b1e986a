#pragma once
// Packaging the charts of a folder on disk (a working tree, committed or not) the
// way a sync packages a commit: the same discovery, Chart.yaml and requirements.yaml
// reading, dependency resolution and packager, so `cmop package` gives the bytes a
// sync of the same files would publish. Nothing is published and no state is kept
// but the dependency cache.
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cmop/deps/resolver.hpp"
#include "cmop/package/packager.hpp"

namespace cmop::sync {

struct FolderPackagingOptions {
  // Nothing outside it is read (file:// dependencies and symlinks included).
  std::filesystem::path root;
  // Folders under root ('/'-separated, relative) to discover charts in, each as a
  // sync discovers them under its `path`; empty = the whole root. A folder that is
  // itself a chart is that one chart.
  std::vector<std::string> search_paths;
  std::vector<deps::NamedRepository> dependencies;
  net::TlsOptions tls;
  net::ConnectionPolicy dependency_peers;
  std::shared_ptr<oci::RegistryClient> registry;  // oci:// dependencies; null = the resolver's own
  std::filesystem::path cache_dir;                // the dependency cache (required)
  deps::CacheLimits cache_limits;
  // Every request of the run ends by this long after it started (0 = no limit).
  std::chrono::seconds timeout{600};
};

struct FolderChart {
  std::string path;  // the chart's folder, relative to root ("." for root itself)
  std::optional<package::Package> package;  // set when it packaged
  std::string error;                        // why not, otherwise
};

// Discovers the charts (sorted, each found once even when search paths overlap)
// and packages each, calling `on_chart` after each one with its 1-based position
// and the total. A chart that fails is reported with its reason and the others
// still go through; two folders packaging to the same name+version are a
// conflict (the second fails). Throws Error for what stops the whole run: a
// search path that is missing or leaves the root, an unreadable root.
std::vector<FolderChart> package_folder(
    const FolderPackagingOptions& options,
    const std::function<void(const FolderChart&, std::size_t position, std::size_t total)>& on_chart = {});

}  // namespace cmop::sync
