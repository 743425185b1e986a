#pragma once
// Rebuilding a published chart from its git commit and comparing the bytes
// (`cmop verify`): cmop's packages are reproducible, so the same commit must give
// the same archive.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cmop/deps/resolver.hpp"
#include "cmop/package/packager.hpp"

namespace cmop::sign {

// Where two chart archives first differ.
struct Difference {
  std::string member;  // archive member path; "" = the archive as a whole
  std::string what;    // "bytes", "mode 0644, rebuilt 0755", "header (mtime)", "only in the chart", ...
};

// nullopt when the two .tgz are byte-identical. Otherwise the first member (in
// archive order) whose header or content differs, a member only one of them has,
// or, when every tar entry agrees, the gzip framing. Throws Error(invalid_chart)
// when `chart` is not a gzipped tar.
std::optional<Difference> compare_archives(std::string_view chart, std::string_view rebuilt);

struct RebuildInput {
  std::string git;     // URL (local paths accepted)
  std::string commit;  // commit (or ref) to build from
  std::string path;    // folder to look for charts in, "" = the whole repository
  std::vector<deps::NamedRepository> dependencies;
  std::string name;     // the chart to rebuild (its Chart.yaml name)
  std::string version;  // "" = whichever version the commit has
};

// Syncs the commit into a throw-away state dir exactly as `cmop serve` would (the
// same discovery, dependency resolution and packaging), keeping the packages
// instead of publishing them, and returns the one named `name`. Throws Error
// (git, dependency, invalid_chart, not_found when the commit has no such chart).
package::Package rebuild(const RebuildInput& input);

// The Chart.yaml name and version inside a chart archive.
std::pair<std::string, std::string> archive_chart(std::string_view tgz);

}  // namespace cmop::sign
