#pragma once
// Real git repositories made with the git CLI, served by real git servers.
#include <filesystem>
#include <map>
#include <string>

#include "support/process.hpp"

namespace cmop::test {

// A non-bare work repo plus helpers to write files and commit.
class GitWorkRepo {
 public:
  explicit GitWorkRepo(std::filesystem::path dir);
  const std::filesystem::path& dir() const { return dir_; }
  void write(const std::string& rel, const std::string& content);
  void remove(const std::string& rel);
  void symlink(const std::string& rel, const std::string& target);
  // Commits everything; returns the new commit id.
  std::string commit(const std::string& message = "change");
  std::string head() const;
  void git(const std::vector<std::string>& args) const;

 private:
  std::filesystem::path dir_;
};

// Writes a minimal valid v2 chart at rel (Chart.yaml, values.yaml, a template).
void write_chart(GitWorkRepo& repo, const std::string& rel, const std::string& name,
                 const std::string& version, const std::string& extra_chart_yaml = "");

// `git daemon` exporting every repo under base_dir at git://127.0.0.1:port/<name>.
class GitDaemon {
 public:
  explicit GitDaemon(std::filesystem::path base_dir);
  std::string url(const std::string& repo_name) const;

 private:
  int port_;
  Process process_;
};

// `git http-backend` behind test/support/cgi_server.py at http://127.0.0.1:port/<name>;
// optional basic auth (user:pass) required for every request.
class GitHttpServer {
 public:
  explicit GitHttpServer(std::filesystem::path base_dir, std::string basic_auth = "");
  std::string url(const std::string& repo_name) const;

 private:
  Peer peer_;
};

// Makes base_dir/<name> a bare clone of work (for serving), returns its path;
// push_to_bare() updates it after new commits.
std::filesystem::path make_bare(const GitWorkRepo& work, const std::filesystem::path& base_dir,
                                const std::string& name);
void push_to_bare(const GitWorkRepo& work, const std::filesystem::path& bare);

}  // namespace cmop::test
