// Downloaded dependency archives: corrupt gzip/tar, bombs, hostile names.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cmop/error.hpp"
#include "cmop/package/archive.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    auto entries = cmop::package::read_tgz(bytes, 1u << 20, 4u << 20);
    for (auto& e : entries)
      if (!e.name.empty() && (e.name.front() == '/' || e.name.find("..") == 0)) __builtin_trap();
  } catch (const cmop::Error&) {
  }
  return 0;
}
