#pragma once
// `cmop trigger NAME`: the CronJob's payload. Asks the sidecar to update one repo
// and turns the answer into an exit code and one line for the Job history.
#include <chrono>
#include <string>

namespace CLI {
class App;
}

namespace cmop::trigger {

struct Options {
  std::string name;
  std::string endpoint = "http://127.0.0.1:8081";
  std::string token;
  std::chrono::milliseconds deadline{std::chrono::minutes(10)};
  std::chrono::milliseconds initial_backoff{std::chrono::seconds(1)};
};

// Exit codes: the Job's status reflects them.
enum ExitCode : int {
  success = 0,
  sync_failed = 1,      // the sidecar synced but charts failed, or the repo sync failed for good
  usage_error = 2,      // bad arguments
  rejected = 3,         // the sidecar refused the request (401/403/404/400)
  unavailable = 4,      // the sidecar could not be reached before the deadline
};

struct Outcome {
  int exit_code = success;
  std::string message;  // one line
};

// Retries transient failures (connection errors, 5xx other than a definite sync
// report) with exponential backoff until the deadline.
Outcome run(const Options& options);

void add_command(CLI::App& app);

}  // namespace cmop::trigger
