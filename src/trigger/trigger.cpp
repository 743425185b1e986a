#include "cmop/trigger/trigger.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

#include "cmop/error.hpp"
#include "cmop/sidecar/client.hpp"
#include "cmop/util/names.hpp"
#include "cmop/util/url.hpp"

namespace cmop::trigger {
namespace {

using Clock = std::chrono::steady_clock;

// Summarizes a sync report: "myrepo at 1a2b3c4: 2 published, 5 unchanged".
Outcome from_report(const std::string& name, const sidecar::SyncReport& report) {
  int published = 0, unchanged = 0, removed = 0;
  std::vector<std::string> failures;
  for (auto& c : report.charts) {
    if (c.status == "published") ++published;
    else if (c.status == "unchanged") ++unchanged;
    else if (c.status == "removed") ++removed;
    else failures.push_back(c.path + ": " + c.reason);
  }
  std::string commit = report.commit.substr(0, 12);
  std::string counts = std::to_string(published) + " published, " + std::to_string(unchanged) + " unchanged, " +
                       std::to_string(removed) + " removed";
  if (!report.error.empty()) return {sync_failed, name + ": sync failed: " + report.error};
  if (!failures.empty()) {
    std::string msg = name + " at " + commit + ": " + std::to_string(failures.size()) + " chart(s) failed (" +
                      counts + "): " + failures.front();
    if (failures.size() > 1) msg += " (and " + std::to_string(failures.size() - 1) + " more)";
    return {sync_failed, msg};
  }
  return {success, name + " at " + commit + ": " + counts};
}

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  if (s.size() > 400) s = s.substr(0, 400) + "...";
  return s;
}

}  // namespace

Outcome run(const Options& options) {
  util::require_dns1123_label("repo name", options.name);
  if (!util::is_http_url(options.endpoint))
    return {usage_error, "endpoint must be an http:// or https:// URL, got \"" + options.endpoint + "\""};

  const sidecar::Client client(options.endpoint, options.token);

  auto deadline = Clock::now() + options.deadline;
  auto backoff = options.initial_backoff;
  std::mt19937 rng(std::random_device{}());
  std::string last_problem = "no attempt made";

  for (int attempt = 1;; ++attempt) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (remaining.count() <= 0) break;
    try {
      auto res = client.update(options.name, remaining);
      if (res.report) return from_report(options.name, *res.report);
      std::string err = res.error ? res.error->error : one_line(res.body);
      if (res.status == 400 || res.status == 401 || res.status == 403 || res.status == 404 || res.status == 409)
        return {rejected, options.name + ": sidecar refused the update (HTTP " + std::to_string(res.status) +
                              "): " + err};
      last_problem = "HTTP " + std::to_string(res.status) + ": " + err;
    } catch (const Error& e) {
      last_problem = e.what();
    }
    std::cerr << "cmop trigger: attempt " << attempt << " failed: " << one_line(last_problem) << "; retrying\n";
    auto jitter = std::uniform_int_distribution<long>(0, backoff.count() / 4 + 1)(rng);
    auto sleep_for = std::min(backoff + std::chrono::milliseconds(jitter),
                              std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
    if (sleep_for.count() > 0) std::this_thread::sleep_for(sleep_for);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(std::chrono::seconds(60)));
  }
  return {unavailable, options.name + ": gave up after the deadline: " + one_line(last_problem)};
}

void add_command(CLI::App& app) {
  auto options = std::make_shared<Options>();
  auto deadline_seconds = std::make_shared<double>(600);
  auto* cmd = app.add_subcommand("trigger", "Ask the cmop sidecar to update one repo and wait for the result");
  cmd->add_option("name", options->name, "Name of the repo (the Chartmuseum resource)")->required();
  cmd->add_option("--endpoint", options->endpoint, "URL of the cmop serve API")
      ->envname("CMOP_ENDPOINT")
      ->capture_default_str();
  cmd->add_option("--token", options->token, "Bearer token for the sidecar")->envname("CMOP_TOKEN");
  cmd->add_option("--deadline", *deadline_seconds, "Give up after this many seconds")
      ->envname("CMOP_TRIGGER_DEADLINE")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback([options, deadline_seconds]() {
    options->deadline = std::chrono::milliseconds(static_cast<long>(*deadline_seconds * 1000));
    Outcome out;
    try {
      out = run(*options);
    } catch (const Error& e) {
      out = {usage_error, e.what()};
    }
    (out.exit_code == success ? std::cout : std::cerr) << "cmop trigger: " << out.message << "\n";
    std::exit(out.exit_code);
  });
}

}  // namespace cmop::trigger
