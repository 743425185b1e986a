#pragma once
// The one shape of "a git repo of charts served over git://" the suites share: a
// work repo, its bare copy served by `git daemon` as <name>.git, a state dir and
// an output folder for a core Workspace publishing into the local chart-repo
// folder. Suites derive from it to add their charts and helpers.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cmop/deps/repo_index.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/sync/workspace.hpp"
#include "cmop/util/fs.hpp"
#include "support/git_fixture.hpp"

namespace cmop::test {

class ServedRepo {
 public:
  // Nothing is served until the first commit_and_serve().
  explicit ServedRepo(std::string name = "charts", std::string tmp_prefix = "cmop-test-")
      : tmp(tmp_prefix), name_(std::move(name)) {
    std::filesystem::create_directories(out);
  }

  util::TempDir tmp;
  std::filesystem::path served = tmp.path() / "served";
  std::filesystem::path state = tmp.path() / "state";
  std::filesystem::path out = tmp.path() / "out";
  GitWorkRepo work{tmp.path() / "work"};
  std::filesystem::path bare;
  std::unique_ptr<GitDaemon> daemon;

  // Commits what was written; the first call makes the bare copy and starts
  // `git daemon`, later ones push to it.
  void commit_and_serve(const std::string& message = "change") {
    work.commit(message);
    serve_head();
  }
  // The same for commits made with `work` directly.
  void serve_head() {
    if (bare.empty()) {
      bare = make_bare(work, served, name_ + ".git");
      daemon = std::make_unique<GitDaemon>(served);
    } else {
      push();
    }
  }
  // Pushes commits made with `work` directly (once serving).
  void push() { push_to_bare(work, bare); }

  std::string url() const { return daemon->url(name_ + ".git"); }
  // A second repo served by the same daemon, with one chart; returns its URL.
  std::string add_repo(const std::string& repo_name, const std::string& chart, const std::string& version) {
    auto other = std::make_unique<GitWorkRepo>(tmp.path() / ("work-" + repo_name));
    write_chart(*other, "charts/" + chart, chart, version);
    other->commit("initial");
    make_bare(*other, served, repo_name + ".git");
    others_.push_back(std::move(other));
    return daemon->url(repo_name + ".git");
  }

  // A Workspace on `state` publishing into `out` (one at a time: it locks `state`).
  std::unique_ptr<sync::Workspace> workspace() const {
    return std::make_unique<sync::Workspace>(state, publish::make_local_publisher(out.string()));
  }
  // The spec that syncs this repo under `repo` (its served name by default).
  sync::RepoSpec spec_named(const std::string& repo) const {
    sync::RepoSpec s;
    s.name = repo;
    s.git = url();
    return s;
  }
  deps::RepoIndex index() const {
    return deps::RepoIndex::parse(util::read_file(out / "index.yaml"), "index.yaml");
  }

 private:
  std::string name_;
  std::vector<std::unique_ptr<GitWorkRepo>> others_;
};

}  // namespace cmop::test
