// Finding the charts of a checked-out repository.
#include "cmop/chart/discovery.hpp"

#include <algorithm>
#include <system_error>

#include "cmop/error.hpp"

namespace fs = std::filesystem;

namespace cmop::chart {
namespace {


bool is_inside(const fs::path& base, const fs::path& p) {
  auto b = base.begin(), pe = p.begin();
  for (; b != base.end(); ++b, ++pe) {
    if (b->empty()) continue;  // a trailing separator on base
    if (pe == p.end() || *pe != *b) return false;
  }
  return true;
}

std::string join(const std::string& rel, const std::string& name) { return rel == "." ? name : rel + "/" + name; }

}  // namespace

std::vector<std::string> discover_charts(const fs::path& root, const std::string& subpath) {
  std::error_code ec;
  fs::path canonical_root = fs::canonical(root, ec);
  if (ec) throw Error(Errc::not_found, root.string(), "repository root does not exist: " + ec.message());

  // The subpath is untrusted configuration: it must name a directory inside root,
  // lexically and after resolving symlinks.
  fs::path sub = fs::path(subpath).lexically_normal();
  std::string rel = sub.generic_string();
  while (!rel.empty() && rel.back() == '/') rel.pop_back();
  if (rel.empty()) rel = ".";
  if (sub.is_absolute() || rel == ".." || rel.rfind("../", 0) == 0)
    throw Error(Errc::forbidden, subpath, "path escapes the repository root");
  fs::path start = canonical_root / fs::path(rel);
  fs::file_status st = fs::symlink_status(start, ec);
  if (ec || !fs::exists(st)) throw Error(Errc::not_found, subpath, "path does not exist in the repository");
  fs::path canonical_start = fs::canonical(start, ec);
  if (ec) throw Error(Errc::not_found, subpath, "path cannot be resolved: " + ec.message());
  if (!is_inside(canonical_root, canonical_start))
    throw Error(Errc::forbidden, subpath, "path resolves outside the repository root");
  if (!fs::is_directory(canonical_start, ec)) throw Error(Errc::not_found, subpath, "path is not a directory");

  std::vector<std::string> charts;
  struct Pending {
    fs::path dir;
    std::string rel;
  };
  std::vector<Pending> stack{{canonical_start, rel}};
  while (!stack.empty()) {
    Pending cur = std::move(stack.back());
    stack.pop_back();
    // A symlinked Chart.yaml still makes a chart folder, so that the chart is
    // reported: reading it later refuses a link that leaves the repository.
    auto chart_yaml = fs::symlink_status(cur.dir / "Chart.yaml", ec);
    bool is_chart = fs::is_regular_file(chart_yaml) || fs::is_symlink(chart_yaml);
    if (is_chart) charts.push_back(cur.rel);
    // No depth cut-off: the walk is iterative, and the checkout already bounds the
    // depth (every path fits PATH_MAX). A cut-off would skip deep charts silently,
    // without a report line saying why.

    fs::directory_iterator it(cur.dir, fs::directory_options::none, ec);
    if (ec) throw Error(Errc::io, cur.rel, "cannot list directory: " + ec.message());
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (ec) throw Error(Errc::io, cur.rel, "cannot list directory: " + ec.message());
      const std::string name = it->path().filename().string();
      // Symlinked directories are never followed: they could leave the repository
      // or loop. A found chart's charts/ holds its vendored subcharts.
      if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
      if (name == ".git") continue;
      if (is_chart && name == "charts") continue;
      stack.push_back({it->path(), join(cur.rel, name)});
    }
    if (ec) throw Error(Errc::io, cur.rel, "cannot list directory: " + ec.message());
  }
  std::sort(charts.begin(), charts.end());
  return charts;
}

}  // namespace cmop::chart
