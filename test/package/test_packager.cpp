// package_chart on real chart trees; archives inspected with the real tar/gzip.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cmop/chart/metadata.hpp"
#include "cmop/error.hpp"
#include "cmop/package/archive.hpp"
#include "cmop/package/packager.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "support/process.hpp"
#include "support/error_of.hpp"
#include "package_fixtures.hpp"

namespace fs = std::filesystem;
using namespace cmop;
using cmop::test::put;
using cmop::test::run_ok;

namespace {

std::string chart_yaml(const std::string& name, const std::string& version, const std::string& extra = "") {
  return "apiVersion: v2\nname: " + name + "\nversion: " + version + "\ndescription: chart " + name + "\n" + extra;
}

// A small chart with templates, other files and a .helmignore.
void basic_chart(const fs::path& dir, const std::string& name = "web", const std::string& version = "1.2.3") {
  put(dir, "Chart.yaml", chart_yaml(name, version));
  put(dir, "values.yaml", "replicas: 2\n");
  put(dir, "values.schema.json", "{\"type\": \"object\"}\n");
  put(dir, "templates/deployment.yaml", "kind: Deployment\n");
  put(dir, "templates/_helpers.tpl", "{{/* helpers */}}\n");
  put(dir, "templates/.hidden.yaml", "never packaged\n");
  put(dir, "README.md", "# web\n");
  put(dir, "files/config/app.conf", "key=value\n");
  put(dir, "files/config.txt", "after the config dir\n");
  put(dir, ".helmignore", "*.bak\n");
  put(dir, "notes.bak", "ignored\n");
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

fs::path save(const fs::path& dir, const package::Package& pkg) {
  fs::path p = dir / pkg.filename;
  std::ofstream(p, std::ios::binary) << pkg.bytes;
  return p;
}

// Members as GNU tar lists them, after gzip's own integrity check.
std::vector<std::string> tar_members(const fs::path& tgz) {
  run_ok({"gzip", "-t", tgz.string()});
  return lines(run_ok({"tar", "-tzf", tgz.string()}));
}

std::string tar_cat(const fs::path& tgz, const std::string& member) {
  return run_ok({"tar", "-xzOf", tgz.string(), member});
}

package::Package pack(const fs::path& root, const std::string& chart_dir, package::Limits limits = {}) {
  package::PackageInput in;
  in.clone_root = root;
  in.chart_dir = chart_dir;
  return package::package_chart(in, limits);
}

}  // namespace

TEST_CASE("package_chart writes Helm's member order and re-serialized Chart.yaml", "[packager]") {
  util::TempDir repo, out;
  basic_chart(repo.path() / "charts-src/web");
  auto pkg = pack(repo.path(), "charts-src/web");

  CHECK(pkg.filename == "web-1.2.3.tgz");
  CHECK(pkg.metadata.name == "web");
  CHECK(pkg.digest == util::sha256_hex(pkg.bytes));
  std::vector<std::string> expected = {
      "web/Chart.yaml",          "web/values.yaml",          "web/values.schema.json",
      "web/templates/_helpers.tpl", "web/templates/deployment.yaml", "web/.helmignore",
      "web/README.md",           "web/files/config/app.conf", "web/files/config.txt",
  };
  CHECK(pkg.files == expected);
  fs::path tgz = save(out.path(), pkg);
  CHECK(tar_members(tgz) == expected);

  auto md = chart::parse_chart_yaml(chart_yaml("web", "1.2.3"), "Chart.yaml");
  CHECK(tar_cat(tgz, "web/Chart.yaml") == chart::to_helm_yaml(md));
  CHECK(tar_cat(tgz, "web/values.yaml") == "replicas: 2\n");
  CHECK(tar_cat(tgz, "web/files/config/app.conf") == "key=value\n");
  CHECK(run_ok({"sha256sum", tgz.string()}).substr(0, 64) == pkg.digest);

  // Every entry: mode 0644, root-owned, the fixed timestamp.
  auto verbose = lines(run_ok({"tar", "--numeric-owner", "--utc", "-tvzf", tgz.string()}));
  for (auto& row : verbose) CHECK(row.rfind("-rw-r--r-- 0/0", 0) == 0);
  for (auto& row : verbose) CHECK(row.find("1980-01-01 00:00") != std::string::npos);
}

TEST_CASE("package_chart is reproducible across runs, copies and mtimes", "[packager]") {
  util::TempDir a, b;
  basic_chart(a.path() / "web");
  auto first = pack(a.path(), "web");
  auto second = pack(a.path(), "web");
  CHECK(first.bytes == second.bytes);

  run_ok({"cp", "-r", (a.path() / "web").string(), (b.path() / "elsewhere").string()});
  run_ok({"find", (b.path() / "elsewhere").string(), "-exec", "touch", "-d", "2001-02-03 04:05:06", "{}", "+"});
  auto copy = pack(b.path(), "elsewhere");
  CHECK(copy.digest == first.digest);

  // A byte of content does change the digest.
  put(b.path() / "elsewhere", "README.md", "# web!\n");
  CHECK(pack(b.path(), "elsewhere").digest != first.digest);
}

TEST_CASE(".helmignore follows Helm's rules", "[packager]") {
  util::TempDir repo;
  fs::path c = repo.path() / "c";
  put(c, "Chart.yaml", chart_yaml("c", "0.1.0"));
  put(c, ".helmignore",
      "# comment\n"
      "*.tmp\n"      // base-name pattern: any depth
      "build/\n"     // directory pattern: directories only
      "docs/*.md\n");
  put(c, "a.tmp", "x");
  put(c, "deep/down/b.tmp", "x");
  put(c, "build/out.txt", "x");
  put(c, "build/nested/more.txt", "x");
  put(c, "sub/build", "a file named build is kept");
  put(c, "docs/guide.md", "x");
  put(c, "docs/keep.txt", "kept");
  put(c, "templates/.hidden", "x");
  put(c, "templates/ok.yaml", "kind: ConfigMap\n");
  put(c, "keep.txt", "kept");

  auto pkg = pack(repo.path(), "c");
  CHECK(std::find(pkg.files.begin(), pkg.files.end(), "c/keep.txt") != pkg.files.end());
  CHECK(std::find(pkg.files.begin(), pkg.files.end(), "c/docs/keep.txt") != pkg.files.end());
  CHECK(std::find(pkg.files.begin(), pkg.files.end(), "c/sub/build") != pkg.files.end());
  CHECK(std::find(pkg.files.begin(), pkg.files.end(), "c/templates/ok.yaml") != pkg.files.end());
  CHECK(std::find(pkg.files.begin(), pkg.files.end(), "c/.helmignore") != pkg.files.end());
  for (auto& gone : {"c/a.tmp", "c/deep/down/b.tmp", "c/build/out.txt", "c/build/nested/more.txt",
                     "c/docs/guide.md", "c/templates/.hidden"})
    CHECK(std::find(pkg.files.begin(), pkg.files.end(), gone) == pkg.files.end());

  SECTION("an ignored directory is not even read") {
    // An unreadable fifo inside an ignored dir would fail the walk if it were visited.
    REQUIRE(::mkfifo((c / "build/pipe").c_str(), 0644) == 0);
    CHECK_NOTHROW(pack(repo.path(), "c"));
  }
}

TEST_CASE("nothing outside the clone is ever packaged", "[packager]") {
  util::TempDir outer;
  fs::path repo = outer.path() / "repo";
  fs::path c = repo / "c";
  basic_chart(c, "c", "0.1.0");
  put(outer.path(), "outside/secret.txt", "top secret");

  SECTION("symlink to /etc/passwd") {
    fs::create_symlink("/etc/passwd", c / "passwd");
    auto err = test::error_of([&] { pack(repo, "c"); });
    CHECK(err.code() == Errc::forbidden);
    CHECK(err.subject() == "c/passwd");
    CHECK(err.reason() == "symlink escapes the repository");
  }
  SECTION("symlink to a directory outside") {
    fs::create_directory_symlink("../../../outside", c / "files/linked");
    auto err = test::error_of([&] { pack(repo, "c"); });
    CHECK(err.code() == Errc::forbidden);
    CHECK(err.subject() == "c/files/linked");
  }
  SECTION("relative file symlink climbing out") {
    fs::create_symlink("../../../outside/secret.txt", c / "templates/secret.yaml");
    auto err = test::error_of([&] { pack(repo, "c"); });
    CHECK(err.code() == Errc::forbidden);
    CHECK(err.subject() == "c/templates/secret.yaml");
  }
  SECTION("the chart directory itself is a symlink out of the clone") {
    fs::create_directory_symlink("../outside", repo / "escape");
    put(outer.path(), "outside/Chart.yaml", chart_yaml("o", "1.0.0"));
    auto err = test::error_of([&] { pack(repo, "escape"); });
    CHECK(err.code() == Errc::forbidden);
    CHECK(test::error_of([&] { pack(repo, "../outside"); }).code() == Errc::forbidden);
  }
  SECTION("an escaping symlink that .helmignore excludes is never read") {
    fs::create_symlink("/etc/passwd", c / "passwd.bak");
    CHECK_NOTHROW(pack(repo, "c"));
  }
  SECTION("a fifo is refused") {
    REQUIRE(::mkfifo((c / "pipe").c_str(), 0644) == 0);
    auto err = test::error_of([&] { pack(repo, "c"); });
    CHECK(err.code() == Errc::invalid_chart);
    CHECK(err.subject() == "c/pipe");
  }
}

TEST_CASE("symlinks inside the clone are followed like Helm does", "[packager]") {
  util::TempDir repo;
  fs::path c = repo.path() / "c";
  basic_chart(c, "c", "0.1.0");
  put(repo.path(), "common/common.yaml", "shared: true\n");
  put(repo.path(), "common/dir/inner.txt", "inner\n");
  fs::create_symlink("../../common/common.yaml", c / "templates/common.yaml");
  fs::create_directory_symlink("../common/dir", c / "linked");

  auto pkg = pack(repo.path(), "c");
  fs::path tgz = save(repo.path(), pkg);
  auto members = tar_members(tgz);
  CHECK(std::find(members.begin(), members.end(), "c/templates/common.yaml") != members.end());
  CHECK(std::find(members.begin(), members.end(), "c/linked/inner.txt") != members.end());
  CHECK(tar_cat(tgz, "c/templates/common.yaml") == "shared: true\n");
  CHECK(tar_cat(tgz, "c/linked/inner.txt") == "inner\n");

  SECTION("a symlink loop is reported, not followed forever") {
    fs::create_directory_symlink("..", c / "files/loop");
    auto err = test::error_of([&] { pack(repo.path(), "c"); });
    CHECK(err.code() == Errc::invalid_chart);
    CHECK(err.subject() == "c/files/loop");
  }
}

TEST_CASE("size limits name the offending file", "[packager]") {
  util::TempDir repo;
  fs::path c = repo.path() / "c";
  basic_chart(c, "c", "0.1.0");
  put(c, "files/big.bin", std::string(6 << 20, 'x'));
  auto err = test::error_of([&] { pack(repo.path(), "c"); });
  CHECK(err.code() == Errc::too_large);
  CHECK(err.subject() == "c/files/big.bin");

  fs::remove(c / "files/big.bin");
  put(c, "files/a.bin", std::string(3000, 'a'));
  put(c, "files/b.bin", std::string(3000, 'b'));
  package::Limits small{4000, 5000};
  auto total = test::error_of([&] { pack(repo.path(), "c", small); });
  CHECK(total.code() == Errc::too_large);
  CHECK(total.subject() == "c/files/b.bin");
}

TEST_CASE("invalid chart content is reported with path and reason", "[packager]") {
  util::TempDir repo;
  fs::path c = repo.path() / "c";
  basic_chart(c, "c", "0.1.0");

  SECTION("malformed Chart.yaml") {
    put(c, "Chart.yaml", "apiVersion: v2\nname: [unclosed\n");
    auto err = test::error_of([&] { pack(repo.path(), "c"); });
    CHECK(err.code() == Errc::invalid_chart);
    CHECK(err.subject() == "c/Chart.yaml");
    CHECK_FALSE(err.reason().empty());
  }
  SECTION("version is not SemVer") {
    put(c, "Chart.yaml", chart_yaml("c", "one.two"));
    auto err = test::error_of([&] { pack(repo.path(), "c"); });
    CHECK(err.code() == Errc::invalid_chart);
    CHECK(err.subject() == "c/Chart.yaml");
    CHECK(err.reason().find("version") != std::string::npos);
  }
  SECTION("missing Chart.yaml") {
    fs::remove(c / "Chart.yaml");
    auto err = test::error_of([&] { pack(repo.path(), "c"); });
    CHECK(err.code() == Errc::invalid_chart);
    CHECK(err.reason() == "Chart.yaml file is missing");
  }
  SECTION("values.yaml must be a mapping") {
    put(c, "values.yaml", "- a\n- b\n");
    auto err = test::error_of([&] { pack(repo.path(), "c"); });
    CHECK(err.code() == Errc::invalid_chart);
    CHECK(err.subject() == "c/values.yaml");
  }
  SECTION("values.yaml must be valid YAML, as Helm's loader requires") {
    put(c, "values.yaml", "replicas: [1, 2\n");
    auto err = test::error_of([&] { pack(repo.path(), "c"); });
    CHECK(err.code() == Errc::invalid_chart);
    CHECK(err.subject() == "c/values.yaml");
    CHECK_THAT(err.reason(), Catch::StartsWith("cannot load values.yaml"));
  }
  SECTION("values.yaml with an alias bomb is refused without expanding it") {
    std::string bomb = "l0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i <= 12; ++i) {  // 10^12 nodes if expanded
      bomb += "l" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
      for (int k = 0; k < 10; ++k) bomb += std::string(k ? ", " : "") + "*a" + std::to_string(i - 1);
      bomb += "]\n";
    }
    put(c, "values.yaml", bomb);
    auto err = test::error_of([&] { pack(repo.path(), "c"); });
    CHECK(err.code() == Errc::invalid_chart);
    CHECK(err.subject() == "c/values.yaml");
    CHECK(err.reason() == "cannot load values.yaml: yaml: document contains excessive aliasing");
  }
  SECTION("values.schema.json must be JSON") {
    put(c, "values.schema.json", "{\"type\": }");
    auto err = test::error_of([&] { pack(repo.path(), "c"); });
    CHECK(err.code() == Errc::invalid_chart);
    CHECK(err.subject() == "c/values.schema.json");
  }
  SECTION("a deeply nested values.schema.json is parsed without recursion") {
    // 2 MiB of nesting would overflow a recursive parser's stack and kill the sidecar.
    put(c, "values.schema.json", std::string(2u << 20, '[') + std::string(2u << 20, ']'));
    CHECK_NOTHROW(pack(repo.path(), "c"));
  }
}

TEST_CASE("subcharts are written as charts/<name>/ directories", "[packager]") {
  util::TempDir repo, work;
  fs::path c = repo.path() / "parent";
  basic_chart(c, "parent", "2.0.0");

  // A vendored .tgz made by GNU tar, as `helm dependency build` leaves it.
  fs::path sub_src = work.path() / "db";
  put(sub_src, "Chart.yaml", chart_yaml("db", "0.3.0"));
  put(sub_src, "values.yaml", "port: 5432\n");
  put(sub_src, "templates/svc.yaml", "kind: Service\n");
  fs::create_directories(c / "charts");
  run_ok({"tar", "-czf", (c / "charts/db-0.3.0.tgz").string(), "-C", work.path().string(), "db"});
  // A vendored directory subchart.
  put(c, "charts/cache/Chart.yaml", chart_yaml("cache", "1.0.0"));
  put(c, "charts/cache/templates/cm.yaml", "kind: ConfigMap\n");
  // Helm skips charts/_* and charts/.*
  put(c, "charts/_scratch/Chart.yaml", "not: a chart\n");
  put(c, "charts/.gitkeep", "");

  // A downloaded dependency, handed over by the resolver.
  fs::path dl = repo.path() / "dl";
  put(dl, "Chart.yaml", chart_yaml("queue", "4.5.6"));
  put(dl, "templates/q.yaml", "kind: StatefulSet\n");
  auto downloaded = pack(repo.path(), "dl");
  fs::remove_all(dl);

  package::PackageInput in;
  in.clone_root = repo.path();
  in.chart_dir = "parent";
  in.archives.push_back({"queue", "4.5.6", downloaded.bytes});
  in.lock_yaml = "dependencies:\n- name: queue\n  repository: https://example.com/charts\n  version: 4.5.6\n"
                 "digest: sha256:0000\ngenerated: \"2024-01-02T03:04:05Z\"\n";
  auto pkg = package::package_chart(in);
  fs::path tgz = save(work.path(), pkg);
  auto members = tar_members(tgz);
  CHECK(members == pkg.files);
  std::vector<std::string> expected = {
      "parent/Chart.yaml",
      "parent/Chart.lock",
      "parent/values.yaml",
      "parent/values.schema.json",
      "parent/templates/_helpers.tpl",
      "parent/templates/deployment.yaml",
      "parent/.helmignore",
      "parent/README.md",
      "parent/files/config/app.conf",
      "parent/files/config.txt",
      "parent/charts/cache/Chart.yaml",
      "parent/charts/cache/templates/cm.yaml",
      "parent/charts/db/Chart.yaml",
      "parent/charts/db/values.yaml",
      "parent/charts/db/templates/svc.yaml",
      "parent/charts/queue/Chart.yaml",
      "parent/charts/queue/templates/q.yaml",
  };
  CHECK(members == expected);
  CHECK(tar_cat(tgz, "parent/Chart.lock") == in.lock_yaml);
  CHECK(tar_cat(tgz, "parent/charts/db/values.yaml") == "port: 5432\n");

  SECTION("a hand-formatted lock is packaged as Helm marshals it") {
    package::PackageInput hand = in;
    hand.lock_yaml = "# pinned by hand\ngenerated: '2024-01-02T03:04:05Z'\ndigest: sha256:0000\ndependencies:\n"
                     "  - version: 4.5.6\n    name: queue\n    repository: https://example.com/charts\n";
    auto repacked = package::package_chart(hand);
    CHECK(tar_cat(save(work.path(), repacked), "parent/Chart.lock") == in.lock_yaml);
  }
  CHECK(tar_cat(tgz, "parent/charts/queue/templates/q.yaml") == "kind: StatefulSet\n");

  SECTION("a download supersedes a vendored archive of the same chart") {
    in.archives.push_back({"db", "0.4.0", [&] {
                             fs::path d = repo.path() / "db2";
                             put(d, "Chart.yaml", chart_yaml("db", "0.4.0"));
                             auto p = pack(repo.path(), "db2");
                             fs::remove_all(d);
                             return p.bytes;
                           }()});
    auto replaced = package::package_chart(in);
    fs::path t = save(work.path(), replaced);
    CHECK(tar_cat(t, "parent/charts/db/Chart.yaml").find("version: 0.4.0") != std::string::npos);
    CHECK(std::find(replaced.files.begin(), replaced.files.end(), "parent/charts/db/values.yaml") ==
          replaced.files.end());
  }
  SECTION("a file:// dependency inside the clone is packaged from its directory") {
    put(repo.path(), "libs/common/Chart.yaml", chart_yaml("common", "0.0.1", "type: library\n"));
    put(repo.path(), "libs/common/templates/_lib.tpl", "{{- define \"lib\" }}{{ end }}\n");
    put(repo.path(), "libs/common/.helmignore", "*.md\n");
    put(repo.path(), "libs/common/NOTES.md", "ignored by its own .helmignore\n");
    in.local_subcharts.push_back({repo.path() / "libs/common"});
    auto with_local = package::package_chart(in);
    CHECK(std::find(with_local.files.begin(), with_local.files.end(), "parent/charts/common/templates/_lib.tpl") !=
          with_local.files.end());
    CHECK(std::find(with_local.files.begin(), with_local.files.end(), "parent/charts/common/NOTES.md") ==
          with_local.files.end());
  }
  SECTION("a file:// dependency outside the clone is refused") {
    put(work.path(), "ext/Chart.yaml", chart_yaml("ext", "1.0.0"));
    in.local_subcharts.push_back({work.path() / "ext"});
    CHECK(test::error_of([&] { package::package_chart(in); }).code() == Errc::forbidden);
  }
  SECTION("a stray file in charts/ fails like Helm") {
    put(c, "charts/README.md", "not a chart\n");
    auto err = test::error_of([&] { package::package_chart(in); });
    CHECK(err.code() == Errc::invalid_chart);
    CHECK(err.subject() == "parent/charts/README.md");
  }
  SECTION("an invalid subchart is reported with its location") {
    put(c, "charts/cache/Chart.yaml", chart_yaml("cache", "not-a-version"));
    auto err = test::error_of([&] { package::package_chart(in); });
    CHECK(err.code() == Errc::invalid_chart);
    CHECK(err.subject() == "parent/charts/cache/Chart.yaml");
  }
}

TEST_CASE("v1 charts keep requirements.yaml and drop dependencies from Chart.yaml", "[packager]") {
  util::TempDir repo;
  fs::path c = repo.path() / "old";
  put(c, "Chart.yaml", "apiVersion: v1\nname: old\nversion: 0.9.0\n");
  put(c, "requirements.yaml", "dependencies:\n- name: dep\n  version: 1.x\n  repository: https://example.com\n");
  put(c, "templates/a.yaml", "a: 1\n");
  put(c, "charts/dep/Chart.yaml", "apiVersion: v1\nname: dep\nversion: 1.2.0\n");
  auto pkg = pack(repo.path(), "old");
  CHECK(pkg.files == std::vector<std::string>{"old/Chart.yaml", "old/templates/a.yaml", "old/requirements.yaml",
                                              "old/charts/dep/Chart.yaml"});
  fs::path tgz = save(repo.path(), pkg);
  CHECK(tar_cat(tgz, "old/Chart.yaml").find("dependencies") == std::string::npos);
  CHECK(pkg.metadata.dependencies.size() == 1);
}

TEST_CASE("paths longer than 100 bytes survive the round trip", "[packager]") {
  util::TempDir repo;
  fs::path c = repo.path() / "c";
  basic_chart(c, "c", "0.1.0");
  std::string deep = "files/" + std::string(80, 'a') + "/" + std::string(80, 'b') + "/" + std::string(120, 'z') + ".txt";
  put(c, deep, "deep content\n");
  auto pkg = pack(repo.path(), "c");
  fs::path tgz = save(repo.path(), pkg);
  auto members = tar_members(tgz);
  CHECK(std::find(members.begin(), members.end(), "c/" + deep) != members.end());
  CHECK(tar_cat(tgz, "c/" + deep) == "deep content\n");

  auto entries = package::read_tgz(pkg.bytes, 5 << 20, 100 << 20);
  auto found = std::find_if(entries.begin(), entries.end(), [&](auto& e) { return e.name == "c/" + deep; });
  REQUIRE(found != entries.end());
  CHECK(found->content == "deep content\n");
}

TEST_CASE("a Chart.lock found in the chart is re-serialized as Helm writes it", "[packager]") {
  util::TempDir repo;
  fs::path c = repo.path() / "c";
  basic_chart(c, "c", "0.1.0");
  put(c, "Chart.lock",
      "generated: 2024-01-02T03:04:05.120000+00:00\n"
      "digest: sha256:abc\n"
      "dependencies:\n- name: dep\n  repository: https://example.com/charts\n  version: 1.0.0\n");
  auto pkg = pack(repo.path(), "c");
  REQUIRE(pkg.files.size() > 2);
  CHECK(pkg.files[1] == "c/Chart.lock");
  fs::path tgz = save(repo.path(), pkg);
  std::string lock = tar_cat(tgz, "c/Chart.lock");
  chart::Metadata deps_only;
  deps_only.dependencies = chart::parse_chart_yaml(
      "dependencies:\n- name: dep\n  repository: https://example.com/charts\n  version: 1.0.0\n", "x").dependencies;
  CHECK(lock == chart::to_helm_yaml(deps_only) + "digest: sha256:abc\ngenerated: \"2024-01-02T03:04:05.12Z\"\n");

  SECTION("an empty Chart.lock is dropped, as Helm loads it as no lock") {
    put(c, "Chart.lock", "");
    auto p = pack(repo.path(), "c");
    CHECK(std::find(p.files.begin(), p.files.end(), "c/Chart.lock") == p.files.end());
  }
  SECTION("a malformed Chart.lock is an invalid chart") {
    put(c, "Chart.lock", "generated: yesterday\n");
    auto err = test::error_of([&] { pack(repo.path(), "c"); });
    CHECK(err.code() == Errc::invalid_chart);
    CHECK(err.subject() == "c/Chart.lock");
  }
}

TEST_CASE("a v1 chart gets the resolved lock as requirements.lock in walk order", "[packager]") {
  util::TempDir repo;
  fs::path c = repo.path() / "old";
  put(c, "Chart.yaml", "apiVersion: v1\nname: old\nversion: 0.9.0\n");
  put(c, "README.md", "r\n");
  put(c, "zz.txt", "z\n");
  package::PackageInput in;
  in.clone_root = repo.path();
  in.chart_dir = "old";
  in.lock_yaml = "dependencies: []\ndigest: sha256:1\ngenerated: \"2024-01-01T00:00:00Z\"\n";
  auto pkg = package::package_chart(in);
  CHECK(pkg.files ==
        std::vector<std::string>{"old/Chart.yaml", "old/README.md", "old/requirements.lock", "old/zz.txt"});
  CHECK(tar_cat(save(repo.path(), pkg), "old/requirements.lock") == in.lock_yaml);
}

TEST_CASE("a chart at the clone root never packages the clone's .git", "[packager]") {
  util::TempDir repo;
  basic_chart(repo.path(), "root", "1.0.0");
  put(repo.path(), ".git/HEAD", "ref: refs/heads/main\n");
  put(repo.path(), "sub/.git", "gitdir: elsewhere\n");  // only the clone's own .git is special
  auto pkg = pack(repo.path(), "");
  CHECK(pkg.filename == "root-1.0.0.tgz");
  for (auto& f : pkg.files) CHECK(f.rfind("root/.git/", 0) != 0);
  CHECK(std::find(pkg.files.begin(), pkg.files.end(), "root/sub/.git") != pkg.files.end());
}

TEST_CASE("a vendored archive with unsafe members is refused", "[packager]") {
  util::TempDir repo;
  fs::path c = repo.path() / "c";
  basic_chart(c, "c", "0.1.0");
  fs::create_directories(c / "charts");
  run_ok({test::python3(), "-c",
          "import sys,tarfile,io\n"
          "t=tarfile.open(sys.argv[1],'w:gz')\n"
          "for n,d in (('evil/Chart.yaml',b'apiVersion: v2\\nname: evil\\nversion: 1.0.0\\n'),('evil/../../x',b'x')):\n"
          "  i=tarfile.TarInfo(n); i.size=len(d); t.addfile(i, io.BytesIO(d))\n"
          "t.close()\n",
          (c / "charts/evil-1.0.0.tgz").string()});
  auto err = test::error_of([&] { pack(repo.path(), "c"); });
  CHECK(err.code() == Errc::invalid_chart);
  CHECK(err.subject() == "c/charts/evil-1.0.0.tgz");
  CHECK(err.reason().find("parent directory") != std::string::npos);
}
