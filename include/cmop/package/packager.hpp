#pragma once
// Packaging a chart folder as `helm package` would, but reproducibly.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cmop/chart/metadata.hpp"
#include "cmop/util/file_tree.hpp"

namespace cmop::package {

struct Limits {
  std::uint64_t max_file_bytes = 5ull << 20;     // Helm's loader: a single file
  std::uint64_t max_total_bytes = 100ull << 20;  // Helm's loader: decompressed chart
};

// A dependency fetched for the chart, placed in charts/ of the package. Helm
// unpacks subcharts into charts/<name>/ when it saves, and so do we.
struct SubchartArchive {
  std::string name;     // chart name inside the archive
  std::string version;
  std::string tgz;      // the downloaded .tgz bytes
};

struct SubchartDir {
  std::string path;  // a file:// dependency's folder in the source tree, '/'-separated
};

// Where the chart's files come from: `tree` when set (a git commit during a sync),
// else the folder clone_root on disk. One loader reads both, with the same rules.
struct PackageInput {
  std::filesystem::path clone_root;  // nothing outside it is ever read
  std::string chart_dir;             // relative to the source's root, '/'-separated
  std::vector<SubchartArchive> archives;
  std::vector<SubchartDir> local_subcharts;
  // Chart.lock content to embed (Helm writes it when dependencies were resolved); empty = keep as found.
  std::string lock_yaml;
  // Non-empty: the version written into the package (`helm package --version`).
  std::string version_override;
  // The source tree; null = the folder clone_root. Must outlive the call.
  const util::FileTree* tree = nullptr;
};

struct Package {
  // As Helm's loader reads it back from the package (sanitized; an apiVersion v1
  // chart's dependencies from its requirements.yaml): what indexes and registries carry.
  chart::Metadata metadata;
  std::string filename;  // "<name>-<version>.tgz"
  std::string bytes;     // the .tgz
  std::string digest;    // sha256 hex of bytes
  std::vector<std::string> files;  // archive member names, in archive order
  // RFC 3339 time the content is from (the commit's), for publishers that record
  // one (OCI's org.opencontainers.image.created); "" = unknown. Not in the bytes.
  std::string created;
  // Helm's provenance file for this package (<filename>.prov, clear-signed), which
  // publishers store beside it; "" = unsigned. Set by sign::make_signing_publisher.
  std::string provenance{};
  // Where the content comes from, for publishers that record it (OCI annotations
  // org.opencontainers.image.revision/source): the git URL without credentials,
  // the commit, the chart's folder. "" = unknown. Not in the bytes.
  std::string source_git{}, source_commit{}, source_path{};
};

// Loads the chart like Helm's loader (honouring .helmignore, limits, v1
// requirements.yaml), validates it and writes the archive like chartutil.Save.
// Throws Error(invalid_chart|forbidden|too_large) naming the chart dir and the file
// at fault; a symlink that resolves outside the source is Error(forbidden), a broken
// one Error(invalid_chart) even when .helmignore matches it (as Helm). Sizes are
// checked before a file is read. A declared
// dependency missing from the package, or present in a version outside its
// constraint, is Error(invalid_chart) naming it (Helm's CheckDependencies).
// Archive layout: Chart.yaml (re-serialized), Chart.lock (v2), values.yaml,
// values.schema.json, templates/*, other files (directory-walk order), then each
// subchart as charts/<name>/... sorted by name. `archives` and `local_subcharts`
// supersede a vendored charts/*.tgz of the same chart name; a `.git` directly in
// the source's root is never read. Same input tree => byte-identical bytes and digest.
Package package_chart(const PackageInput& input, const Limits& limits = {});

}  // namespace cmop::package
