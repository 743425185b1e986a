#pragma once
// A chart package someone else made (an upstream chart repository's .tgz), read
// as Helm's loader reads it back: what `helm repo index` writes for it.
#include <string>
#include <string_view>

#include "cmop/package/packager.hpp"

namespace cmop::package {

// The package's metadata (its top Chart.yaml, a requirements.yaml laid over it,
// sanitized as Helm's Validate does), filename "<name>-<version>.tgz", the bytes
// untouched and their sha256. Reading is bounded by `limits` (a gzip bomb is
// Error(too_large)). Throws Error(invalid_chart) naming `origin` when the bytes are
// no chart package or its Chart.yaml lacks a name or version.
Package read_package(std::string bytes, std::string_view origin, const Limits& limits = {});

}  // namespace cmop::package
