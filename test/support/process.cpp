#include "support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>
#include <stdexcept>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace cmop::test {
namespace fs = std::filesystem;

namespace {

int spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra_env,
          const fs::path& cwd, int out_fd) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos && extra_env.count(kv.substr(0, eq))) continue;
    env_strings.push_back(kv);
  }
  for (auto& [k, v] : extra_env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) _exit(126);
    if (out_fd >= 0) {
      ::dup2(out_fd, 1);
      ::dup2(out_fd, 2);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::execvpe(args[0], args.data(), envp.data());
    _exit(127);
  }
  return pid;
}

int decode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

Process::Process(std::vector<std::string> argv, std::map<std::string, std::string> extra_env, fs::path cwd,
                 fs::path log_file) {
  int fd = -1;
  if (!log_file.empty()) fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_ = spawn(argv, extra_env, cwd, fd);
  if (fd >= 0) ::close(fd);
}

Process::Process(Process&& other) noexcept : pid_(other.pid_), status_(other.status_) { other.pid_ = -1; }

Process::~Process() {
  if (pid_ <= 0) return;
  if (running()) {
    ::kill(-pid_, SIGTERM);
    ::kill(pid_, SIGTERM);
    if (wait(3000) == -1) {
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      wait(3000);
    }
  }
}

bool Process::running() {
  if (pid_ <= 0 || status_ != -1) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = decode(st);
    return false;
  }
  return r == 0;
}

void Process::kill(int signal) {
  if (pid_ > 0 && running()) ::kill(pid_, signal);
}

int Process::wait(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

int run(const std::vector<std::string>& argv, std::string* output, const fs::path& cwd,
        const std::map<std::string, std::string>& extra_env) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = spawn(argv, extra_env, cwd, pipefd[1]);
  ::close(pipefd[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (output) *output = std::move(out);
  return decode(st);
}

std::string run_ok(const std::vector<std::string>& argv, const fs::path& cwd,
                   const std::map<std::string, std::string>& extra_env) {
  std::string out;
  int rc = run(argv, &out, cwd, extra_env);
  if (rc != 0) {
    std::string cmd;
    for (auto& a : argv) cmd += a + " ";
    throw std::runtime_error("command failed (" + std::to_string(rc) + "): " + cmd + "\n" + out);
  }
  return out;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool wait_for_port(int port, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::close(fd);
    if (rc == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

fs::path support_dir() { return CMOP_TEST_SUPPORT_DIR; }
fs::path source_dir() { return CMOP_SOURCE_DIR; }
std::string python3() { return CMOP_PYTHON3; }
std::string git() { return CMOP_GIT; }
std::string cmop_binary() { return CMOP_BINARY; }
std::vector<HelmClient> helm_clients() { return {{"helm3", CMOP_HELM3}, {"helm4", CMOP_HELM4}}; }
std::string kubectl() { return CMOP_KUBECTL; }

Peer start_python_peer(const std::string& script, std::vector<std::string> args) {
  int port = free_port();
  std::vector<std::string> argv{python3(), (support_dir() / script).string()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--port");
  argv.push_back(std::to_string(port));
  Peer peer{Process(argv), port};
  if (!wait_for_port(port)) throw std::runtime_error("peer " + script + " did not start listening on " + std::to_string(port));
  return peer;
}

}  // namespace cmop::test
