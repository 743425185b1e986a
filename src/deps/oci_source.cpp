// oci://host/path dependencies: a chart pulled from a registry namespace
// (see oci_charts.hpp for how the version and the layer are found).
#include "deps/dependency_source.hpp"

namespace cmop::deps::detail {

namespace {

class OciSource final : public DependencySource {
 public:
  explicit OciSource(OciChartPuller& puller) : puller_(puller) {}

  bool matches(const DependencyRequest& r) const override { return r.remote && r.remote->oci; }

  SourcedChart resolve(const DependencyRequest& r, ResolveContext& context) override {
    auto pulled = puller_.pull(context.session.oci, *r.remote, r.dependency, r.locked_version, r.subject);
    SourcedChart out;
    out.version = std::move(pulled.version);
    out.tgz = std::move(pulled.tgz);
    return out;
  }

 private:
  OciChartPuller& puller_;
};

}  // namespace

std::unique_ptr<DependencySource> oci_source(OciChartPuller& puller) { return std::make_unique<OciSource>(puller); }

}  // namespace cmop::deps::detail
