// Running a sync for a request (its report, metrics and log line), counting the
// requests that wait for one, and GET /syncs: the feed of syncs started and ended.
#include <algorithm>

#include "answers.hpp"
#include "cmop/error.hpp"
#include "cmop/util/log.hpp"
#include "server_impl.hpp"

namespace cmop::serve {
namespace log = util::log;
using Clock = std::chrono::steady_clock;

RepoLanes::Waiter Server::Impl::counted(const Responder& respond) {
  ++waiting_requests;
  auto once = std::make_shared<std::atomic<bool>>(false);
  return [this, respond, once](const HttpResponse& r) {
    if (!once->exchange(true)) --waiting_requests;
    respond(r);
  };
}

HttpResponse Server::Impl::run_sync(const std::string& repo, const std::string& owner,
                                    const std::function<sync::SyncReport()>& sync_call) {
  auto started = Clock::now();
  feed.record(repo, owner, true);
  sync::SyncReport report;
  try {
    report = sync_call();
  } catch (const Error& e) {
    log::write(e.code() == Errc::not_found || e.code() == Errc::invalid_argument ? log::Level::info : log::Level::warn,
               "sync refused", {{"repo", repo}, {"error", e.what()}});
    if (e.code() != Errc::not_found && e.code() != Errc::invalid_argument && e.code() != Errc::forbidden)
      metrics.record_sync(repo, "error", std::chrono::duration<double>(Clock::now() - started).count(), 0);
    return error_response(e);  // its end is announced by the lane (Impl's constructor)
  }
  std::string result = sync_result(report);
  metrics.record_sync(repo, result, report.seconds, report.count(sync::ChartOutcome::Status::published));
  std::string first_failure;
  for (auto& c : report.charts)
    if (c.status == sync::ChartOutcome::Status::failed) {
      first_failure = c.path + ": " + c.reason;
      break;
    }
  log::write(result == "success" ? log::Level::info : log::Level::warn, "sync finished",
             {{"repo", repo},
              {"result", result},
              {"commit", report.commit.substr(0, 12)},
              {"changed", report.fetched_changes},
              {"published", report.count(sync::ChartOutcome::Status::published)},
              {"unchanged", report.count(sync::ChartOutcome::Status::unchanged)},
              {"removed", report.count(sync::ChartOutcome::Status::removed)},
              {"failed", report.count(sync::ChartOutcome::Status::failed)},
              {"seconds", report.seconds},
              {"error", report.error.empty() ? first_failure : report.error}});
  return report_response(report);
}

void Server::Impl::watch_syncs(const HttpRequest& req, const Responder& respond) {
  auto number = [&](const char* key, std::uint64_t max) -> std::uint64_t {
    std::string text = query_parameter(req.target, key);
    if (text.empty()) return 0;
    if (text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
      throw Error(Errc::invalid_argument, std::string("query parameter \"") + key + "\"", "must be a whole number");
    return std::min<std::uint64_t>(std::stoull(text), max);
  };
  const std::uint64_t after = number("after", UINT64_MAX);
  const auto wait = std::chrono::seconds(number("waitSeconds", 60));  // bounded: a proxy would cut it anyway
  const bool with_token = !options.token.empty() && bearer_authorized(req.authorization, options.token);
  feed.watch(after, query_parameter(req.target, "epoch"), wait, respond, req.client, with_token);
}

}  // namespace cmop::serve
