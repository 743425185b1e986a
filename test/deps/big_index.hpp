#pragma once
// Big index.yaml documents and the process's memory, for the memory tests of test_deps.
#include <cstddef>
#include <fstream>
#include <string>

namespace cmop::test {

// A realistic index of about `mib` MiB: many charts, many versions, each entry
// with the fields public indexes carry. `salt` makes documents of the same size
// differ (chart names <salt>chart<N>).
inline std::string big_index(std::size_t mib, const std::string& salt = "") {
  std::string y = "apiVersion: v1\nentries:\n";
  for (int chart = 0; y.size() < (mib << 20); ++chart) {
    const std::string name = salt + "chart" + std::to_string(chart);
    y += "  " + name + ":\n";
    for (int v = 0; v < 50; ++v) {
      const std::string ver = "1." + std::to_string(v) + ".0";
      y += "  - apiVersion: v2\n    name: " + name + "\n    version: " + ver +
           "\n    appVersion: \"" + ver + "\"\n    description: A chart with a description of some length, as real"
           " indexes have, describing what it deploys and why\n    home: https://example.com/chart\n"
           "    keywords: [web, app, example]\n    maintainers:\n    - name: Jane Doe\n      email: jane@example.com\n"
           "    created: \"2024-01-01T00:00:00.000000000Z\"\n    digest: " + std::string(64, 'a') +
           "\n    urls:\n    - https://example.com/charts/" + name + "-" + ver + ".tgz\n";
    }
  }
  y += "generated: \"2024-01-01T00:00:00Z\"\n";
  return y;
}

// A line of /proc/self/status in KiB ("VmHWM:" the peak resident set, "VmRSS:" the current one).
inline long status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(field.size()));
  return 0;
}
inline long peak_rss_kib() { return status_kib("VmHWM:"); }
inline long rss_kib() { return status_kib("VmRSS:"); }

}  // namespace cmop::test
