#pragma once
// What a sync does with a chart whose content changed while its `version` did not
// (a repo's `versioning`).
#include <string>

namespace cmop::sync {

enum class Versioning {
  immutable,  // default: the chart is failed with a reason; the published package stays as it is
  revision,   // publish as <version>+<first 12 hex digits of the commit> (SemVer build metadata)
  overwrite,  // replace the published package (ChartMuseum ?force)
};
std::string to_string(Versioning v);
// Error(invalid_argument) for anything but "immutable", "revision", "overwrite".
Versioning parse_versioning(const std::string& text);

}  // namespace cmop::sync
