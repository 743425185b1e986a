// index.yaml from an untrusted chart repository.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cmop/deps/repo_index.hpp"
#include "cmop/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto index = cmop::deps::RepoIndex::parse(text, "fuzz/index.yaml");
    (void)index.best_match("common", "^1.0.0");
    (void)index.best_match("common", ">=0.0.0-0");
    auto again = cmop::deps::RepoIndex::parse(index.to_yaml(), "fuzz/roundtrip");
    // parse() keeps a name whose versions were all skipped (as Helm's loader does) and
    // to_yaml() leaves such names out, so only names with versions must survive.
    auto with_versions = [](const cmop::deps::RepoIndex& i) {
      std::size_t n = 0;
      for (const auto& [name, versions] : i.entries) n += versions.empty() ? 0 : 1;
      return n;
    };
    if (with_versions(again) != with_versions(index)) __builtin_trap();
  } catch (const cmop::Error&) {
  }
  return 0;
}
