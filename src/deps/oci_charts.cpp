// Helm's OCI dependency resolution (pkg/downloader/manager.go, pkg/registry):
// strict SemVer tags, the chart config media type, the chart layer.
#include "deps/oci_charts.hpp"

#include <algorithm>

#include "cmop/chart/semver.hpp"
#include "cmop/error.hpp"
#include "cmop/util/hash.hpp"
#include "deps/dependency_source.hpp"

namespace cmop::deps::detail {

// The repository of one chart in a registry namespace, and how messages name it.
struct OciChartPuller::Target {
  oci::Endpoint endpoint;
  std::string repository;  // <path>/<name>
  std::string shown;       // oci://host/<path>/<name>
};

OciChartPuller::Pulled OciChartPuller::pull(OciSession& session, const Remote& remote, const chart::Dependency& d,
                                            const std::optional<std::string>& locked_version,
                                            const std::string& subject) {
  const oci::Reference ref = oci::Reference::parse(remote.url);
  const Target t{{ref.host, {remote.username, remote.password}},
                 ref.repository(d.name),
                 "oci://" + ref.host + "/" + ref.repository(d.name)};
  Pulled out;
  try {
    out.version = locked_version ? *locked_version : choose_version(session, t, d, subject);
    out.tgz = chart_layer(t, out.version, d.name, subject);
  } catch (const Error& e) {
    if (e.code() == Errc::dependency) throw;
    throw Error(Errc::dependency, subject, t.shown + ": " + e.reason());
  }
  return out;
}

// The highest tag matching d.version; Helm reads tags as strict SemVer: "latest",
// "v2.0.0" or "1.2" are no versions.
std::string OciChartPuller::choose_version(OciSession& session, const Target& t, const chart::Dependency& d,
                                           const std::string& subject) {
  const std::string key = t.endpoint.host + "/" + t.repository;
  auto cached = session.tags.find(key);
  if (cached == session.tags.end()) cached = session.tags.emplace(key, registry_->tags(t.endpoint, t.repository)).first;
  std::optional<chart::Constraint> constraint;
  try {
    constraint = chart::Constraint::parse(d.version.empty() ? "*" : d.version);
  } catch (const Error& e) {
    throw Error(Errc::dependency, subject, "invalid version constraint: " + e.reason());
  }
  std::optional<chart::Version> best;
  std::string chosen;
  std::vector<std::string> available;
  for (const auto& tag : cached->second) {
    const std::string v = oci::version_for_tag(tag);
    auto parsed = chart::Version::parse_strict(v);
    if (!parsed) continue;
    available.push_back(v);
    if (constraint->matches(*parsed) && (!best || chart::compare(*parsed, *best) > 0)) {
      best = parsed;
      chosen = v;
    }
  }
  if (!best) {
    std::string list;
    for (std::size_t i = available.size() > 30 ? available.size() - 30 : 0; i < available.size(); ++i)
      list += (list.empty() ? "" : ", ") + available[i];
    throw Error(Errc::dependency, subject, "no version matches; available: " + (list.empty() ? "none" : list));
  }
  return chosen;
}

// The chart archive tagged `version`: from the cache by the layer's digest, else
// from the registry (kept only when it reads as that chart).
std::string OciChartPuller::chart_layer(const Target& t, const std::string& version, const std::string& chart,
                                        const std::string& subject) {
  const std::string tag = oci::tag_for_version(version);
  if (!oci::valid_tag(tag)) throw Error(Errc::dependency, subject, "version " + version + " cannot be an OCI tag");
  auto digest = registry_->resolve(t.endpoint, t.repository, tag);
  if (!digest) throw Error(Errc::dependency, subject, t.shown + ": version " + version + " (tag " + tag + ") not found");
  oci::Manifest manifest = cached_manifest(t, *digest, subject);
  if (manifest.config.media_type != oci::kHelmConfigMediaType)
    throw Error(Errc::dependency, subject,
                t.shown + ":" + tag + " is not a Helm chart (config media type " + manifest.config.media_type + ")");
  auto layer = std::find_if(manifest.layers.begin(), manifest.layers.end(), [](const oci::Descriptor& l) {
    return l.media_type == oci::kHelmChartLayerMediaType;
  });
  if (layer == manifest.layers.end()) throw Error(Errc::dependency, subject, t.shown + ":" + tag + " has no chart layer");
  if (layer->size > kMaxArchiveBytes)
    throw Error(Errc::dependency, subject, t.shown + ":" + tag + ": the chart layer is larger than 100 MiB");
  const std::string hex = layer->digest.substr(7);
  const auto cache_file = cache_.file("charts", hex + ".tgz");
  if (auto cached = cache_.read_verified(cache_file, hex)) return std::move(*cached);
  std::string tgz = registry_->blob(t.endpoint, t.repository, layer->digest, kMaxArchiveBytes);
  check_archive(tgz, chart, subject);
  cache_.store(cache_file, {}, tgz);
  return tgz;
}

// Manifests are immutable by digest, so they are cached on disk by it.
oci::Manifest OciChartPuller::cached_manifest(const Target& t, const std::string& digest, const std::string& subject) {
  const auto file = cache_.file("oci-manifests", digest.substr(7) + ".json");
  if (starts_with(digest, "sha256:"))
    if (auto body = cache_.read_verified(file, digest.substr(7)))
      return oci::parse_manifest(std::move(*body), digest, subject);
  auto m = registry_->manifest(t.endpoint, t.repository, digest);  // parsed and checked against its digest
  if (!m) throw Error(Errc::dependency, subject, "manifest " + digest + " vanished from the registry");
  cache_.store(file, {}, m->body);
  return *m;
}

}  // namespace cmop::deps::detail
