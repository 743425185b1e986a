// discover_charts over real git work trees on disk.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "cmop/chart/discovery.hpp"
#include "cmop/chart/metadata.hpp"
#include "cmop/error.hpp"
#include "cmop/util/fs.hpp"
#include "support/git_fixture.hpp"
#include "support/error_of.hpp"

namespace fs = std::filesystem;
using namespace cmop;
using namespace cmop::chart;

namespace {

struct Tree {
  util::TempDir tmp{"cmop-discovery-"};
  test::GitWorkRepo repo{tmp.path() / "work"};
};

template <typename Fn>
void expect_error(Fn&& fn, Errc code, const std::string& subject) {
  Error e = test::error_of(std::forward<Fn>(fn));
  CHECK(e.code() == code);
  CHECK(e.subject() == subject);
}

}  // namespace

TEST_CASE("charts are found, sorted, '/'-separated and relative to the root") {
  Tree t;
  test::write_chart(t.repo, "charts/web", "web", "1.0.0");
  test::write_chart(t.repo, "charts/api", "api", "0.1.0");
  test::write_chart(t.repo, "stable/deep/nested/db", "db", "2.0.0");
  test::write_chart(t.repo, "charts/api/charts/vendored", "vendored", "1.0.0");  // a subchart
  test::write_chart(t.repo, "charts/api/examples/demo", "demo", "1.0.0");        // a file of api's
  test::write_chart(t.repo, "charts/web/files/fixture", "fixture", "1.0.0");     // a file of web's
  t.repo.write("docs/README.md", "not a chart\n");
  t.repo.write("docs/Chart.yaml/keep", "a directory named Chart.yaml is not a chart\n");
  t.repo.commit("charts");

  auto found = discover_charts(t.repo.dir());
  // A Chart.yaml below another chart is that chart's (`helm package` packs it as
  // a plain file), never a chart of its own.
  CHECK(found == std::vector<std::string>{"charts/api", "charts/web", "stable/deep/nested/db"});
  // Every path found holds a parseable chart.
  for (auto& p : found)
    CHECK_FALSE(parse_chart_yaml(util::read_file(t.repo.dir() / p / "Chart.yaml"), p).name.empty());

  CHECK(discover_charts(t.repo.dir(), "charts") == std::vector<std::string>{"charts/api", "charts/web"});
  // Asked for directly, a folder below a chart is still part of that chart's files.
  CHECK(discover_charts(t.repo.dir(), "charts/api/examples/demo") == std::vector<std::string>{"charts/api/examples/demo"});
  CHECK(discover_charts(t.repo.dir(), "charts/web/") == std::vector<std::string>{"charts/web"});
  CHECK(discover_charts(t.repo.dir(), "./stable/../charts/web") == std::vector<std::string>{"charts/web"});
  CHECK(discover_charts(t.repo.dir(), "docs").empty());
}

TEST_CASE("a chart at the root is reported as '.', and everything below it is its own") {
  Tree t;
  test::write_chart(t.repo, ".", "root", "1.0.0");
  test::write_chart(t.repo, "charts/sub", "sub", "1.0.0");
  test::write_chart(t.repo, "other/also", "also", "1.0.0");
  t.repo.commit("root chart");
  // `helm package .` packs other/also/Chart.yaml as a file of the root chart.
  CHECK(discover_charts(t.repo.dir()) == std::vector<std::string>{"."});
}

TEST_CASE(".git and symlinked directories are never entered") {
  Tree t;
  test::write_chart(t.repo, "real", "real", "1.0.0");
  t.repo.commit("real");
  // A chart-looking directory inside .git is not a chart of the repository.
  fs::create_directories(t.repo.dir() / ".git" / "fake");
  std::ofstream(t.repo.dir() / ".git" / "fake" / "Chart.yaml") << "name: fake\n";
  // A symlink to a directory inside the repo and one leaving it: neither is followed.
  fs::create_directory_symlink(t.repo.dir() / "real", t.repo.dir() / "alias");
  util::TempDir outside{"cmop-outside-"};
  fs::create_directories(outside.path() / "evil");
  std::ofstream(outside.path() / "evil" / "Chart.yaml") << "name: evil\n";
  fs::create_directory_symlink(outside.path(), t.repo.dir() / "escape");
  // A symlink loop would hang a walker that follows links.
  fs::create_directory_symlink(t.repo.dir(), t.repo.dir() / "real" / "loop");
  CHECK(discover_charts(t.repo.dir()) == std::vector<std::string>{"real"});
}

TEST_CASE("subpaths that escape or do not exist are refused") {
  Tree t;
  test::write_chart(t.repo, "charts/web", "web", "1.0.0");
  t.repo.write("file.txt", "x\n");
  t.repo.commit("web");
  util::TempDir outside{"cmop-outside-"};
  test::GitWorkRepo other(outside.path() / "other");
  test::write_chart(other, "c", "c", "1.0.0");
  fs::create_directory_symlink(outside.path() / "other", t.repo.dir() / "link-out");
  fs::create_directory_symlink(t.repo.dir() / "charts", t.repo.dir() / "link-in");

  expect_error([&] { discover_charts(t.repo.dir(), "../other"); }, Errc::forbidden, "../other");
  expect_error([&] { discover_charts(t.repo.dir(), "charts/../../x"); }, Errc::forbidden, "charts/../../x");
  expect_error([&] { discover_charts(t.repo.dir(), "/etc"); }, Errc::forbidden, "/etc");
  expect_error([&] { discover_charts(t.repo.dir(), "link-out"); }, Errc::forbidden, "link-out");
  expect_error([&] { discover_charts(t.repo.dir(), "missing"); }, Errc::not_found, "missing");
  expect_error([&] { discover_charts(t.repo.dir(), "file.txt"); }, Errc::not_found, "file.txt");
  // A symlink staying inside the repository is an acceptable starting point.
  CHECK(discover_charts(t.repo.dir(), "link-in") == std::vector<std::string>{"link-in/web"});
  expect_error([&] { discover_charts(t.tmp.path() / "nope"); }, Errc::not_found, (t.tmp.path() / "nope").string());
}

TEST_CASE("a folder whose Chart.yaml is a symlink is a chart, so its fate gets reported") {
  Tree t;
  test::write_chart(t.repo, "charts/web", "web", "1.0.0");
  fs::create_directories(t.repo.dir() / "charts" / "linked");
  t.repo.symlink("charts/linked/Chart.yaml", "../web/Chart.yaml");
  fs::create_directories(t.repo.dir() / "charts" / "dangling");
  t.repo.symlink("charts/dangling/Chart.yaml", "/nonexistent/Chart.yaml");
  CHECK(discover_charts(t.repo.dir(), "") ==
        std::vector<std::string>{"charts/dangling", "charts/linked", "charts/web"});
}
