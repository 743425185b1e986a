#pragma once
// What the one-shot command tests share: the cmop binary run as a CI job runs it
// (a fresh working directory, stdout and stderr apart), and a repo of charts served
// by `git daemon` whose `web` chart depends on a chart from an HTTP chart
// repository (packaged and indexed by real Helm) and on a sibling by file://.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cmop/util/fs.hpp"
#include "support/git_fixture.hpp"
#include "support/process.hpp"

namespace cmop::test {

struct CmopRun {
  int rc = -1;
  std::string out, err;
};

// `cmop args...` in `cwd`, stdout and stderr kept apart.
inline CmopRun run_cmop(const std::filesystem::path& cwd, const std::vector<std::string>& args) {
  util::TempDir streams("cmop-oneshot-streams-");
  std::vector<std::string> argv{"bash", "-c", "exec \"$0\" \"$@\" >\"$CMOP_TEST_OUT\" 2>\"$CMOP_TEST_ERR\"",
                                cmop_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  CmopRun r;
  r.rc = run(argv, nullptr, cwd,
             {{"CMOP_TEST_OUT", (streams.path() / "out").string()}, {"CMOP_TEST_ERR", (streams.path() / "err").string()}});
  r.out = util::read_file(streams.path() / "out");
  r.err = util::read_file(streams.path() / "err");
  return r;
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

// "name version sha256:<hex> ..." lines of a text output: name -> hex digest.
inline std::map<std::string, std::string> digests_of(const std::string& out, std::size_t name_field = 0) {
  std::map<std::string, std::string> digests;
  for (const auto& line : lines_of(out)) {
    std::istringstream in(line);
    std::vector<std::string> fields;
    for (std::string f; in >> f;) fields.push_back(f);
    for (const auto& f : fields)
      if (f.rfind("sha256:", 0) == 0 && fields.size() > name_field) digests[fields[name_field]] = f.substr(7);
  }
  return digests;
}

// The chart repo the tests publish: charts/web (needs common ^1.0.0 from an HTTP
// chart repo and lib by file://), charts/lib, charts/solo.
class ChartsRepo {
 public:
  ChartsRepo() : work_(dir_.path() / "work"), deps_site_(dir_.path() / "deps-site") {
    std::filesystem::create_directories(deps_site_);
    deps_server_ = std::make_unique<Peer>(start_python_peer("static_http_server.py", {"--root", deps_site_.string()}));
    // The dependency chart repository, made by real Helm.
    GitWorkRepo common(dir_.path() / "common-src");
    write_chart(common, "common", "common", "1.2.0");
    run_ok({helm_clients().front().path, "package", (common.dir() / "common").string(), "-d", deps_site_.string()});
    run_ok({helm_clients().front().path, "repo", "index", deps_site_.string(), "--url", deps_server_->url()});

    write_chart(work_, "charts/lib", "lib", "0.1.0");
    write_chart(work_, "charts/solo", "solo", "0.1.0");
    write_chart(work_, "charts/web", "web", "1.0.0",
                "dependencies:\n- name: common\n  version: ^1.0.0\n  repository: " + deps_server_->url() +
                    "\n- name: lib\n  version: 0.1.0\n  repository: file://../lib\n");
    work_.commit("charts");
    bare_ = make_bare(work_, dir_.path() / "served", "charts.git");
    daemon_ = std::make_unique<GitDaemon>(dir_.path() / "served");
  }
  GitWorkRepo& work() { return work_; }
  std::string git_url() const { return daemon_->url("charts.git"); }
  void push() { push_to_bare(work_, bare_); }
  // A new empty folder to run a command in, as a CI job's fresh checkout would be.
  std::filesystem::path fresh_dir(const std::string& what) {
    auto d = dir_.path() / (what + "-" + std::to_string(++dirs_));
    std::filesystem::create_directories(d);
    return d;
  }

 private:
  util::TempDir dir_{"cmop-oneshot-"};
  GitWorkRepo work_;
  std::filesystem::path deps_site_;
  std::unique_ptr<Peer> deps_server_;
  std::filesystem::path bare_;
  std::unique_ptr<GitDaemon> daemon_;
  int dirs_ = 0;
};


}  // namespace cmop::test
