// Publishing into an OCI registry, laid out as `helm push` lays charts out: one
// repository per chart under the configured namespace, the version as tag ('+'
// written '_'), a manifest whose config is the chart's metadata and whose one
// layer is the .tgz.
#include <map>
#include <vector>

#include "cmop/deps/repo_index.hpp"
#include "cmop/error.hpp"
#include "cmop/oci/registry.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/util/hash.hpp"
#include "deps/yaml_emit.hpp"

namespace cmop::publish {
namespace {

// The layer `helm push` adds when a .prov sits beside the chart (pkg/registry).
constexpr const char* kProvenanceLayerMediaType = "application/vnd.cncf.helm.chart.provenance.v1.prov";

std::string digest_of(std::string_view bytes) { return "sha256:" + util::sha256_hex(bytes); }

// Helm's annotations for a pushed chart (pkg/registry's generateOCIAnnotations):
// the standard ones from Chart.yaml (plus cmop's revision/source), then the
// chart's own annotations, which may override all of them but title and version.
std::map<std::string, std::string> annotations_for(const package::Package& pkg) {
  const chart::Metadata& md = pkg.metadata;
  std::map<std::string, std::string> a;
  auto set = [&](const char* key, const std::string& value) {
    if (!value.empty()) a[key] = value;
  };
  set("org.opencontainers.image.description", md.description);
  set("org.opencontainers.image.url", md.home);
  if (!md.sources.empty()) set("org.opencontainers.image.source", md.sources.front());
  std::string authors;
  for (const auto& m : md.maintainers) {
    authors += (authors.empty() ? "" : ", ") + m.name + (m.email.empty() ? "" : " (" + m.email + ")");
  }
  set("org.opencontainers.image.authors", authors);
  // The commit's time, not the clock: the same commit gives the same manifest.
  set("org.opencontainers.image.created", pkg.created.empty() ? "1980-01-01T00:00:00Z" : pkg.created);
  // Not Helm's: where cmop built the chart from (docs/oci.md). The commit always;
  // the git URL only where Chart.yaml names no source of its own.
  set("org.opencontainers.image.revision", pkg.source_commit);
  if (md.sources.empty()) set("org.opencontainers.image.source", pkg.source_git);
  for (const auto& [k, v] : md.annotations)
    if (k != "org.opencontainers.image.title" && k != "org.opencontainers.image.version") a[k] = v;
  set("org.opencontainers.image.title", md.name);
  set("org.opencontainers.image.version", md.version);
  return a;
}

// The manifest as `helm push` writes it (oras-go's ocispec.Manifest through Go's
// encoding/json): struct field order, annotations in key order, and Go's escaping
// (<, >, & as \u003c, \u003e, \u0026), so the digest is the one Helm's push gives.
std::string manifest_json(const oci::Descriptor& config, const std::vector<oci::Descriptor>& layers,
                          const std::map<std::string, std::string>& annotations) {
  using deps::detail::Value;
  auto descriptor = [](const oci::Descriptor& d) {
    Value v = Value::map();
    v.add("mediaType", Value::str(d.media_type));
    v.add("digest", Value::str(d.digest));
    v.add("size", Value::raw(std::to_string(d.size)));
    return v;
  };
  Value m = Value::map();
  // As Helm writes it: no top-level mediaType (the Content-Type carries it).
  m.add("schemaVersion", Value::raw("2"));
  m.add("config", descriptor(config));
  Value& seq = m.add("layers", Value::seq());
  for (const auto& layer : layers) seq.push(descriptor(layer));
  Value& a = m.add("annotations", Value::map());
  for (const auto& [k, v] : annotations) a.add(k, Value::str(v));
  return deps::detail::to_go_json(m);
}

const oci::Descriptor* layer_of(const oci::Manifest& m, std::string_view media_type) {
  for (const auto& l : m.layers)
    if (l.media_type == media_type) return &l;
  return nullptr;
}

const oci::Descriptor* chart_layer(const oci::Manifest& m) { return layer_of(m, oci::kHelmChartLayerMediaType); }

class OciPublisher final : public Publisher {
 public:
  explicit OciPublisher(OciPublisherOptions options)
      : ref_(oci::Reference::parse(options.url)),
        endpoint_{ref_.host, options.credentials},
        client_(options.client ? std::move(options.client) : std::make_shared<oci::RegistryClient>()) {}

  void publish(const package::Package& pkg, bool replace) override {
    const Push push = prepare(pkg);
    const Held held = held_at_tag(push, pkg);
    if (held.same) return;
    if (!replace && held.other_chart)
      throw Error(Errc::conflict, "oci://" + ref_.host + "/" + push.repository + ":" + push.tag,
                  pkg.metadata.name + " " + pkg.metadata.version + " is already in the registry with other content" +
                      (held.other_layer.empty() ? ""
                                                : " (chart layer " + held.other_layer + ", new package " +
                                                      push.layers.front().digest + ")"));
    // Blobs the registry already has (same chart content elsewhere, a retried
    // upload) are not sent again.
    if (!client_->has_blob(endpoint_, push.repository, push.config_d.digest))
      client_->push_blob(endpoint_, push.repository, push.config, push.config_d.digest);
    if (!client_->has_blob(endpoint_, push.repository, push.layers.front().digest))
      client_->push_blob(endpoint_, push.repository, pkg.bytes, push.layers.front().digest);
    if (push.layers.size() > 1 && !client_->has_blob(endpoint_, push.repository, push.layers.back().digest))
      client_->push_blob(endpoint_, push.repository, pkg.provenance, push.layers.back().digest);
    client_->push_manifest(endpoint_, push.repository, push.tag, push.manifest, oci::kImageManifestMediaType);
  }

  bool holds(const package::Package& pkg) override { return held_at_tag(prepare(pkg), pkg).same; }

  // Without the published digest, whatever the tag holds is deleted.
  void remove(const std::string& name, const std::string& version) override {
    const std::string repository = ref_.repository(name);
    auto manifest_digest = client_->resolve(endpoint_, repository, oci::tag_for_version(version));
    if (!manifest_digest) return;
    try {
      client_->delete_manifest(endpoint_, repository, *manifest_digest);
    } catch (const Error& e) {
      if (e.code() != Errc::not_found) throw;
    }
  }

  // Deletes the manifest the tag points at, by digest, when its chart layer is
  // the package that was published. A tag that now holds other content was
  // re-pushed by someone else: that is left alone.
  void remove_exact(const std::string& name, const std::string& version, const std::string& digest) override {
    const std::string repository = ref_.repository(name);
    const std::string tag = oci::tag_for_version(version);
    // Without a digest nothing proves the tag holds what we pushed (a claim whose
    // upload never landed): it is left alone rather than risk someone else's chart.
    if (digest.empty()) return;
    auto manifest_digest = client_->resolve(endpoint_, repository, tag);
    if (!manifest_digest) return;  // already gone
    auto current = client_->manifest(endpoint_, repository, *manifest_digest);
    const oci::Descriptor* layer = current ? chart_layer(*current) : nullptr;
    if (!layer || layer->digest != "sha256:" + digest) return;
    try {
      client_->delete_manifest(endpoint_, repository, *manifest_digest);
    } catch (const Error& e) {
      if (e.code() != Errc::not_found) throw;
    }
  }

  std::string fetch(const std::string& name, const std::string& version) override {
    const std::string repository = ref_.repository(name);
    const std::string tag = oci::tag_for_version(version);
    const std::string what = "oci://" + ref_.host + "/" + repository + ":" + tag;
    auto m = client_->manifest(endpoint_, repository, tag);
    if (!m) throw Error(Errc::not_found, what, "no such tag");
    const oci::Descriptor* layer = chart_layer(*m);
    if (!layer) throw Error(Errc::upstream, what, "not a Helm chart (no chart layer)");
    return client_->blob(endpoint_, repository, layer->digest, 100u << 20);
  }

  void probe() override { client_->ping(endpoint_); }

  std::string describe() const override { return "oci " + ref_.str(); }

 private:
  // What publishing `pkg` pushes.
  struct Push {
    std::string repository, tag, config, manifest;
    oci::Descriptor config_d;
    std::vector<oci::Descriptor> layers;  // the chart, then its provenance when signed
  };
  Push prepare(const package::Package& pkg) const {
    const auto& md = pkg.metadata;
    if (!oci::valid_repository_component(md.name))
      throw Error(Errc::invalid_chart, md.name + "-" + md.version,
                  "the chart name is not a valid OCI repository name (lower-case letters, digits, '.', '_', '-')");
    if (!oci::valid_tag(oci::tag_for_version(md.version)))
      throw Error(Errc::invalid_chart, md.name + "-" + md.version, "the version cannot be an OCI tag");
    Push p;
    p.repository = ref_.repository(md.name);
    p.tag = oci::tag_for_version(md.version);
    p.config = deps::chart_metadata_json(md);
    p.config_d = {oci::kHelmConfigMediaType, digest_of(p.config), p.config.size()};
    // As `helm push` with a .prov beside the chart: the chart layer, then the provenance.
    p.layers.push_back({oci::kHelmChartLayerMediaType, digest_of(pkg.bytes), pkg.bytes.size()});
    if (!pkg.provenance.empty())
      p.layers.push_back({kProvenanceLayerMediaType, digest_of(pkg.provenance), pkg.provenance.size()});
    p.manifest = manifest_json(p.config_d, p.layers, annotations_for(pkg));
    return p;
  }
  // What the tag holds now, against what `push` would put there.
  struct Held {
    bool same = false;         // this chart (and provenance when signed): nothing to push
    bool other_chart = false;  // another chart's bytes
    std::string other_layer;   // their digest, when known
  };
  Held held_at_tag(const Push& push, const package::Package& pkg) {
    Held held;
    auto existing = client_->resolve(endpoint_, push.repository, push.tag);
    if (!existing) return held;
    if (*existing == digest_of(push.manifest)) {
      held.same = true;
      return held;
    }
    // The same chart pushed with other annotations (by an earlier cmop, or by
    // `helm push` from the same bytes) is the same version: nothing to replace,
    // unless it lacks the provenance now signed (then the manifest is re-pushed).
    auto current = client_->manifest(endpoint_, push.repository, *existing);
    const oci::Descriptor* layer = current ? chart_layer(*current) : nullptr;
    const bool same_chart = layer && layer->digest == push.layers.front().digest;
    const oci::Descriptor* prov = current ? layer_of(*current, kProvenanceLayerMediaType) : nullptr;
    held.same = same_chart && (pkg.provenance.empty() || (prov && prov->digest == push.layers.back().digest));
    held.other_chart = !same_chart;
    if (layer) held.other_layer = layer->digest;
    return held;
  }

  oci::Reference ref_;
  oci::Endpoint endpoint_;
  std::shared_ptr<oci::RegistryClient> client_;
};

}  // namespace

std::unique_ptr<Publisher> make_oci_publisher(OciPublisherOptions options) {
  return std::make_unique<OciPublisher>(std::move(options));
}

}  // namespace cmop::publish
