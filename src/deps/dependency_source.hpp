#pragma once
// One place a chart's dependencies can come from, behind one interface: the
// resolver asks each source in turn whether a dependency is its own (`matches`)
// and lets the first that says yes `resolve` it. The sources (one file each):
//   vendored_source.cpp        repository "": the chart's charts/ folder, left to the packager
//   file_source.cpp            file://path: a chart folder in the same tree
//   oci_source.cpp             oci://host/path: a registry namespace
//   self_source.cpp            cmop's own publish target (`self`, or a mirror of it)
//   http_repository_source.cpp an http(s) chart repository (or a mirror standing for one)
// A new source (an upstream mirror, say) is a class implementing DependencySource,
// placed in Resolver's list ahead of those it takes dependencies from.
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "cmop/chart/metadata.hpp"
#include "cmop/deps/chart_source.hpp"
#include "cmop/util/file_tree.hpp"
#include "deps/chart_repository.hpp"
#include "deps/dependency_location.hpp"
#include "deps/oci_charts.hpp"

namespace cmop::deps::detail {

inline constexpr std::size_t kMaxArchiveBytes = 100u << 20;  // Helm's loader limit for a whole chart
inline constexpr std::chrono::milliseconds kFetchTimeout{120000};

// What a Resolver::Session holds: what one sync has already read.
struct SessionState {
  IndexSession indexes;
  OciSession oci;
};

// One dependency of one chart, as the resolver hands it to the sources.
struct DependencyRequest {
  const chart::Dependency& dependency;               // its repository as Chart.lock records it
  const std::optional<Remote>& remote;               // where locate() sends it; none for charts/ and file://
  const std::optional<std::string>& locked_version;  // from a Chart.lock still in sync
  const std::string& subject;                        // how errors name it
};

// What one resolve() call shares with its sources.
struct ResolveContext {
  const util::FileTree& tree;  // the sync's commit (or a folder on disk)
  const std::string& chart_dir;  // the chart's folder in `tree`
  SessionState& session;
  ChartSource* own_charts;  // cmop's own publish target; may be null
};

// What a source found for one dependency.
struct SourcedChart {
  enum class Kind {
    vendored,  // already in charts/: nothing to add, nothing resolved
    folder,    // a chart folder of the tree (`folder`), `digest` a key of its files
    archive,   // a chart archive (`tgz`); the resolver checks it and takes its digest
  };
  Kind kind = Kind::archive;
  std::string version;  // the concrete version chosen
  std::string tgz;
  std::string folder;
  std::string digest;
};

class DependencySource {
 public:
  virtual ~DependencySource() = default;
  // Whether this source serves `r` (decided from its repository form alone).
  virtual bool matches(const DependencyRequest& r) const = 0;
  // The chart `r` names. Throws Error(dependency) naming r.subject when nothing
  // matches or it cannot be fetched, Error(forbidden) when it would leave the tree.
  virtual SourcedChart resolve(const DependencyRequest& r, ResolveContext& context) = 0;
};

std::unique_ptr<DependencySource> vendored_source();
std::unique_ptr<DependencySource> file_source();
std::unique_ptr<DependencySource> oci_source(OciChartPuller& puller);
std::unique_ptr<DependencySource> self_source();
std::unique_ptr<DependencySource> http_repository_source(ChartRepositoryClient& repositories);

// Shared by the sources that read an index (a chart repository's, cmop's own):
// the entry `locked_version` names when given, else the best match of the
// dependency's constraint. Throws Error(dependency) listing what is available.
IndexEntry choose_entry(const RepoIndex& index, const DependencyRequest& r);

// The archive must hold the chart it claims to: <name>/Chart.yaml naming it.
// Throws Error(dependency) naming `subject`.
void check_archive(const std::string& tgz, const std::string& name, const std::string& subject);

}  // namespace cmop::deps::detail
