#include "sync/resolve.hpp"

#include "cmop/chart/semver.hpp"
#include "cmop/util/hash.hpp"
#include "sync/sync_run.hpp"

namespace cmop::sync {
namespace {

// Symlinks may pull content from outside the chart folder, so a chart holding any
// is keyed on the whole commit's root tree.
std::string chart_key(const git::Tree& tree, const std::string& chart_path, const deps::Resolution& resolution) {
  const std::string dir = chart_path == "." ? "" : chart_path;
  std::string material = "tree:" + tree.id(dir) + "\n";
  if (tree.holds_symlink(dir)) material += "root:" + tree.id("") + "\n";
  for (auto& d : resolution.resolved) material += "dep:" + d.name + "@" + d.version + ":" + d.digest + "\n";
  return util::sha256_hex(material);
}

}  // namespace

deps::RepoIndex OwnCharts::index() {
  const std::vector<publish::Publication> all = all_published_();
  deps::RepoIndex index;
  for (auto& p : all) {
    if (p.digest.empty()) continue;  // claimed, upload not known to have landed
    // Revisions of one version (1.0.0+abc, 1.0.0+def) rank equal in SemVer: the
    // one packaged in this sync is the current one, so the others step aside.
    if (!fresh_.count({p.name, p.version}) && superseded_by_fresh(p.name, p.version)) continue;
    deps::IndexEntry e;
    e.metadata.name = p.name;
    e.metadata.version = p.version;
    e.digest = p.digest;
    e.urls = {p.name + "-" + p.version + ".tgz"};
    index.add(std::move(e));
  }
  return index;
}

std::string OwnCharts::archive(const std::string& name, const std::string& version) {
  if (auto it = fresh_.find({name, version}); it != fresh_.end()) return it->second;
  return publisher_.fetch(name, version);
}

void OwnCharts::remember(const package::Package& pkg) {
  if (wanted_.count(pkg.metadata.name)) fresh_[{pkg.metadata.name, pkg.metadata.version}] = pkg.bytes;
}

bool OwnCharts::superseded_by_fresh(const std::string& name, const std::string& version) const {
  auto v = chart::Version::parse(version);
  if (!v) return false;
  for (auto it = fresh_.lower_bound({name, ""}); it != fresh_.end() && it->first.first == name; ++it)
    if (auto f = chart::Version::parse(it->first.second); f && chart::compare(*f, *v) == 0) return true;
  return false;
}

ResolvedChart resolve_chart(deps::Resolver& resolver, SyncRun& run, const std::string& chart_path,
                            const chart::Metadata& md) {
  const std::string chart_dir = chart_path == "." ? "" : chart_path;
  ResolvedChart out;
  out.resolution =
      resolver.resolve(md, run.tree(), chart_dir, run.repositories, &run.dependency_indexes, run.own_charts);
  out.key = chart_key(run.tree(), chart_path, out.resolution);
  return out;
}

}  // namespace cmop::sync
