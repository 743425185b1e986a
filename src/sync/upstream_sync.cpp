#include "cmop/sync/upstream_sync.hpp"

#include <algorithm>
#include <deque>
#include <exception>
#include <future>
#include <optional>
#include <map>
#include <set>
#include <tuple>

#include "cmop/error.hpp"
#include "cmop/net/http_client.hpp"
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

// Fetches the packages of `offers[i]` for i in `todo`, up to `window` at a time
// (network waits overlap the publishing of earlier ones); the caller takes the
// results in launch order and stops filling when the sync stops.
class Prefetcher {
 public:
  Prefetcher(upstream::UpstreamSource& source, const std::vector<upstream::Offer>& offers,
             std::chrono::steady_clock::time_point deadline, std::size_t window)
      : source_(source), offers_(offers), deadline_(deadline), window_(std::max<std::size_t>(window, 1)) {}

  using Result = std::pair<std::optional<package::Package>, std::exception_ptr>;

  // Launches up to the window from `todo`, starting at `next`; returns the new next.
  std::size_t fill(const std::vector<std::size_t>& todo, std::size_t next) {
    while (in_flight_.size() < window_ && next < todo.size()) {
      const upstream::Offer* offer = &offers_[todo[next]];
      in_flight_.emplace_back(todo[next], std::async(std::launch::async, [this, offer]() -> Result {
                                // Each request of the fetch ends by the sync's deadline, as on the sync's thread.
                                const net::DeadlineScope scope(deadline_);
                                try {
                                  return {source_.fetch(*offer), nullptr};
                                } catch (...) {
                                  return {std::nullopt, std::current_exception()};
                                }
                              }));
      ++next;
    }
    return next;
  }
  bool empty() const { return in_flight_.empty(); }
  // The oldest launched fetch: its offer index and result.
  std::pair<std::size_t, Result> take() {
    auto [index, future] = std::move(in_flight_.front());
    in_flight_.pop_front();
    return {index, future.get()};
  }

 private:
  upstream::UpstreamSource& source_;
  const std::vector<upstream::Offer>& offers_;
  std::chrono::steady_clock::time_point deadline_;
  std::size_t window_;
  std::deque<std::pair<std::size_t, std::future<Result>>> in_flight_;
};

// Removes what the repo published that `offers` no longer has (a copy of the list
// is walked: each removal changes state.published).
void prune(const RepoState& state, const std::vector<upstream::Offer>& offers, SyncReport& report,
           const UpstreamPublishing& publishing) {
  std::set<std::pair<std::string, std::string>> offered;
  for (const auto& o : offers) offered.emplace(o.name, o.version);
  const auto published = state.published;
  for (const auto& pub : published) {
    if (offered.count({pub.name, pub.version})) continue;
    ChartOutcome outcome{pub.chart_path, pub.name, pub.version, pub.digest, ChartOutcome::Status::removed, ""};
    try {
      publishing.remove(pub);
    } catch (const Error& e) {
      outcome.status = ChartOutcome::Status::failed;
      outcome.reason = std::string("removing: ") + e.what();
    }
    report.charts.push_back(std::move(outcome));
  }
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

  // One outcome per offer, in the upstream's order; the new versions are fetched.
  std::vector<ChartOutcome> outcomes;
  std::vector<std::size_t> todo;
  for (std::size_t i = 0; i < offers.size(); ++i) {
    const auto& offer = offers[i];
    ChartOutcome outcome{offer.name, offer.name, offer.version, offer.digest, ChartOutcome::Status::failed, ""};
    if (auto it = mirrored.find({offer.name, offer.version}); it != mirrored.end() && !it->second.empty()) {
      outcome.digest = it->second;
      if (!offer.digest.empty() && offer.digest != it->second)
        outcome.reason = "the upstream changed the content of " + offer.name + " " + offer.version + " (sha256 " +
                         it->second + " mirrored, now " + offer.digest +
                         "); mirrored versions are immutable, so the mirrored package stays";
      else
        outcome.status = ChartOutcome::Status::unchanged;
    } else {
      todo.push_back(i);
    }
    outcomes.push_back(std::move(outcome));
  }

  bool stopped = false;
  auto stop = [&](std::string why) {
    if (stopped) return;
    stopped = true;
    report.error = std::move(why);
  };
  Prefetcher fetches(source, offers, publishing.deadline, publishing.parallel_fetches);
  std::size_t next = 0;
  while (!stopped && (next < todo.size() || !fetches.empty())) {
    if (std::chrono::steady_clock::now() >= publishing.deadline) {
      stop("sync of " + shown + " timed out (the sync timeout)");
      break;
    }
    next = fetches.fill(todo, next);
    auto [index, result] = fetches.take();
    ChartOutcome& outcome = outcomes[index];
    try {
      if (result.second) std::rethrow_exception(result.second);
    } catch (const Error& e) {
      outcome.reason = util::redact_text(e.what());
      if (concerns_whole_target(e) || (e.code() == Errc::upstream && e.reason().rfind("HTTP 5", 0) == 0))
        stop("reading the upstream " + shown + ": " + outcome.reason);
      continue;
    } catch (const std::exception& e) {
      outcome.reason = std::string("internal error: ") + e.what();
      continue;
    }
    package::Package& pkg = *result.first;
    outcome.digest = pkg.digest;
    pkg.source_git = shown;  // where the bytes come from (OCI publishers annotate it)
    try {
      publishing.publish(pkg, outcome.name, outcome);
      report.fetched_changes = true;
    } catch (const Error& e) {
      outcome.status = ChartOutcome::Status::failed;
      outcome.reason = e.what();
      if (concerns_whole_target(e) || e.code() == Errc::upstream)
        stop("publishing to " + publishing.publisher + " failed: " + e.what());
    }
  }
  // Fetches already launched when the sync stopped finish unused.
  while (!fetches.empty()) outcomes[fetches.take().first].reason = "not attempted: " + report.error;
  for (std::size_t i = next; i < todo.size(); ++i) outcomes[todo[i]].reason = "not attempted: " + report.error;
  report.charts.insert(report.charts.end(), std::make_move_iterator(outcomes.begin()),
                       std::make_move_iterator(outcomes.end()));
  if (state.spec.upstream.prune && !stopped) prune(state, offers, report, publishing);
}

}  // namespace cmop::sync
