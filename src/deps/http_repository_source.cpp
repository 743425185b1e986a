// Dependencies on an http(s) chart repository (by URL, @name, alias:name, or a
// mirror standing for one): the version from its index.yaml, the archive from
// the URL the index gives (see chart_repository.hpp for the caching).
#include "deps/dependency_source.hpp"

namespace cmop::deps::detail {

namespace {

class HttpRepositorySource final : public DependencySource {
 public:
  explicit HttpRepositorySource(ChartRepositoryClient& repositories) : repositories_(repositories) {}

  bool matches(const DependencyRequest& r) const override { return r.remote && !r.remote->oci && !r.remote->self; }

  SourcedChart resolve(const DependencyRequest& r, ResolveContext& context) override {
    const auto index = repositories_.index(context.session.indexes, *r.remote, r.subject);
    const IndexEntry chosen = choose_entry(*index, r);
    SourcedChart out;
    out.version = chosen.metadata.version;
    out.tgz = repositories_.download(*r.remote, chosen, r.subject);
    return out;
  }

 private:
  ChartRepositoryClient& repositories_;
};

}  // namespace

std::unique_ptr<DependencySource> http_repository_source(ChartRepositoryClient& repositories) {
  return std::make_unique<HttpRepositorySource>(repositories);
}

}  // namespace cmop::deps::detail
