#include "support/git_fixture.hpp"

#include <stdexcept>
#include <fstream>

namespace cmop::test {
namespace fs = std::filesystem;

static const std::map<std::string, std::string> kGitEnv{
    {"GIT_AUTHOR_NAME", "cmop test"},        {"GIT_AUTHOR_EMAIL", "test@example.invalid"},
    {"GIT_COMMITTER_NAME", "cmop test"},     {"GIT_COMMITTER_EMAIL", "test@example.invalid"},
    {"GIT_CONFIG_NOSYSTEM", "1"},            {"HOME", "/nonexistent"},
    {"GIT_CONFIG_GLOBAL", "/dev/null"},
};

GitWorkRepo::GitWorkRepo(fs::path dir) : dir_(std::move(dir)) {
  fs::create_directories(dir_);
  git({"init", "-q", "-b", "main"});
}

void GitWorkRepo::git(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{test::git()};
  argv.insert(argv.end(), args.begin(), args.end());
  run_ok(argv, dir_, kGitEnv);
}

void GitWorkRepo::write(const std::string& rel, const std::string& content) {
  fs::path p = dir_ / rel;
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
}

void GitWorkRepo::remove(const std::string& rel) { fs::remove_all(dir_ / rel); }

void GitWorkRepo::symlink(const std::string& rel, const std::string& target) {
  fs::path p = dir_ / rel;
  fs::create_directories(p.parent_path());
  fs::remove(p);
  fs::create_symlink(target, p);
}

std::string GitWorkRepo::commit(const std::string& message) {
  git({"add", "-A"});
  git({"commit", "-q", "--allow-empty", "-m", message});
  return head();
}

std::string GitWorkRepo::head() const {
  std::string out = run_ok({test::git(), "rev-parse", "HEAD"}, dir_, kGitEnv);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

void write_chart(GitWorkRepo& repo, const std::string& rel, const std::string& name, const std::string& version,
                 const std::string& extra_chart_yaml) {
  repo.write(rel + "/Chart.yaml", "apiVersion: v2\nname: " + name + "\nversion: " + version +
                                      "\ndescription: test chart " + name + "\n" + extra_chart_yaml);
  repo.write(rel + "/values.yaml", "replicaCount: 1\n");
  repo.write(rel + "/templates/configmap.yaml",
             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-" + name + "\n");
}

GitDaemon::GitDaemon(fs::path base_dir)
    : port_(free_port()),
      process_({git(), "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1",
                "--port=" + std::to_string(port_), "--base-path=" + base_dir.string(), base_dir.string()}) {
  if (!wait_for_port(port_)) throw std::runtime_error("git daemon did not start");
}

std::string GitDaemon::url(const std::string& repo_name) const {
  return "git://127.0.0.1:" + std::to_string(port_) + "/" + repo_name;
}

static Peer start_http_backend(const fs::path& base_dir, const std::string& basic_auth) {
  std::vector<std::string> args{"--root", base_dir.string()};
  if (!basic_auth.empty()) {
    args.push_back("--basic-auth");
    args.push_back(basic_auth);
  }
  return start_python_peer("git_http_server.py", args);
}

GitHttpServer::GitHttpServer(fs::path base_dir, std::string basic_auth)
    : peer_(start_http_backend(base_dir, basic_auth)) {}

std::string GitHttpServer::url(const std::string& repo_name) const { return peer_.url() + "/" + repo_name; }

fs::path make_bare(const GitWorkRepo& work, const fs::path& base_dir, const std::string& name) {
  fs::path bare = base_dir / name;
  fs::create_directories(base_dir);
  run_ok({git(), "clone", "-q", "--bare", work.dir().string(), bare.string()}, {}, kGitEnv);
  run_ok({git(), "config", "http.receivepack", "true"}, bare, kGitEnv);
  return bare;
}

void push_to_bare(const GitWorkRepo& work, const fs::path& bare) {
  work.git({"push", "-q", "--force", bare.string(), "HEAD:refs/heads/main", "--tags"});
}

}  // namespace cmop::test
