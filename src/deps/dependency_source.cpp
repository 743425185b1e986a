#include "deps/dependency_source.hpp"

#include <algorithm>
#include <vector>

#include "cmop/chart/semver.hpp"
#include "cmop/error.hpp"
#include "cmop/package/archive.hpp"

namespace cmop::deps::detail {

namespace {

std::string describe_available(const std::vector<IndexEntry>& versions) {
  std::string out;
  std::size_t shown = 0;
  // Oldest first reads naturally; the index keeps newest first.
  std::vector<std::string> names;
  for (const auto& e : versions)
    if (!e.removed && !e.urls.empty()) names.push_back(e.metadata.version);
  std::reverse(names.begin(), names.end());
  const std::size_t limit = 30;
  std::size_t skip = names.size() > limit ? names.size() - limit : 0;
  for (std::size_t i = skip; i < names.size(); ++i, ++shown) out += (shown ? ", " : "") + names[i];
  if (skip) out = "... " + out;
  return out.empty() ? "none" : out;
}

bool versions_equal(const std::string& a, const std::string& b) {
  if (a == b) return true;
  auto va = chart::Version::parse(a), vb = chart::Version::parse(b);
  return va && vb && chart::compare(*va, *vb) == 0;
}

}  // namespace

IndexEntry choose_entry(const RepoIndex& index, const DependencyRequest& r) {
  const chart::Dependency& d = r.dependency;
  auto versions = index.entries.find(d.name);
  if (versions == index.entries.end() || versions->second.empty())
    throw Error(Errc::dependency, r.subject, "chart " + d.name + " not found in the repository index");
  if (r.locked_version) {
    const std::string& want = *r.locked_version;
    for (const auto& e : versions->second)
      if (!e.removed && !e.urls.empty() && versions_equal(e.metadata.version, want)) return e;
    throw Error(Errc::dependency, r.subject,
                "version " + want + " locked in Chart.lock is not in the repository; available: " +
                    describe_available(versions->second));
  }
  std::optional<IndexEntry> chosen;
  try {
    chosen = index.best_match(d.name, d.version);
  } catch (const Error& e) {
    throw Error(Errc::dependency, r.subject, "invalid version constraint: " + e.reason());
  }
  if (!chosen)
    throw Error(Errc::dependency, r.subject, "no version matches; available: " + describe_available(versions->second));
  return std::move(*chosen);
}

void check_archive(const std::string& tgz, const std::string& name, const std::string& subject) {
  std::vector<package::TarEntry> entries;
  try {
    entries = package::read_tgz(tgz, 5ull << 20, 100ull << 20);
  } catch (const Error& e) {
    throw Error(Errc::dependency, subject, "downloaded archive is unreadable: " + e.reason());
  }
  for (const auto& e : entries) {
    auto slash = e.name.find('/');
    if (slash != std::string::npos && e.name.substr(slash + 1) == "Chart.yaml") {
      const std::string top = e.name.substr(0, slash);
      if (top != name)
        throw Error(Errc::dependency, subject, "downloaded archive holds chart '" + top + "', not '" + name + "'");
      return;
    }
  }
  throw Error(Errc::dependency, subject, "downloaded archive has no Chart.yaml");
}

}  // namespace cmop::deps::detail
