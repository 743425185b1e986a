#pragma once
// Chart.lock (requirements.lock for apiVersion v1 charts): read from the chart's
// tree, its digest checked against the dependencies as Helm computes it, and
// written as Helm writes it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cmop/chart/metadata.hpp"
#include "cmop/util/file_tree.hpp"

namespace cmop::deps::detail {

// Helm's loader refuses any chart file over 5 MiB (package::Limits::max_file_bytes,
// not included here to keep deps independent of the packager). Chart.lock and a
// file:// dependency's files are read before packaging, so the limit is applied
// here too, by size, before a byte is read: a huge (or sparse placeholder) file
// must never be pulled into memory.
inline constexpr std::uint64_t kMaxChartFileBytes = 5ull << 20;

struct LockFile {
  std::string digest;
  std::vector<chart::Dependency> dependencies;
  std::string text;
};

// The chart's lock, nullopt when it has none. Throws Error(invalid_chart) when
// it is not one.
std::optional<LockFile> read_lock(const util::FileTree& tree, const std::string& chart_dir,
                                  const std::string& api_version);

// Whether `lock` still describes `req` (the dependencies with @name / alias:name
// replaced by their URLs): its digest matches them and it names the same charts.
bool lock_in_sync(const LockFile& lock, const chart::Metadata& md, const std::vector<chart::Dependency>& req);

// A new Chart.lock for `req` resolved as `locked`.
std::string lock_yaml(const std::vector<chart::Dependency>& req, const std::vector<chart::Dependency>& locked);

}  // namespace cmop::deps::detail
