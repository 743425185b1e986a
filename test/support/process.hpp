#pragma once
// Test peers run as real processes on 127.0.0.1.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace cmop::test {

// A child process killed (SIGTERM, then SIGKILL) when this object dies.
class Process {
 public:
  Process(std::vector<std::string> argv, std::map<std::string, std::string> extra_env = {},
          std::filesystem::path cwd = {}, std::filesystem::path log_file = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  Process(Process&& other) noexcept;

  int pid() const { return pid_; }
  bool running();
  void kill(int signal);
  // Waits for exit; returns the exit status (128+signal when signalled), -1 on timeout.
  int wait(int timeout_ms = 10000);

 private:
  int pid_ = -1;
  int status_ = -1;
};

// Runs a command to completion; returns exit status, stdout+stderr into *output.
int run(const std::vector<std::string>& argv, std::string* output = nullptr,
        const std::filesystem::path& cwd = {}, const std::map<std::string, std::string>& extra_env = {});
// Like run() but a non-zero exit fails the test with the output.
std::string run_ok(const std::vector<std::string>& argv, const std::filesystem::path& cwd = {},
                   const std::map<std::string, std::string>& extra_env = {});

// A TCP port free on 127.0.0.1 right now.
int free_port();
// Polls until 127.0.0.1:port accepts connections; false after timeout.
bool wait_for_port(int port, int timeout_ms = 10000);

// Paths configured by CMake.
std::filesystem::path support_dir();  // test/support (python peers live here)
std::filesystem::path source_dir();
std::string python3();
std::string git();
std::string cmop_binary();
// The real Helm clients (scripts/helm.sh installs them): a test that stands for a
// Helm user runs with each of helm_clients().
struct HelmClient {
  std::string name;  // "helm3" or "helm4"
  std::string path;
};
std::vector<HelmClient> helm_clients();
std::string kubectl();

// Starts one of test/support/*.py with args on a free port ("--port N" is appended);
// waits until it listens.
struct Peer {
  Process process;
  int port;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};
Peer start_python_peer(const std::string& script, std::vector<std::string> args = {});

}  // namespace cmop::test
