// SemVer constraints from Chart.yaml dependencies: "constraint\nversion".
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cmop/chart/semver.hpp"
#include "cmop/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto nl = text.find('\n');
  std::string_view constraint = text.substr(0, nl);
  std::string_view version = nl == std::string_view::npos ? std::string_view("1.2.3") : text.substr(nl + 1);
  try {
    auto c = cmop::chart::Constraint::parse(constraint);
    if (auto v = cmop::chart::Version::parse(version)) (void)c.matches(*v);
  } catch (const cmop::Error&) {
  }
  if (auto strict = cmop::chart::Version::parse_strict(version)) {
    auto lenient = cmop::chart::Version::parse(version);
    if (!lenient || cmop::chart::compare(*strict, *lenient) != 0) __builtin_trap();
  }
  return 0;
}
