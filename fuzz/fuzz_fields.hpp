#pragma once
// Helpers shared by fuzz targets whose input is several '\n'-separated fields.
#include <string_view>

namespace cmop::fuzz {

// The text up to the next '\n' (or the end), consumed from `rest`.
inline std::string_view next_field(std::string_view& rest) {
  auto nl = rest.find('\n');
  std::string_view field = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  return field;
}

// A broken invariant: crash so the fuzzer keeps the input.
inline void check(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace cmop::fuzz
