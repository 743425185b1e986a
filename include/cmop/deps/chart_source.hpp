#pragma once
// A chart repository answered in-process instead of over HTTP: the charts cmop
// itself publishes. A dependency repository whose url is "self" (typically a
// mirror of the URL the charts are served at, see NamedRepository::mirror_of) is
// read through this, so an umbrella chart can depend on a sibling published a
// moment earlier in the same sync, whatever the publish target's index lag.
#include <string>

#include "cmop/deps/repo_index.hpp"

namespace cmop::deps {

// The url of a dependency repository that names cmop's own publish target.
inline constexpr const char* kSelfRepositoryUrl = "self";

class ChartSource {
 public:
  virtual ~ChartSource() = default;
  // What is available now, as an index (entries carry name, version and digest;
  // urls are not used). Throws Error when the source cannot be listed.
  virtual RepoIndex index() = 0;
  // The .tgz bytes of name+version. Throws Error(not_found|network|...).
  virtual std::string archive(const std::string& name, const std::string& version) = 0;
};

}  // namespace cmop::deps
