// Charts packaged straight from the commit's objects (git::Tree): the same bytes a
// checkout of the commit packages to, Helm's rules on tree entries (links, ignore
// rules, size limits, names that are not UTF-8, exec bits, CRLF), and no worktree
// written at any time of a sync. Real repos served by `git daemon` on 127.0.0.1.
#include <sys/inotify.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <map>
#include <set>

#include "cmop/chart/metadata.hpp"
#include "cmop/deps/resolver.hpp"
#include "cmop/error.hpp"
#include "cmop/package/archive.hpp"
#include "cmop/package/packager.hpp"
#include "hostile/hostile_fixtures.hpp"
#include "support/process.hpp"
#include "support/sync_report.hpp"

using namespace cmop;
using Status = sync::ChartOutcome::Status;
namespace fs = std::filesystem;

namespace {

std::vector<package::TarEntry> entries_of(const fs::path& tgz) {
  return package::read_tgz(test::slurp(tgz), 5 << 20, 100 << 20);
}

const package::TarEntry* find_entry(const std::vector<package::TarEntry>& entries, const std::string& name) {
  for (auto& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

// Packages `chart` from a `git clone` checkout of the work repo's HEAD, as a folder.
std::string package_from_checkout(test::SyncedRepo& r, const std::string& chart) {
  const fs::path clone = r.tmp.path() / "checkout";
  fs::remove_all(clone);
  test::run_ok({test::git(), "clone", "-q", r.bare.string(), clone.string()});
  auto md = chart::parse_chart_yaml(util::read_file(clone / chart / "Chart.yaml"), chart);
  deps::Resolver resolver(r.tmp.path() / "resolver-cache");
  auto res = resolver.resolve(md, clone / chart, clone, {});
  package::PackageInput in{clone, chart, res.archives, res.local_subcharts, res.lock_yaml, {}};
  return package::package_chart(in).bytes;
}

}  // namespace

TEST_CASE("a chart packaged from the commit's objects is byte for byte the package of its checkout") {
  test::SyncedRepo r;
  const std::string latin1_name = "files/caf\xE9-na\xEFve.txt";  // ISO-8859-1 bytes, not UTF-8
  test::write_chart(r.work, "charts/tricky", "tricky", "1.0.0",
                    "dependencies:\n- name: lib\n  version: 0.1.0\n  repository: file://../lib\n"
                    "- name: sub\n  version: 2.0.0\n");
  test::write_chart(r.work, "charts/tricky/charts/sub", "sub", "2.0.0");
  test::write_chart(r.work, "charts/lib", "lib", "0.1.0");
  r.work.write("charts/tricky/.helmignore", "*.bak\nignored-dir/\nleak\n");
  r.work.write("charts/tricky/old.bak", "not shipped\n");
  r.work.write("charts/tricky/ignored-dir/x.txt", "not shipped\n");
  r.work.write("charts/tricky/" + latin1_name, "bytes of a latin-1 name\n");
  r.work.write("charts/tricky/templates/crlf.yaml", "kind: ConfigMap\r\ndata:\r\n  a: \"1\"\r\n");
  r.work.write("charts/tricky/files/run.sh", "#!/bin/sh\necho hi\n");
  fs::permissions(r.work.dir() / "charts/tricky/files/run.sh", fs::perms::owner_exec | fs::perms::group_exec,
                  fs::perm_options::add);
  r.work.write("common/common.txt", "shared by links\n");
  r.work.write("common/dir/one.txt", "one\n");
  r.work.symlink("charts/tricky/files/shared.txt", "../../../common/common.txt");
  r.work.symlink("charts/tricky/files/linked-dir", "../../../common/dir");
  r.work.symlink("charts/tricky/files/chain", "shared.txt");   // a link to a link
  r.work.symlink("charts/tricky/leak", "/etc/passwd");         // escapes, but ignored: skipped unread
  r.publish_commit("tricky chart");

  auto report = r.workspace()->apply(r.spec());
  INFO(report.error);
  for (auto& c : report.charts) INFO(c.path << ": " << c.reason);
  REQUIRE(test::outcome(report, "charts/tricky").status == Status::published);

  const std::string from_tree = test::slurp(r.out / "tricky-1.0.0.tgz");
  CHECK(from_tree == package_from_checkout(r, "charts/tricky"));

  auto entries = entries_of(r.out / "tricky-1.0.0.tgz");
  for (auto& e : entries) CHECK(e.mode == 0644);  // Helm writes every file 0644, exec bit or not
  REQUIRE(find_entry(entries, "tricky/" + latin1_name));
  CHECK(find_entry(entries, "tricky/templates/crlf.yaml")->content == "kind: ConfigMap\r\ndata:\r\n  a: \"1\"\r\n");
  CHECK(find_entry(entries, "tricky/files/shared.txt")->content == "shared by links\n");
  CHECK(find_entry(entries, "tricky/files/chain")->content == "shared by links\n");
  CHECK(find_entry(entries, "tricky/files/linked-dir/one.txt")->content == "one\n");
  CHECK(find_entry(entries, "tricky/files/run.sh"));
  CHECK(find_entry(entries, "tricky/charts/lib/Chart.yaml"));
  CHECK(find_entry(entries, "tricky/charts/sub/Chart.yaml"));
  CHECK_FALSE(find_entry(entries, "tricky/old.bak"));
  CHECK_FALSE(find_entry(entries, "tricky/ignored-dir/x.txt"));
  CHECK_FALSE(find_entry(entries, "tricky/leak"));

  // A change to the linked file outside the chart folder changes the package.
  r.work.write("common/common.txt", "changed outside the chart\n");
  r.work.write("charts/tricky/Chart.yaml",
               "apiVersion: v2\nname: tricky\nversion: 1.0.1\ndependencies:\n- name: lib\n  version: 0.1.0\n"
               "  repository: file://../lib\n- name: sub\n  version: 2.0.0\n");
  r.publish_commit("shared file changed");
  auto next = r.workspace()->update("hostile");
  REQUIRE(test::outcome(next, "charts/tricky").status == Status::published);
  CHECK(find_entry(entries_of(r.out / "tricky-1.0.1.tgz"), "tricky/files/shared.txt")->content ==
        "changed outside the chart\n");
}

TEST_CASE("links, limits and ignore rules hold on tree entries as they did on a checkout") {
  test::SyncedRepo r;
  // Exactly at Helm's 5 MiB per-file limit is fine; one byte more refuses the chart by size.
  test::write_chart(r.work, "charts/edge", "edge", "1.0.0");
  r.work.write("charts/edge/files/edge.bin", std::string(5u << 20, 'e'));
  test::write_chart(r.work, "charts/over", "over", "1.0.0");
  r.work.write("charts/over/files/over.bin", std::string((5u << 20) + 1, 'o'));
  // A Chart.yaml over the limit is refused before it is read.
  r.work.write("charts/huge-meta/Chart.yaml", "apiVersion: v2\nname: huge\nversion: 1.0.0\n" +
                                                  std::string(5u << 20, '#'));
  // A link through a file as if it were a folder is broken; so is a dangling one.
  test::write_chart(r.work, "charts/notdir", "notdir", "1.0.0");
  r.work.symlink("charts/notdir/files/x", "../values.yaml/inner");
  // The chart's Chart.yaml is a link to another chart's inside the repo.
  r.work.write("meta/linked.yaml", "apiVersion: v2\nname: vialink\nversion: 3.0.0\n");
  r.work.symlink("charts/vialink/Chart.yaml", "../../meta/linked.yaml");
  // Links that loop.
  test::write_chart(r.work, "charts/pingpong", "pingpong", "1.0.0");
  r.work.symlink("charts/pingpong/files/a", "b");
  r.work.symlink("charts/pingpong/files/b", "a");
  // A .helmignore that is itself a link inside the chart.
  test::write_chart(r.work, "charts/ignoring", "ignoring", "1.0.0");
  r.work.write("charts/ignoring/rules.txt", "secret.txt\n");
  r.work.symlink("charts/ignoring/.helmignore", "rules.txt");
  r.work.write("charts/ignoring/secret.txt", "not shipped\n");
  r.publish_commit("edge cases");

  auto report = r.workspace()->apply(r.spec());
  INFO(report.error);
  CHECK(report.error.empty());
  CHECK(test::outcome(report, "charts/edge").status == Status::published);
  auto& over = test::outcome(report, "charts/over");
  CHECK(over.status == Status::failed);
  CHECK_THAT(over.reason, Catch::Contains("charts/over/files/over.bin") && Catch::Contains("5242881 bytes") &&
                              Catch::Contains("5242880"));
  auto& meta = test::outcome(report, "charts/huge-meta");
  CHECK(meta.status == Status::failed);
  CHECK_THAT(meta.reason, Catch::Contains("Chart.yaml") && Catch::Contains("bytes"));
  auto& notdir = test::outcome(report, "charts/notdir");
  CHECK(notdir.status == Status::failed);
  CHECK_THAT(notdir.reason, Catch::Contains("charts/notdir/files/x") && Catch::Contains("broken symlink"));
  auto& pingpong = test::outcome(report, "charts/pingpong");
  CHECK(pingpong.status == Status::failed);
  CHECK_THAT(pingpong.reason, Catch::Contains("broken symlink") && Catch::Contains("too many levels"));
  CHECK(test::outcome(report, "charts/vialink").status == Status::published);
  CHECK(fs::exists(r.out / "vialink-3.0.0.tgz"));
  REQUIRE(test::outcome(report, "charts/ignoring").status == Status::published);
  auto ignoring = entries_of(r.out / "ignoring-1.0.0.tgz");
  CHECK_FALSE(find_entry(ignoring, "ignoring/secret.txt"));
  CHECK(find_entry(ignoring, "ignoring/rules.txt"));
}

TEST_CASE("a sync writes no worktree: only the mirror's objects and the current commit id change") {
  test::SyncedRepo r;
  test::write_chart(r.work, "charts/other", "other", "1.0.0");
  r.publish_commit("two charts");
  auto ws = r.workspace();
  REQUIRE(ws->apply(r.spec()).ok());
  const fs::path mirror = r.state / "clones" / "hostile";
  auto top_level = [&] {
    std::set<std::string> names;
    for (auto& e : fs::directory_iterator(mirror)) names.insert(e.path().filename().string());
    return names;
  };
  CHECK(top_level() == std::set<std::string>{"current", "repo.git", "sync.lock"});

  // Watch every directory of the state dir while a new commit is synced.
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  REQUIRE(fd >= 0);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  std::map<int, fs::path> watched;
  auto watch = [&](const fs::path& dir) {
    int wd = ::inotify_add_watch(fd, dir.c_str(), IN_CREATE | IN_MOVED_TO);
    REQUIRE(wd >= 0);
    watched[wd] = dir;
  };
  watch(r.state);
  for (auto& e : fs::recursive_directory_iterator(r.state))
    if (e.is_directory() && !e.is_symlink()) watch(e.path());

  r.work.write("charts/other/templates/new.yaml", "kind: ConfigMap\n");
  r.work.write("charts/other/Chart.yaml", "apiVersion: v2\nname: other\nversion: 1.1.0\n");
  r.publish_commit("change one chart");
  auto report = ws->update("hostile");
  REQUIRE(report.ok());
  REQUIRE(test::outcome(report, "charts/other").status == Status::published);

  std::vector<std::string> created;  // outside the mirror's repo.git
  alignas(inotify_event) char buf[64 * 1024];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) {
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + ev->len;
      if (!watched.count(ev->wd) || ev->len == 0) continue;
      fs::path where = watched[ev->wd] / ev->name;
      std::string rel = where.lexically_relative(mirror).generic_string();
      if (rel == "repo.git" || rel.rfind("repo.git/", 0) == 0) continue;  // the fetch's objects and refs
      created.push_back(where.lexically_relative(r.state).generic_string() +
                        ((ev->mask & IN_ISDIR) ? "/" : ""));
    }
  }
  INFO("created: " << [&] {
    std::string all;
    for (auto& c : created) all += c + " ";
    return all;
  }());
  for (auto& c : created) {
    CHECK(c.back() != '/');  // no directory at all: no checkout, no staging folder
    CHECK(c.find("Chart.yaml") == std::string::npos);
    CHECK(c.find("templates") == std::string::npos);
  }
  CHECK(std::find(created.begin(), created.end(), "clones/hostile/current") != created.end());
  CHECK(top_level() == std::set<std::string>{"current", "repo.git", "sync.lock"});
}
