#include "cmop/sync/upstream_sync.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include "cmop/error.hpp"
#include "cmop/util/redact.hpp"

namespace cmop::sync {

void validate_upstream_spec(const RepoSpec& spec) {
  const std::string subject = "repo " + spec.name;
  if (!spec.git.empty())
    throw Error(Errc::invalid_argument, subject, "sets both git and mirror: a repo is one or the other");
  if (!spec.ref.empty() || !spec.path.empty())
    throw Error(Errc::invalid_argument, subject, "ref and path are for git repos, not for a mirror");
  if (!spec.dependencies.empty())
    throw Error(Errc::invalid_argument, subject,
                "dependencies are for git repos: a mirror publishes the upstream's packages as they are");
  if (spec.versioning != Versioning::immutable)
    throw Error(Errc::invalid_argument, subject,
                "versioning does not apply to a mirror: the upstream's packages are published unchanged");
  upstream::validate(spec.upstream, subject);
}

namespace {

bool concerns_whole_target(const Error& e) {
  return e.code() == Errc::network || e.code() == Errc::unauthorized || e.code() == Errc::io;
}

}  // namespace

void sync_from_upstream(const RepoState& state, upstream::UpstreamSource& source, SyncReport& report,
                        const UpstreamPublishing& publishing) {
  const std::string shown = util::redact_url(state.spec.upstream.url);
  std::vector<upstream::Offer> offers;
  try {
    offers = source.list();
  } catch (const Error& e) {
    report.error = "reading the upstream " + shown + ": " + util::redact_text(e.what());
    return;
  }
  std::map<std::pair<std::string, std::string>, std::string> mirrored;  // name+version -> digest
  for (const auto& p : state.published) mirrored[{p.name, p.version}] = p.digest;

  bool stopped = false;
  for (const auto& offer : offers) {
    ChartOutcome outcome{offer.name, offer.name, offer.version, offer.digest, ChartOutcome::Status::failed, ""};
    if (auto it = mirrored.find({offer.name, offer.version}); it != mirrored.end() && !it->second.empty()) {
      outcome.digest = it->second;
      if (!offer.digest.empty() && offer.digest != it->second) {
        outcome.reason = "the upstream changed the content of " + offer.name + " " + offer.version + " (sha256 " +
                         it->second + " mirrored, now " + offer.digest +
                         "); mirrored versions are immutable, so the mirrored package stays";
      } else {
        outcome.status = ChartOutcome::Status::unchanged;
      }
      report.charts.push_back(std::move(outcome));
      continue;
    }
    if (!stopped && publishing.out_of_time()) {
      stopped = true;
      report.error = "sync of " + shown + " timed out (the sync timeout)";
    }
    if (stopped) {
      outcome.reason = "not attempted: " + report.error;
      report.charts.push_back(std::move(outcome));
      continue;
    }
    package::Package pkg;
    try {
      pkg = source.fetch(offer);
      outcome.digest = pkg.digest;
    } catch (const Error& e) {
      outcome.reason = util::redact_text(e.what());
      if (concerns_whole_target(e) || (e.code() == Errc::upstream && e.reason().rfind("HTTP 5", 0) == 0)) {
        stopped = true;
        report.error = "reading the upstream " + shown + ": " + outcome.reason;
      }
      report.charts.push_back(std::move(outcome));
      continue;
    }
    pkg.source_git = shown;  // where the bytes come from (OCI publishers annotate it)
    try {
      publishing.publish(pkg, offer.name, outcome);
      report.fetched_changes = true;
    } catch (const Error& e) {
      outcome.status = ChartOutcome::Status::failed;
      outcome.reason = e.what();
      if (concerns_whole_target(e) || e.code() == Errc::upstream) {
        stopped = true;
        report.error = "publishing to " + publishing.publisher + " failed: " + e.what();
      }
    }
    report.charts.push_back(std::move(outcome));
  }
}

}  // namespace cmop::sync
