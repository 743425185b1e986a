// Issue 22, the dependency side: what a hostile dependency host can make cmop
// reach, keep on disk, keep in memory, or wait for. Every peer is on 127.0.0.1.
#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>
#include <vector>

#include "cmop/deps/resolver.hpp"
#include "cmop/error.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/oci/registry.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/sync/workspace.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "deps/big_index.hpp"
#include "deps/deps_fixtures.hpp"
#include "support/black_hole.hpp"
#include "support/error_of.hpp"
#include "support/served_repo.hpp"

using namespace cmop;
using namespace cmop::test::deps_fixtures;
using cmop::test::error_of;
using Clock = std::chrono::steady_clock;

namespace {

// Files under cache/<sub> (temp files of a write under way excluded).
std::vector<fs::path> cached(const fs::path& cache, const std::string& sub) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(cache / sub, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().front() != '.') out.push_back(it->path());
  return out;
}

std::uint64_t cached_bytes(const fs::path& cache) {
  std::uint64_t total = 0;
  for (const char* sub : {"index", "charts", "oci-manifests"})
    for (const auto& p : cached(cache, sub)) total += fs::file_size(p);
  return total;
}

// An HTTP peer that answers every request with a 200 promising a 500 kB body, then
// sends it one byte every 100 ms: never silent long enough for a stall timeout,
// never done before the request's own (minutes-long) timeout. The requests are
// not read.
class DripServer {
 public:
  DripServer() {
    thread_ = std::thread([this] {
      std::set<int> answered;
      while (!stop_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        for (int fd : hole_.held()) {
          if (answered.insert(fd).second) {
            const std::string head =
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500000\r\n\r\n";
            (void)::send(fd, head.data(), head.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
          }
          (void)::send(fd, " ", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
      }
    });
  }
  ~DripServer() {
    stop_ = true;
    thread_.join();
  }
  DripServer(const DripServer&) = delete;
  DripServer& operator=(const DripServer&) = delete;
  std::string host() const { return "127.0.0.1:" + std::to_string(hole_.port()); }

 private:
  cmop::test::BlackHole hole_;  // accepts and holds the connections; closes them last
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

// Finding 3 (medium): with `--dependency-hosts *.example.com` every name in that
// domain could reach loopback and link-local addresses, because the guard let any
// listed host through, wildcards included. A wildcard matching the loopback
// address itself stands in for a DNS name below the domain resolving to 127.0.0.1
// (nothing here can make a name resolve so).
TEST_CASE("a wildcard dependency host never opens loopback: the host listed by itself does", "[hostile]") {
  ChartRepo repo;
  repo.add_chart("redis", "1.0.0");
  repo.publish();
  Server server(repo.served);
  Clone clone;
  auto resolve_with = [&](std::vector<std::string> hosts) {
    net::ConnectionPolicy peers;
    peers.allowed_hosts = std::move(hosts);
    peers.allow_local_addresses = false;
    util::TempDir cache;
    deps::Resolver resolver(cache.path(), {}, peers);
    return resolver.resolve(parent({dep("redis", "*", server.url())}), clone.chart_dir, clone.root.path(), {});
  };
  for (const std::vector<std::string>& wildcard : {std::vector<std::string>{"*.0.0.1"},
                                                   std::vector<std::string>{"*.0.0.1", "*.example.com"}}) {
    auto err = error_of([&] { resolve_with(wildcard); });
    CHECK(err.code() == Errc::dependency);
    CHECK_THAT(err.reason(), Catch::Contains("127.0.0.1 is a loopback or link-local address"));
  }
  CHECK(server.count("/index.yaml") == 0);  // refused before any request
  CHECK(resolve_with({"*.example.com", "127.0.0.1"}).resolved.at(0).version == "1.0.0");
  CHECK(resolve_with({"*.example.com", "127.0.0.1"}).resolved.at(0).version == "1.0.0");
}

// Finding 4 (medium): a non-gzip "archive" carrying the digest its index gave it
// was cached before it was looked at (a new 6 MiB file per sync), an index that
// does not parse was cached too, and nothing bounded the cache.
TEST_CASE("only a checked index or archive is cached", "[hostile][cache]") {
  ChartRepo repo;
  repo.add_chart("redis", "1.0.0");
  // A 6 MiB "archive" that is no gzip, listed with its true digest.
  std::string junk(6u << 20, '\0');
  for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>((i * 2654435761u) >> 13);
  write(repo.served / "junk-1.0.0.tgz", junk);
  deps::IndexEntry e;
  e.metadata.api_version = "v2";
  e.metadata.name = "junk";
  e.metadata.version = "1.0.0";
  e.urls = {"junk-1.0.0.tgz"};
  e.digest = util::sha256_hex(junk);
  repo.index.add(e);
  repo.publish();
  write(repo.served / "broken" / "index.yaml", "apiVersion: v1\nentries: [\n");
  Server server(repo.served);
  Clone clone;
  deps::Resolver resolver(clone.cache.path());

  for (int sync = 0; sync < 3; ++sync) {
    auto err = error_of([&] {
      resolver.resolve(parent({dep("junk", "*", server.url())}), clone.chart_dir, clone.root.path(), {});
    });
    CHECK_THAT(err.reason(), Catch::Contains("downloaded archive is unreadable"));
  }
  CHECK(cached(clone.cache.path(), "charts").empty());

  auto bad = error_of([&] {
    resolver.resolve(parent({dep("redis", "*", server.url() + "/broken")}), clone.chart_dir, clone.root.path(), {});
  });
  CHECK_THAT(bad.reason(), Catch::Contains("invalid index"));
  CHECK(cached(clone.cache.path(), "index").size() == 1);  // the good index only

  // What checks out is cached as before.
  resolver.resolve(parent({dep("redis", "*", server.url())}), clone.chart_dir, clone.root.path(), {});
  CHECK(cached(clone.cache.path(), "charts").size() == 1);
}

TEST_CASE("the dependency cache stays within its bounds, least recently used evicted first", "[cache]") {
  ChartRepo repo;
  for (int i = 0; i < 6; ++i) repo.add_chart("c" + std::to_string(i), "1.0.0");
  repo.publish();
  Server server(repo.served);
  Clone clone;
  auto archive = [&](int i) {
    return clone.cache.path() / "charts" / (util::sha256_hex(repo.archives.at("c" + std::to_string(i) + "-1.0.0.tgz")) + ".tgz");
  };
  auto resolve = [&](deps::Resolver& r, int i) {
    r.resolve(parent({dep("c" + std::to_string(i), "*", server.url())}), clone.chart_dir, clone.root.path(), {});
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // distinct file times
  };

  SECTION("entries: the index and three archives") {
    deps::CacheLimits limits;
    limits.max_entries = 4;
    deps::Resolver resolver(clone.cache.path(), {}, {}, nullptr, limits);
    for (int i = 0; i < 3; ++i) resolve(resolver, i);
    CHECK(cached(clone.cache.path(), "charts").size() == 3);
    resolve(resolver, 0);  // used again: now the most recent
    resolve(resolver, 3);
    CHECK(cached(clone.cache.path(), "charts").size() == 3);
    CHECK(cached(clone.cache.path(), "index").size() == 1);
    CHECK(fs::exists(archive(0)));
    CHECK_FALSE(fs::exists(archive(1)));  // the least recently used
    CHECK(fs::exists(archive(3)));
    CHECK(server.count("/c0-1.0.0.tgz") == 1);  // the second use came from the cache
  }
  SECTION("bytes") {
    deps::CacheLimits limits;
    limits.max_bytes = fs::file_size(repo.served / "index.yaml") + 2 * repo.archives.at("c0-1.0.0.tgz").size() + 100;
    deps::Resolver resolver(clone.cache.path(), {}, {}, nullptr, limits);
    for (int i = 0; i < 6; ++i) {
      resolve(resolver, i);
      CHECK(cached_bytes(clone.cache.path()) <= limits.max_bytes);
    }
    CHECK(fs::exists(archive(5)));
    CHECK(cached(clone.cache.path(), "charts").size() <= 2);
  }
  SECTION("age: files unused for longer than max_age go, at start and on every store") {
    {
      deps::Resolver resolver(clone.cache.path());
      for (int i = 0; i < 3; ++i) resolve(resolver, i);
    }
    const auto long_ago = fs::file_time_type::clock::now() - std::chrono::hours(24 * 8);
    fs::last_write_time(archive(1), long_ago);
    write(clone.cache.path() / "charts" / ".x.tgz.tmp-abcdef", "a write a crash cut short");
    deps::Resolver restarted(clone.cache.path());  // default: 7 days
    CHECK_FALSE(fs::exists(archive(1)));
    CHECK(fs::exists(archive(0)));
    CHECK(fs::exists(archive(2)));
    CHECK_FALSE(fs::exists(clone.cache.path() / "charts" / ".x.tgz.tmp-abcdef"));
  }
}

// Finding 6 (medium): a 100 MiB index peaked at 514 MiB and RSS stayed at
// 413-484 MiB an hour later; parsed indexes were kept per URL for good (4 URLs x
// 40 MiB: 250 -> 414 MiB). Now the parsed indexes kept between syncs are bounded
// (here to one), and what a sync's indexes leave in the heap is given back when
// it ends. Figures: CMOP_DEP_INDEX_MIB=<n> build/test/test_deps "[memory]".
TEST_CASE("the memory of big dependency indexes is given back after their sync", "[memory]") {
  const char* env = std::getenv("CMOP_DEP_INDEX_MIB");
  const std::size_t mib = env ? std::stoul(env) : 8;
  util::TempDir served;
  for (int i = 0; i < 4; ++i) write(served.path() / ("r" + std::to_string(i)) / "index.yaml", test::big_index(mib, "r" + std::to_string(i)));
  Server server(served.path());
  Clone clone;
  deps::CacheLimits limits;
  limits.max_parsed_bytes = (mib << 20) + (mib << 19);  // one index of the four
  deps::Resolver resolver(clone.cache.path(), {}, {}, nullptr, limits);
  auto sync = [&] {
    deps::Resolver::Session session;
    for (int i = 0; i < 4; ++i) {
      auto err = error_of([&] {  // the index is fetched and parsed; the chart is not in it
        resolver.resolve(parent({dep("nosuch", "*", server.url() + "/r" + std::to_string(i))}), clone.chart_dir,
                         clone.root.path(), {}, &session);
      });
      CHECK_THAT(err.reason(), Catch::Contains("not found in the repository index"));
    }
    return test::rss_kib();
  };
  const long base = test::rss_kib();
  const long during = sync();
  const long after = test::rss_kib();
  const long peak = test::peak_rss_kib();
  const long during_again = sync();  // revalidated: 304s; three of the four parsed again
  const long after_again = test::rss_kib();
  WARN("4 indexes of " << mib << " MiB: RSS " << base / 1024 << " MiB before, " << during / 1024
                       << " MiB while the sync holds them (peak " << peak / 1024 << " MiB), " << after / 1024
                       << " MiB after; second sync " << during_again / 1024 << " -> " << after_again / 1024 << " MiB");
  CHECK(after - base < (during - base) / 2);
  CHECK(after_again - base < (during_again - base) / 2);
  CHECK(server.not_modified("/r3/index.yaml") == 1);
}

// Finding 7 (low): --sync-timeout did not bound dependency or OCI requests: a
// black-holed dependency repo held a 10 s sync for 60 s (the stall timeout), a
// dripping registry for 120 s (the request timeout). Each request now ends by
// the sync's deadline.
TEST_CASE("a sync's deadline bounds its dependency and registry requests", "[deadline]") {
  cmop::test::BlackHole hole;
  DripServer drip;
  struct Case {
    std::string what, repository;
  };
  for (const Case& c : {Case{"black-holed chart repo", hole.url("http", "charts")},
                        Case{"dripping chart repo", "http://" + drip.host() + "/charts"},
                        Case{"dripping registry", "oci://" + drip.host() + "/charts"}}) {
    SECTION(c.what) {
      cmop::test::ServedRepo git("umbrella");
      cmop::test::write_chart(git.work, "charts/app", "app", "1.0.0",
                              "dependencies:\n- name: redis\n  version: \"*\"\n  repository: " + c.repository + "\n");
      git.commit_and_serve("initial");
      sync::WorkspaceOptions o;
      o.sync_timeout = std::chrono::seconds(2);
      o.dependency_peers.stall_timeout = std::chrono::seconds(60);  // serve's --network-timeout default
      oci::ClientOptions registry;
      registry.peers = o.dependency_peers;
      registry.plain_http_hosts = {drip.host()};
      o.registry = std::make_shared<oci::RegistryClient>(registry);
      sync::Workspace ws(git.state, publish::make_local_publisher(git.out.string()), o);
      const auto started = Clock::now();
      auto report = ws.apply(git.spec_named("umbrella"));
      const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
      WARN(c.what << ": the sync ended after " << seconds << " s (--sync-timeout 2)");
      CHECK(seconds < 10);
      REQUIRE(report.charts.size() == 1);
      CHECK(report.charts[0].status == sync::ChartOutcome::Status::failed);
      CHECK_THAT(report.charts[0].reason, Catch::Contains("timed out"));
      CHECK_THAT(report.error, Catch::Contains("timed out after 2 s (the sync timeout)"));
    }
  }
}

TEST_CASE("a request under a DeadlineScope ends by it, and one begun after it is not sent", "[deadline]") {
  cmop::test::BlackHole hole;
  net::HttpClient client;
  net::Request req;
  req.url = hole.url("http", "x");
  req.timeout = std::chrono::seconds(60);
  {
    const net::DeadlineScope scope(Clock::now() + std::chrono::milliseconds(500));
    const auto started = Clock::now();
    auto err = error_of([&] { client.send(req); });
    CHECK(err.code() == Errc::network);
    CHECK(Clock::now() - started < std::chrono::seconds(5));
    {
      const net::DeadlineScope later(Clock::now() + std::chrono::hours(1));  // the earlier deadline still holds
      CHECK(net::DeadlineScope::current() < Clock::now());
      auto late = error_of([&] { client.send(req); });
      CHECK_THAT(late.reason(), Catch::Contains("deadline"));
    }
  }
  CHECK(net::DeadlineScope::current() == Clock::time_point::max());
}
