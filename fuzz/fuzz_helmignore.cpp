// .helmignore rules: parse arbitrary text, then match a fixed set of paths.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cmop/chart/helmignore.hpp"
#include "cmop/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto rules = cmop::chart::IgnoreRules::parse(text);
    static const char* paths[] = {"Chart.yaml", "templates/.hidden", "templates/a.yaml", "a/b/c.txt",
                                  "charts/sub/values.yaml", ".git", "x.swp", "dir/"};
    for (auto* p : paths) {
      (void)rules.ignored(p, false);
      (void)rules.ignored(p, true);
    }
    // The text itself as a path exercises the matcher with hostile subjects.
    if (size < 256) (void)rules.ignored(text, false);
  } catch (const cmop::Error&) {
  }
  return 0;
}
