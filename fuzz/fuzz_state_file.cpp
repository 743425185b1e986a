// Persisted repo state read back after a crash or by hand-edit.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cmop/error.hpp"
#include "cmop/sync/serialize.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto state = cmop::sync::from_state_file(text, "fuzz/state.json");
    auto again = cmop::sync::from_state_file(cmop::sync::to_state_file(state), "fuzz/roundtrip");
    if (!(again.spec == state.spec)) __builtin_trap();
  } catch (const cmop::Error&) {
  }
  return 0;
}
