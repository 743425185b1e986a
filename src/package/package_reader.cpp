#include "cmop/package/package_reader.hpp"

#include "cmop/chart/metadata.hpp"
#include "cmop/error.hpp"
#include "cmop/package/archive.hpp"
#include "cmop/util/hash.hpp"

namespace cmop::package {

Package read_package(std::string bytes, std::string_view origin, const Limits& limits) {
  const std::string where(origin);
  auto entries = read_tgz(bytes, limits.max_file_bytes, limits.max_total_bytes);
  // Helm's loader takes the first top folder's Chart.yaml and requirements.yaml.
  const TarEntry* chart_yaml = nullptr;
  const TarEntry* requirements = nullptr;
  Package pkg;
  for (const auto& e : entries) {
    pkg.files.push_back(e.name);
    const auto slash = e.name.find('/');
    if (slash == std::string::npos || e.type != '0') continue;
    const std::string_view rest = std::string_view(e.name).substr(slash + 1);
    if (rest == "Chart.yaml" && !chart_yaml) chart_yaml = &e;
    if (rest == "requirements.yaml" && !requirements) requirements = &e;
  }
  if (!chart_yaml) throw Error(Errc::invalid_chart, where, "the package holds no <chart>/Chart.yaml");
  pkg.metadata = chart::parse_chart_yaml(chart_yaml->content, where + ":" + chart_yaml->name);
  if (requirements)
    chart::apply_requirements_yaml(pkg.metadata, requirements->content, where + ":" + requirements->name);
  chart::sanitize(pkg.metadata);
  if (pkg.metadata.name.empty() || pkg.metadata.version.empty())
    throw Error(Errc::invalid_chart, where, "its Chart.yaml lacks a name or a version");
  pkg.filename = pkg.metadata.name + "-" + pkg.metadata.version + ".tgz";
  pkg.digest = util::sha256_hex(bytes);
  pkg.bytes = std::move(bytes);
  return pkg;
}

}  // namespace cmop::package
