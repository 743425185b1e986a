// Dependencies on cmop's own publish target (a repository whose url is `self`,
// named by @name or by the URL it is a mirror of): read in-process through the
// ChartSource the sync passes, so a sibling published a moment earlier is found
// whatever the target's index lag.
#include "cmop/error.hpp"
#include "cmop/util/hash.hpp"
#include "deps/dependency_source.hpp"

namespace cmop::deps::detail {

namespace {

class SelfSource final : public DependencySource {
 public:
  bool matches(const DependencyRequest& r) const override { return r.remote && r.remote->self; }

  SourcedChart resolve(const DependencyRequest& r, ResolveContext& context) override {
    if (!context.own_charts)
      throw Error(Errc::dependency, r.subject, "cmop's own chart repository is not available here");
    RepoIndex index;
    try {
      index = context.own_charts->index();
    } catch (const Error& e) {
      throw Error(Errc::dependency, r.subject, "listing cmop's own chart repository: " + e.reason());
    }
    const IndexEntry chosen = choose_entry(index, r);
    SourcedChart out;
    out.version = chosen.metadata.version;
    out.tgz = archive(*context.own_charts, chosen, r.subject);
    return out;
  }

 private:
  // The archive as published: it must still have the digest the index lists.
  static std::string archive(ChartSource& own, const IndexEntry& entry, const std::string& subject) {
    std::string bytes;
    try {
      bytes = own.archive(entry.metadata.name, entry.metadata.version);
    } catch (const Error& e) {
      throw Error(Errc::dependency, subject,
                  "reading " + entry.metadata.name + " " + entry.metadata.version +
                      " from cmop's own chart repository: " + e.reason());
    }
    const std::string expected = sha256_hex_of(entry.digest);
    if (!expected.empty() && util::sha256_hex(bytes) != expected)
      throw Error(Errc::dependency, subject,
                  entry.metadata.name + " " + entry.metadata.version +
                      " in cmop's own chart repository does not have the digest it was published with");
    return bytes;
  }
};

}  // namespace

std::unique_ptr<DependencySource> self_source() { return std::make_unique<SelfSource>(); }

}  // namespace cmop::deps::detail
