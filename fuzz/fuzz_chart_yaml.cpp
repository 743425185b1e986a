// Chart.yaml parsing, validation and re-serialization must never crash, hang or
// blow up memory, whatever the bytes; they may only throw cmop::Error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cmop/chart/metadata.hpp"
#include "cmop/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto md = cmop::chart::parse_chart_yaml(text, "fuzz/Chart.yaml");
    cmop::chart::validate(md, "fuzz/Chart.yaml");
    auto again = cmop::chart::parse_chart_yaml(cmop::chart::to_helm_yaml(md), "fuzz/roundtrip");
    if (again.name != md.name || again.version != md.version) __builtin_trap();
  } catch (const cmop::Error&) {
  }
  return 0;
}
