// Dependency resolution against a real chart repository: .tgz files made with
// `tar czf`, an index.yaml, served by test/support/static_http_server.py.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cmop/deps/repo_index.hpp"
#include "cmop/deps/resolver.hpp"
#include "cmop/error.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "support/process.hpp"
#include "support/error_of.hpp"
#include "deps/deps_fixtures.hpp"

using namespace cmop;
using cmop::test::error_of;
using namespace cmop::test::deps_fixtures;
namespace fs = std::filesystem;

namespace {

// What Helm's resolver.HashReq computes, spelled out as the JSON Go would marshal.
std::string helm_digest(const std::string& req_json, const std::string& lock_json) {
  return "sha256:" + util::sha256_hex("[" + req_json + "," + lock_json + "]");
}

}  // namespace

TEST_CASE("the digest helper reproduces Helm's own HashReq test vector") {
  // internal/resolver/resolver_test.go TestHashReq: alpine 0.1.0 from http://localhost:8879/charts.
  const std::string alpine = R"([{"name":"alpine","version":"0.1.0","repository":"http://localhost:8879/charts"}])";
  CHECK(helm_digest(alpine, alpine) == "sha256:fb239e836325c5fa14b29d1540a13b7d3ba13151b67fe719f820e0ef6d66aaaf");
}

namespace {

std::string standard_repo_setup(ChartRepo& repo) {
  repo.add_chart("redis", "1.0.0");
  repo.add_chart("redis", "1.1.0");
  repo.add_chart("redis", "1.2.0-rc.1");
  repo.add_chart("redis", "2.0.0", "archive/redis-2.0.0.tgz");
  repo.add_chart("nginx", "0.9.0");
  repo.add_chart("nginx", "1.0.0");
  repo.publish();
  return "";
}

}  // namespace

TEST_CASE("constraints choose the highest matching version and the archive is downloaded") {
  ChartRepo repo;
  standard_repo_setup(repo);
  Server server(repo.served);
  Clone clone;
  deps::Resolver resolver(clone.cache.path());

  auto pick = [&](const std::string& constraint) {
    auto res = resolver.resolve(parent({dep("redis", constraint, server.url())}), clone.chart_dir, clone.root.path(), {});
    REQUIRE(res.archives.size() == 1);
    REQUIRE(res.resolved.size() == 1);
    CHECK(res.archives[0].name == "redis");
    CHECK(res.archives[0].version == res.resolved[0].version);
    CHECK(res.archives[0].tgz == repo.archives.at("redis-" + res.resolved[0].version + ".tgz"));
    CHECK(res.resolved[0].digest == util::sha256_hex(res.archives[0].tgz));
    CHECK(res.resolved[0].repository == server.url());
    return res.resolved[0].version;
  };
  CHECK(pick("^1.0.0") == "1.1.0");
  CHECK(pick("~1.0.0") == "1.0.0");
  CHECK(pick(">=1.0.0 <2.0.0") == "1.1.0");
  CHECK(pick("2.x") == "2.0.0");  // its URL is in a subdirectory of the repository
  CHECK(pick("*") == "2.0.0");
  CHECK(pick("^1.2.0-0") == "1.2.0-rc.1");  // prerelease only when asked for
  CHECK(pick("1.2.0-rc.1") == "1.2.0-rc.1");

  auto err = error_of([&] {
    resolver.resolve(parent({dep("redis", "^3.0.0", server.url())}), clone.chart_dir, clone.root.path(), {});
  });
  CHECK(err.code() == Errc::dependency);
  CHECK(err.subject() == "app dependency redis (^3.0.0) from " + server.url());
  CHECK(err.reason() == "no version matches; available: 1.0.0, 1.1.0, 1.2.0-rc.1, 2.0.0");

  auto missing = error_of([&] {
    resolver.resolve(parent({dep("postgres", "*", server.url())}), clone.chart_dir, clone.root.path(), {});
  });
  CHECK(missing.reason() == "chart postgres not found in the repository index");
}

TEST_CASE("Chart.lock is written as Helm writes it, with Helm's digest") {
  ChartRepo repo;
  standard_repo_setup(repo);
  Server server(repo.served);
  Clone clone;
  deps::Resolver resolver(clone.cache.path());
  const std::string url = server.url();

  auto res = resolver.resolve(parent({dep("redis", "^1.0.0", url), dep("nginx", "~0.9", url)}), clone.chart_dir,
                              clone.root.path(), {});
  const std::string digest =
      helm_digest(R"([{"name":"redis","version":"^1.0.0","repository":")" + url + R"("},)" +
                      R"({"name":"nginx","version":"~0.9","repository":")" + url + R"("}])",
                  R"([{"name":"redis","version":"1.1.0","repository":")" + url + R"("},)" +
                      R"({"name":"nginx","version":"0.9.0","repository":")" + url + R"("}])");
  // `generated` is fixed (reproducible bytes, whatever path reached the dependencies).
  CHECK(res.lock_yaml == "dependencies:\n- name: redis\n  repository: " + url + "\n  version: 1.1.0\n" +
                             "- name: nginx\n  repository: " + url + "\n  version: 0.9.0\n" + "digest: " + digest +
                             "\ngenerated: \"1980-01-01T00:00:00Z\"\n");
  // Both dependencies share one index fetch.
  CHECK(server.count("/index.yaml") == 1);
}

TEST_CASE("an in-sync Chart.lock pins versions, a stale one is re-resolved") {
  ChartRepo repo;
  standard_repo_setup(repo);
  Server server(repo.served);
  Clone clone;
  deps::Resolver resolver(clone.cache.path());
  const std::string url = server.url();

  const std::string digest = helm_digest(R"([{"name":"redis","version":"^1.0.0","repository":")" + url + R"("}])",
                                         R"([{"name":"redis","version":"1.0.0","repository":")" + url + R"("}])");
  const std::string lock = "dependencies:\n- name: redis\n  repository: " + url + "\n  version: 1.0.0\ndigest: " +
                           digest + "\ngenerated: \"2023-06-01T10:00:00.123456Z\"\n";
  write(clone.chart_dir / "Chart.lock", lock);

  auto pinned = resolver.resolve(parent({dep("redis", "^1.0.0", url)}), clone.chart_dir, clone.root.path(), {});
  REQUIRE(pinned.resolved.size() == 1);
  CHECK(pinned.resolved[0].version == "1.0.0");  // not 1.1.0: the lock wins while in sync
  CHECK(pinned.lock_yaml == lock);

  // The constraint changed: the lock's digest no longer matches, so Helm's rule re-resolves.
  auto fresh = resolver.resolve(parent({dep("redis", "^2.0.0", url)}), clone.chart_dir, clone.root.path(), {});
  REQUIRE(fresh.resolved.size() == 1);
  CHECK(fresh.resolved[0].version == "2.0.0");
  CHECK(fresh.lock_yaml != lock);
  CHECK(fresh.lock_yaml.find("version: 2.0.0") != std::string::npos);

  // A lock naming a version the repository no longer has is a clear error.
  repo.index.remove("redis", "1.0.0");
  repo.publish();
  auto gone = error_of([&] {
    resolver.resolve(parent({dep("redis", "^1.0.0", url)}), clone.chart_dir, clone.root.path(), {});
  });
  CHECK(gone.code() == Errc::dependency);
  CHECK(gone.reason().find("version 1.0.0 locked in Chart.lock is not in the repository") != std::string::npos);
}

TEST_CASE("@name and alias:name refer to registered repositories and the lock records their URL") {
  ChartRepo repo;
  standard_repo_setup(repo);
  Server server(repo.served);
  Clone clone;
  deps::Resolver resolver(clone.cache.path());
  std::vector<deps::NamedRepository> repos{{"other", "http://127.0.0.1:1", "", "", ""}, {"stable", server.url() + "/", "", "", ""}};

  auto res = resolver.resolve(parent({dep("redis", "~1.0", "@stable"), dep("nginx", "1.0.0", "alias:stable")}),
                              clone.chart_dir, clone.root.path(), repos);
  REQUIRE(res.resolved.size() == 2);
  CHECK(res.resolved[0].version == "1.0.0");
  CHECK(res.resolved[0].repository == "@stable");
  CHECK(res.resolved[1].version == "1.0.0");
  CHECK(res.resolved[1].repository == "alias:stable");
  CHECK(res.lock_yaml.find("repository: " + server.url() + "/\n") != std::string::npos);
  CHECK(res.lock_yaml.find("@stable") == std::string::npos);

  auto err = error_of([&] {
    resolver.resolve(parent({dep("redis", "*", "@nope")}), clone.chart_dir, clone.root.path(), repos);
  });
  CHECK(err.code() == Errc::dependency);
  CHECK(err.subject() == "app dependency redis (*) from @nope");
  CHECK(err.reason() == "repository @nope is not registered");

  auto bare_name = error_of([&] {
    resolver.resolve(parent({dep("redis", "*", "stable")}), clone.chart_dir, clone.root.path(), repos);
  });
  CHECK(bare_name.reason().find("did you mean @stable") != std::string::npos);
}

TEST_CASE("a repository URL matching a registered one uses its credentials") {
  ChartRepo repo;
  standard_repo_setup(repo);
  Server server(repo.served, {"--basic-auth", "reader:p4ss"});
  Clone clone;
  deps::Resolver resolver(clone.cache.path());
  std::vector<deps::NamedRepository> repos{{"private", server.url(), "reader", "p4ss", ""}};

  auto by_url = resolver.resolve(parent({dep("redis", "^1.0.0", server.url() + "/")}), clone.chart_dir,
                                 clone.root.path(), repos);
  CHECK(by_url.resolved.at(0).version == "1.1.0");
  auto by_name = resolver.resolve(parent({dep("nginx", "*", "@private")}), clone.chart_dir, clone.root.path(), repos);
  CHECK(by_name.resolved.at(0).version == "1.0.0");

  util::TempDir other_cache;
  deps::Resolver anonymous(other_cache.path());
  auto err = error_of([&] {
    anonymous.resolve(parent({dep("redis", "^1.0.0", server.url())}), clone.chart_dir, clone.root.path(), {});
  });
  CHECK(err.code() == Errc::dependency);
  CHECK(err.reason().find("HTTP 401") != std::string::npos);
  CHECK(std::string(err.what()).find("p4ss") == std::string::npos);
}

TEST_CASE("index.yaml is revalidated with ETag and archives are cached by digest") {
  ChartRepo repo;
  standard_repo_setup(repo);
  Server server(repo.served);
  Clone clone;
  auto md = parent({dep("redis", "^1.0.0", server.url())});

  deps::Resolver first(clone.cache.path());
  first.resolve(md, clone.chart_dir, clone.root.path(), {});
  CHECK(server.count("/index.yaml") == 1);
  CHECK(server.count("/redis-1.1.0.tgz") == 1);

  deps::Resolver second(clone.cache.path());  // a new process would start from the same cache dir
  auto again = second.resolve(md, clone.chart_dir, clone.root.path(), {});
  CHECK(again.resolved.at(0).version == "1.1.0");
  CHECK(server.count("/index.yaml") == 2);
  CHECK(server.not_modified("/index.yaml") == 1);
  CHECK(server.count("/redis-1.1.0.tgz") == 1);

  // A changed index is fetched in full and its new versions are seen.
  repo.add_chart("redis", "1.3.0");
  repo.publish();
  CHECK(second.resolve(md, clone.chart_dir, clone.root.path(), {}).resolved.at(0).version == "1.3.0");
  CHECK(server.not_modified("/index.yaml") == 1);
}

TEST_CASE("charts of one sync share a session: each index.yaml is requested once per session") {
  ChartRepo repo;
  standard_repo_setup(repo);
  Server server(repo.served);
  Clone clone;
  auto md = parent({dep("redis", "^1.0.0", server.url())});
  deps::Resolver resolver(clone.cache.path());

  {
    deps::Resolver::Session sync_one;
    for (int chart = 0; chart < 5; ++chart)
      CHECK(resolver.resolve(md, clone.chart_dir, clone.root.path(), {}, &sync_one).resolved.at(0).version ==
            "1.1.0");
    CHECK(server.count("/index.yaml") == 1);
  }
  {
    // The next sync revalidates once (304) and reuses the parsed index.
    deps::Resolver::Session sync_two;
    for (int chart = 0; chart < 5; ++chart) resolver.resolve(md, clone.chart_dir, clone.root.path(), {}, &sync_two);
    CHECK(server.count("/index.yaml") == 2);
    CHECK(server.not_modified("/index.yaml") == 1);
  }
  // A new version upstream is seen by the next session.
  repo.add_chart("redis", "1.3.0");
  repo.publish();
  deps::Resolver::Session sync_three;
  CHECK(resolver.resolve(md, clone.chart_dir, clone.root.path(), {}, &sync_three).resolved.at(0).version == "1.3.0");
}

TEST_CASE("index.yaml is revalidated with Last-Modified when the server sends no ETag") {
  ChartRepo repo;
  standard_repo_setup(repo);
  Server server(repo.served, {"--no-etag"});
  Clone clone;
  auto md = parent({dep("nginx", "*", server.url())});
  deps::Resolver resolver(clone.cache.path());
  resolver.resolve(md, clone.chart_dir, clone.root.path(), {});
  resolver.resolve(md, clone.chart_dir, clone.root.path(), {});
  CHECK(server.count("/index.yaml") == 2);
  CHECK(server.not_modified("/index.yaml") == 1);
}

TEST_CASE("failures name the dependency: repository down, download missing, digest mismatch") {
  ChartRepo repo;
  standard_repo_setup(repo);
  Server server(repo.served);
  Clone clone;
  deps::Resolver resolver(clone.cache.path());

  const std::string down = "http://127.0.0.1:" + std::to_string(test::free_port());
  auto err = error_of([&] {
    resolver.resolve(parent({dep("redis", "^1.0.0", down)}), clone.chart_dir, clone.root.path(), {});
  });
  CHECK(err.code() == Errc::dependency);
  CHECK(err.subject() == "app dependency redis (^1.0.0) from " + down);
  CHECK(err.reason().find("fetching " + down + "/index.yaml: ") == 0);

  fs::remove(repo.served / "nginx-1.0.0.tgz");
  auto missing = error_of([&] {
    resolver.resolve(parent({dep("nginx", "1.0.0", server.url())}), clone.chart_dir, clone.root.path(), {});
  });
  CHECK(missing.code() == Errc::dependency);
  CHECK(missing.reason() == "download failed: " + server.url() + "/nginx-1.0.0.tgz: HTTP 404");

  for (auto& e : repo.index.entries.at("redis"))
    if (e.metadata.version == "1.0.0") e.digest = std::string(64, 'a');
  repo.publish();
  auto mismatch = error_of([&] {
    resolver.resolve(parent({dep("redis", "1.0.0", server.url())}), clone.chart_dir, clone.root.path(), {});
  });
  CHECK(mismatch.code() == Errc::dependency);
  CHECK(mismatch.reason().find("digest mismatch") == 0);

  auto bad_index = error_of([&] {
    write(repo.served / "index.yaml", "apiVersion: v1\nentries: [\n");
    resolver.resolve(parent({dep("redis", "*", server.url())}), clone.chart_dir, clone.root.path(), {});
  });
  CHECK(bad_index.code() == Errc::dependency);
  CHECK(bad_index.reason().find("invalid index " + server.url() + "/index.yaml") == 0);
}

TEST_CASE("file:// dependencies stay inside the clone, vendored ones are left to the packager") {
  Clone clone;
  write(clone.root.path() / "charts" / "lib" / "Chart.yaml", "apiVersion: v2\nname: lib\nversion: 0.3.0\ntype: library\n");
  write(clone.root.path() / "charts" / "lib" / "templates" / "_h.tpl", "{{- define \"x\" }}{{ end }}\n");
  deps::Resolver resolver(clone.cache.path());

  auto res = resolver.resolve(parent({dep("lib", "~0.3", "file://../lib"), dep("vendored", "1.x", "")}),
                              clone.chart_dir, clone.root.path(), {});
  REQUIRE(res.local_subcharts.size() == 1);
  CHECK(res.local_subcharts[0].path == "charts/lib");  // the folder in the tree the chart came from
  CHECK(res.archives.empty());
  REQUIRE(res.resolved.size() == 1);
  CHECK(res.resolved[0].version == "0.3.0");
  CHECK(res.resolved[0].digest.size() == 64);
  const std::string digest =
      helm_digest(R"([{"name":"lib","version":"~0.3","repository":"file://../lib"},)"
                  R"({"name":"vendored","version":"1.x","repository":""}])",
                  R"([{"name":"lib","version":"0.3.0","repository":"file://../lib"},)"
                  R"({"name":"vendored","version":"1.x","repository":""}])");
  CHECK(res.lock_yaml == "dependencies:\n- name: lib\n  repository: file://../lib\n  version: 0.3.0\n"
                         "- name: vendored\n  repository: \"\"\n  version: 1.x\n"
                         "digest: " + digest + "\ngenerated: \"1980-01-01T00:00:00Z\"\n");

  util::TempDir outside;
  write(outside.path() / "evil" / "Chart.yaml", "apiVersion: v2\nname: evil\nversion: 1.0.0\n");
  auto escape = error_of([&] {
    resolver.resolve(parent({dep("evil", "*", "file://" + (outside.path() / "evil").string())}), clone.chart_dir,
                     clone.root.path(), {});
  });
  CHECK(escape.code() == Errc::forbidden);
  auto relative_escape = error_of([&] {
    resolver.resolve(parent({dep("evil", "*", "file://../../../../../../../../" + (outside.path() / "evil").relative_path().string())}),
                     clone.chart_dir, clone.root.path(), {});
  });
  CHECK(relative_escape.code() == Errc::forbidden);
  fs::create_directory_symlink(outside.path() / "evil", clone.root.path() / "charts" / "link");
  auto symlink_escape = error_of([&] {
    resolver.resolve(parent({dep("evil", "*", "file://../link")}), clone.chart_dir, clone.root.path(), {});
  });
  CHECK(symlink_escape.code() == Errc::forbidden);

  auto wrong_version = error_of([&] {
    resolver.resolve(parent({dep("lib", "^1.0.0", "file://../lib")}), clone.chart_dir, clone.root.path(), {});
  });
  CHECK(wrong_version.code() == Errc::dependency);
  CHECK(wrong_version.reason() == "local chart version 0.3.0 does not satisfy the constraint");
}

TEST_CASE("one resolver serves concurrent resolutions") {
  ChartRepo repo;
  standard_repo_setup(repo);
  Server server(repo.served);
  Clone clone;
  deps::Resolver resolver(clone.cache.path());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      try {
        auto res = resolver.resolve(parent({dep(t % 2 ? "redis" : "nginx", "*", server.url())}), clone.chart_dir,
                                    clone.root.path(), {});
        if (res.archives.size() == 1) ++ok;
      } catch (...) {
      }
    });
  for (auto& th : threads) th.join();
  CHECK(ok == 4);
}

TEST_CASE("chart URLs are relative to a repository URL with a path, with or without a trailing slash") {
  ChartRepo repo;
  standard_repo_setup(repo);
  Server server(repo.dir.path());  // the repository lives at /served
  Clone clone;
  deps::Resolver resolver(clone.cache.path());
  for (const std::string& url : {server.url() + "/served", server.url() + "/served/"}) {
    auto res = resolver.resolve(parent({dep("redis", "2.0.0", url)}), clone.chart_dir, clone.root.path(), {});
    CHECK(res.archives.at(0).tgz == repo.archives.at("redis-2.0.0.tgz"));
  }
  CHECK(server.count("/served/archive/redis-2.0.0.tgz") == 1);  // the second came from the digest cache
}

TEST_CASE("the Chart.lock digest covers every dependency field the way Go marshals it") {
  ChartRepo repo;
  standard_repo_setup(repo);
  Server server(repo.served);
  Clone clone;
  deps::Resolver resolver(clone.cache.path());
  const std::string url = server.url();

  auto d = dep("redis", "^1.0.0", url);
  d.condition = "cache.enabled";
  d.tags = {"x&y", "<infra>"};
  d.enabled_set = true;
  d.enabled = true;
  d.import_values = {R"("data")", R"({"child":"exports.a","parent":"a"})"};
  d.alias = "cache";
  auto res = resolver.resolve(parent({d}), clone.chart_dir, clone.root.path(), {});
  const std::string digest = helm_digest(
      R"([{"name":"redis","version":"^1.0.0","repository":")" + url +
          R"(","condition":"cache.enabled","tags":["x\u0026y","\u003cinfra\u003e"],"enabled":true,)"
          R"("import-values":["data",{"child":"exports.a","parent":"a"}],"alias":"cache"}])",
      R"([{"name":"redis","version":"1.1.0","repository":")" + url + R"("}])");
  CHECK(res.lock_yaml.find("digest: " + digest + "\n") != std::string::npos);
}

TEST_CASE("Chart.lock and file:// dependency files over Helm's 5 MiB limit are refused by size, unread") {
  // Sparse files: 1 GiB on paper, nothing on disk. Reading one would take a second
  // and a gigabyte of memory; the size check refuses it first.
  auto sparse = [](const fs::path& p, std::uintmax_t size) {
    write(p, "");
    fs::resize_file(p, size);
  };
  constexpr std::uintmax_t kHuge = 1ull << 30;
  const std::string limit = std::to_string(5u << 20);

  Clone clone;
  write(clone.root.path() / "charts" / "lib" / "Chart.yaml", "apiVersion: v2\nname: lib\nversion: 0.3.0\n");
  deps::Resolver resolver(clone.cache.path());
  auto resolve_lib = [&] {
    return resolver.resolve(parent({dep("lib", "~0.3", "file://../lib")}), clone.chart_dir, clone.root.path(), {});
  };
  REQUIRE_NOTHROW(resolve_lib());

  sparse(clone.chart_dir / "Chart.lock", kHuge);
  auto lock = error_of(resolve_lib);
  CHECK(lock.code() == Errc::too_large);
  CHECK_THAT(lock.what(), Catch::Contains("Chart.lock") && Catch::Contains(std::to_string(kHuge) + " bytes") &&
                              Catch::Contains(limit));
  fs::remove(clone.chart_dir / "Chart.lock");

  // Exactly at the limit is allowed (Helm refuses only larger files); one byte more is not.
  sparse(clone.root.path() / "charts" / "lib" / "files" / "edge.bin", 5u << 20);
  CHECK_NOTHROW(resolve_lib());
  sparse(clone.root.path() / "charts" / "lib" / "files" / "edge.bin", (5u << 20) + 1);
  auto member = error_of(resolve_lib);
  CHECK(member.code() == Errc::too_large);
  CHECK_THAT(member.what(), Catch::Contains("edge.bin") && Catch::Contains(limit));
  fs::remove(clone.root.path() / "charts" / "lib" / "files" / "edge.bin");

  sparse(clone.root.path() / "charts" / "lib" / "Chart.yaml", kHuge);
  auto chart_yaml = error_of(resolve_lib);
  CHECK(chart_yaml.code() == Errc::too_large);
  CHECK_THAT(chart_yaml.what(), Catch::Contains("lib/Chart.yaml") && Catch::Contains(limit));
}

TEST_CASE("a sync's index and package downloads from one chart repository share one connection") {
  ChartRepo repo;
  for (const char* name : {"redis", "postgres", "nginx"}) repo.add_chart(name, "1.0.0");
  repo.publish();
  Server server(repo.served);
  auto accepted = [&] { return Server::json_number(server.get("/__connections"), "\"accepted\": "); };
  const int before = accepted();
  Clone clone;
  deps::Resolver resolver(clone.cache.path());
  deps::Resolver::Session session;
  auto res = resolver.resolve(parent({dep("redis", "1.x", server.url()), dep("postgres", "1.x", server.url()),
                                      dep("nginx", "1.x", server.url())}),
                              clone.chart_dir, clone.root.path(), {}, &session);
  // Four requests on one connection (and the question about it on another).
  CHECK(accepted() - before == 1 + 1);
  CHECK(res.archives.size() == 3);
  CHECK(server.count("/index.yaml") == 1);
  CHECK(server.count("/redis-1.0.0.tgz") == 1);
  CHECK(server.count("/nginx-1.0.0.tgz") == 1);

  // Closed at the sync's end: the next sync's revalidation opens a new one.
  resolver.close_idle_connections();
  const int second = accepted();
  deps::Resolver::Session next;
  resolver.resolve(parent({dep("redis", "1.x", server.url())}), clone.chart_dir, clone.root.path(), {}, &next);
  CHECK(accepted() - second == 1 + 1);
  CHECK(server.count("/index.yaml") == 2);
}

TEST_CASE("only vendored dependencies: no Chart.lock is made, as plain `helm package` makes none") {
  Clone clone;
  deps::Resolver resolver(clone.cache.path());
  auto res = resolver.resolve(parent({dep("vendored", "1.x", ""), dep("other", "", "")}), clone.chart_dir,
                              clone.root.path(), {});
  CHECK(res.lock_yaml.empty());  // the packager keeps whatever lock the chart has
  CHECK(res.archives.empty());
  CHECK(res.local_subcharts.empty());
}
