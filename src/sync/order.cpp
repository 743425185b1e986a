#include "sync/order.hpp"

#include <algorithm>

namespace cmop::sync {

SelfServed self_served(const ChartLayout& layout, const std::vector<deps::NamedRepository>& repositories) {
  SelfServed out;
  for (const auto& [path, md] : layout.metadata_by_path) out[path] = deps::Resolver::self_served(md, repositories);
  return out;
}

std::set<std::string> read_from_self(const SelfServed& self_served) {
  std::set<std::string> names;
  for (const auto& [path, read] : self_served) names.insert(read.begin(), read.end());
  return names;
}

std::vector<std::string> publishing_order(const ChartLayout& layout, const SelfServed& self_served) {
  const std::vector<std::string>& chart_paths = layout.chart_paths;
  std::map<std::string, std::vector<std::string>> paths_of_name;  // every folder defining a name
  for (const auto& [path, md] : layout.metadata_by_path) paths_of_name[md.name].push_back(path);
  std::map<std::string, std::set<std::string>> needs;  // path -> paths it must follow
  for (const auto& [path, names] : self_served)
    for (const auto& dep : names)
      if (auto it = paths_of_name.find(dep); it != paths_of_name.end())
        for (const auto& other : it->second)
          if (other != path) needs[path].insert(other);
  if (needs.empty()) return chart_paths;

  std::vector<std::string> order;
  std::set<std::string> placed;
  while (order.size() < chart_paths.size()) {
    bool progressed = false;
    for (const auto& path : chart_paths) {
      if (placed.count(path)) continue;
      const auto& before = needs[path];
      if (std::all_of(before.begin(), before.end(), [&](const std::string& p) { return placed.count(p) > 0; })) {
        order.push_back(path);
        placed.insert(path);
        progressed = true;
      }
    }
    if (!progressed) {  // a cycle: the rest in discovery order
      for (const auto& path : chart_paths)
        if (placed.insert(path).second) order.push_back(path);
    }
  }
  return order;
}

}  // namespace cmop::sync
