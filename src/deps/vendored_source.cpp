// Dependencies with no repository: already in the chart's charts/ folder. The
// packager takes them as found; nothing is resolved or downloaded.
#include "deps/dependency_source.hpp"

namespace cmop::deps::detail {

namespace {

class VendoredSource final : public DependencySource {
 public:
  bool matches(const DependencyRequest& r) const override { return r.dependency.repository.empty(); }

  SourcedChart resolve(const DependencyRequest& r, ResolveContext&) override {
    SourcedChart out;
    out.kind = SourcedChart::Kind::vendored;
    out.version = r.dependency.version;  // Chart.lock records the constraint as written
    return out;
  }
};

}  // namespace

std::unique_ptr<DependencySource> vendored_source() { return std::make_unique<VendoredSource>(); }

}  // namespace cmop::deps::detail
