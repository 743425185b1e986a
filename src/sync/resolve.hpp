#pragma once
// The sync's resolve step: a chart's dependencies resolved (cmop's own chart
// repository among the sources) and the content key that says whether it changed.
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cmop/deps/resolver.hpp"
#include "cmop/git/repository.hpp"
#include "cmop/package/packager.hpp"
#include "cmop/publish/publication.hpp"
#include "cmop/publish/publisher.hpp"

namespace cmop::sync {

struct SyncRun;

// cmop's own chart repository as a dependency source: whatever the repos' states
// say is published (by any repo), read back from the publisher, with the packages
// of the running sync served from memory.
class OwnCharts final : public deps::ChartSource {
 public:
  // `wanted`: the chart names some chart of the sync reads from "self"; only their
  // packages are kept in memory.
  // `all_published`: every publication of every repo (it takes the lock it needs).
  OwnCharts(std::function<std::vector<publish::Publication>()> all_published, publish::Publisher& publisher,
            std::set<std::string> wanted)
      : all_published_(std::move(all_published)), publisher_(publisher), wanted_(std::move(wanted)) {}

  deps::RepoIndex index() override;
  std::string archive(const std::string& name, const std::string& version) override;
  // A package this sync published, served from memory from now on when wanted.
  void remember(const package::Package& pkg);

 private:
  bool superseded_by_fresh(const std::string& name, const std::string& version) const;

  std::function<std::vector<publish::Publication>()> all_published_;
  publish::Publisher& publisher_;
  std::set<std::string> wanted_;
  std::map<std::pair<std::string, std::string>, std::string> fresh_;
};

struct ResolvedChart {
  deps::Resolution resolution;
  // The content key of the chart: its git tree plus whatever else changes the
  // package (resolved dependencies).
  std::string key;
};

// Resolves the dependencies of the chart at `chart_path` (metadata `md`) with the
// sync's repositories, indexes and own charts. Throws what Resolver::resolve throws.
ResolvedChart resolve_chart(deps::Resolver& resolver, SyncRun& run, const std::string& chart_path,
                            const chart::Metadata& md);

}  // namespace cmop::sync
