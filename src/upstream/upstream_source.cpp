#include "cmop/upstream/upstream_source.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <tuple>

#include "cmop/chart/metadata.hpp"
#include "cmop/chart/semver.hpp"
#include "cmop/deps/repo_index.hpp"
#include "cmop/error.hpp"
#include "cmop/package/package_reader.hpp"
#include "cmop/util/base64.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/redact.hpp"
#include "cmop/util/url.hpp"

namespace cmop::upstream {
namespace {

// The layer `helm push` adds for a .prov beside the chart.
constexpr const char* kProvenanceLayerMediaType = "application/vnd.cncf.helm.chart.provenance.v1.prov";

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string repository_base(const std::string& url) {
  std::string base = url.substr(0, url.find('?'));
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/";
}

// Whether the selection takes `version`: every version without a constraint,
// else a SemVer matching it.
class Selector {
 public:
  explicit Selector(const UpstreamSpec& spec) {
    for (const auto& c : spec.charts)
      by_name_.emplace(c.name, c.versions.empty() ? std::nullopt
                                                  : std::optional<chart::Constraint>(chart::Constraint::parse(c.versions)));
  }
  bool wants_chart(const std::string& name) const { return by_name_.empty() || by_name_.count(name) > 0; }
  bool wants(const std::string& name, const std::string& version) const {
    if (by_name_.empty()) return true;
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return false;
    if (!it->second) return true;
    auto v = chart::Version::parse(version);
    return v && it->second->matches(*v);
  }

 private:
  std::map<std::string, std::optional<chart::Constraint>> by_name_;
};

void sort_offers(std::vector<Offer>& offers) {
  std::sort(offers.begin(), offers.end(), [](const Offer& a, const Offer& b) {
    if (a.name != b.name) return a.name < b.name;
    auto va = chart::Version::parse(a.version), vb = chart::Version::parse(b.version);
    if (va && vb) {
      if (int c = chart::compare(*va, *vb); c != 0) return c < 0;
    }
    return a.version < b.version;
  });
}

// A provenance file is Helm's clear-signed message naming the package's sha256.
void check_provenance(const std::string& prov, const package::Package& pkg, const std::string& where) {
  if (prov.find("sha256:" + pkg.digest) == std::string::npos)
    throw Error(Errc::upstream, where, "its provenance file does not name the package's digest sha256:" + pkg.digest);
}

}  // namespace

struct UpstreamSource::Impl {
  UpstreamSpec spec;
  net::HttpClient http;
  std::shared_ptr<oci::RegistryClient> registry;
  Limits limits;
  Selector selector;
  std::optional<oci::Reference> oci_ref;
  std::atomic<std::uint64_t> http_requests{0};
  std::uint64_t registry_requests_at_start = 0;

  Impl(UpstreamSpec s, net::HttpClient h, std::shared_ptr<oci::RegistryClient> r, Limits l)
      : spec(std::move(s)), http(std::move(h)), registry(std::move(r)), limits(l), selector(spec) {}

  std::string shown() const { return util::redact_url(spec.url); }
  oci::Endpoint endpoint() const { return {oci_ref->host, {spec.username, spec.password}}; }

  net::Response get(const std::string& url, std::uint64_t max_bytes, bool with_auth) {
    net::Request req;
    req.url = url;
    req.timeout = limits.request_timeout;
    req.max_response_body = static_cast<std::size_t>(max_bytes);
    // Credentials go only to the repository's own origin (Helm's default).
    if (with_auth && (!spec.username.empty() || !spec.password.empty()) && util::url_origin(url) == util::url_origin(spec.url))
      req.headers.emplace_back("Authorization", "Basic " + util::base64_encode(spec.username + ":" + spec.password));
    ++http_requests;
    try {
      return http.send(req);
    } catch (const Error& e) {
      throw Error(e.code(), util::redact_url(url), e.reason());
    }
  }

  static Error status_error(const net::Response& res, const std::string& what) {
    std::string why = "HTTP " + std::to_string(res.status);
    Errc code = Errc::upstream;
    if (res.status == 401 || res.status == 403) {
      why += " (credentials missing or refused)";
      code = Errc::unauthorized;
    }
    if (res.status == 404) code = Errc::not_found;
    return Error(code, what, why);
  }

  std::vector<Offer> list_http() {
    const std::string index_url = repository_base(spec.url) + "index.yaml";
    net::Response res = get(index_url, limits.max_index_bytes, true);
    if (res.status != 200) throw status_error(res, util::redact_url(index_url));
    deps::RepoIndex::Limits parse_limits;
    parse_limits.max_bytes = static_cast<std::size_t>(limits.max_index_bytes);
    auto index = deps::RepoIndex::parse(res.body, util::redact_url(index_url), parse_limits);
    std::vector<Offer> offers;
    for (const auto& want : spec.charts)
      if (!index.entries.count(want.name))
        throw Error(Errc::not_found, shown(), "lists no chart \"" + want.name + "\"");
    for (const auto& [name, entries] : index.entries) {
      if (!selector.wants_chart(name)) continue;
      for (const auto& e : entries) {
        if (e.removed || !selector.wants(name, e.metadata.version)) continue;
        Offer o{name, e.metadata.version, lower(e.digest.rfind("sha256:", 0) == 0 ? e.digest.substr(7) : e.digest), ""};
        if (!e.urls.empty()) {
          try {
            o.location = net::resolve_url(repository_base(spec.url), e.urls.front());
          } catch (const Error&) {
            o.location.clear();  // fetch() names the version and why
          }
        }
        offers.push_back(std::move(o));
      }
    }
    return offers;
  }

  std::vector<Offer> list_oci() {
    std::vector<Offer> offers;
    for (const auto& want : spec.charts) {
      const std::string repository = oci_ref->repository(want.name);
      std::vector<std::string> tags = registry->tags(endpoint(), repository);
      for (const auto& tag : tags) {
        const std::string version = oci::version_for_tag(tag);
        // Tags that are no SemVer (latest, sha256-... signatures) are no chart versions.
        if (!chart::Version::parse_strict(version) || !selector.wants(want.name, version)) continue;
        offers.push_back({want.name, version, "", tag});
      }
    }
    return offers;
  }

  package::Package read_checked(std::string bytes, const Offer& offer, const std::string& where) {
    package::Limits read_limits;
    read_limits.max_total_bytes = std::max<std::uint64_t>(read_limits.max_total_bytes, limits.max_package_bytes);
    package::Package pkg;
    try {
      pkg = package::read_package(std::move(bytes), where, read_limits);
      // Helm's loader refuses what Validate refuses (a name with '/', a version that is no SemVer).
      chart::validate(pkg.metadata, where);
    } catch (const Error& e) {
      throw Error(e.code() == Errc::too_large ? Errc::too_large : Errc::upstream, where,
                  "not a readable chart package: " + e.reason());
    }
    if (pkg.metadata.name != offer.name || pkg.metadata.version != offer.version)
      throw Error(Errc::upstream, where,
                  "holds chart " + pkg.metadata.name + " " + pkg.metadata.version + ", the upstream lists it as " +
                      offer.name + " " + offer.version);
    return pkg;
  }

  package::Package fetch_http(const Offer& offer) {
    const std::string subject = offer.name + "-" + offer.version;
    if (offer.digest.empty())
      throw Error(Errc::upstream, subject, shown() + "'s index.yaml gives no digest to check the package against");
    if (offer.location.empty())
      throw Error(Errc::upstream, subject, shown() + "'s index.yaml gives no usable download URL");
    const std::string where = util::redact_url(offer.location);
    net::Response res = get(offer.location, limits.max_package_bytes, true);
    if (res.status != 200) throw status_error(res, where);
    const std::string actual = util::sha256_hex(res.body);
    if (actual != offer.digest)
      throw Error(Errc::upstream, subject,
                  "digest mismatch: index.yaml says sha256 " + offer.digest + ", " + where + " has " + actual);
    package::Package pkg = read_checked(std::move(res.body), offer, where);
    net::Response prov = get(offer.location + ".prov", limits.max_provenance_bytes, true);
    if (prov.status == 200) {
      check_provenance(prov.body, pkg, where + ".prov");
      pkg.provenance = std::move(prov.body);
    } else if (prov.status != 404 && prov.status != 410) {
      throw status_error(prov, where + ".prov");
    }
    return pkg;
  }

  package::Package fetch_oci(const Offer& offer) {
    const std::string repository = oci_ref->repository(offer.name);
    const std::string where = "oci://" + oci_ref->host + "/" + repository + ":" + offer.location;
    // The tag's digest first, then the manifest by digest: the client checks the
    // body against it, so the layers' digests come from a verified manifest.
    auto digest = registry->resolve(endpoint(), repository, offer.location);
    auto manifest = digest ? registry->manifest(endpoint(), repository, *digest) : std::nullopt;
    if (!manifest) throw Error(Errc::not_found, where, "the tag vanished from the registry");
    if (manifest->config.media_type != oci::kHelmConfigMediaType)
      throw Error(Errc::upstream, where, "is not a Helm chart (config media type " + manifest->config.media_type + ")");
    const oci::Descriptor* chart_layer = nullptr;
    const oci::Descriptor* prov_layer = nullptr;
    for (const auto& l : manifest->layers) {
      if (l.media_type == oci::kHelmChartLayerMediaType && !chart_layer) chart_layer = &l;
      if (l.media_type == kProvenanceLayerMediaType && !prov_layer) prov_layer = &l;
    }
    if (!chart_layer) throw Error(Errc::upstream, where, "has no chart layer");
    if (chart_layer->size > limits.max_package_bytes)
      throw Error(Errc::too_large, where,
                  "the chart layer is " + std::to_string(chart_layer->size) + " bytes, more than the limit of " +
                      std::to_string(limits.max_package_bytes));
    // The client checks the bytes against the layer's digest (Error(upstream) on a mismatch).
    std::string bytes = registry->blob(endpoint(), repository, chart_layer->digest, limits.max_package_bytes);
    package::Package pkg = read_checked(std::move(bytes), offer, where);
    if (prov_layer) {
      if (prov_layer->size > limits.max_provenance_bytes)
        throw Error(Errc::too_large, where, "the provenance layer is larger than the limit");
      std::string prov = registry->blob(endpoint(), repository, prov_layer->digest, limits.max_provenance_bytes);
      check_provenance(prov, pkg, where + " (provenance layer)");
      pkg.provenance = std::move(prov);
    }
    return pkg;
  }
};

UpstreamSource::UpstreamSource(UpstreamSpec spec, net::HttpClient http, std::shared_ptr<oci::RegistryClient> registry,
                               Limits limits) {
  validate(spec, "upstream");
  if (is_oci_upstream(spec) && !registry)
    throw Error(Errc::invalid_argument, util::redact_url(spec.url), "an oci:// mirror needs a registry client");
  impl_ = std::make_unique<Impl>(std::move(spec), std::move(http), std::move(registry), limits);
  if (is_oci_upstream(impl_->spec)) {
    impl_->oci_ref = oci::Reference::parse(impl_->spec.url);
    impl_->registry_requests_at_start = impl_->registry->requests_sent();
  }
}

UpstreamSource::~UpstreamSource() = default;

std::vector<Offer> UpstreamSource::list() {
  auto offers = impl_->oci_ref ? impl_->list_oci() : impl_->list_http();
  sort_offers(offers);
  return offers;
}

package::Package UpstreamSource::fetch(const Offer& offer) {
  return impl_->oci_ref ? impl_->fetch_oci(offer) : impl_->fetch_http(offer);
}

std::uint64_t UpstreamSource::requests() const {
  std::uint64_t n = impl_->http_requests.load();
  if (impl_->oci_ref) n += impl_->registry->requests_sent() - impl_->registry_requests_at_start;
  return n;
}

}  // namespace cmop::upstream
