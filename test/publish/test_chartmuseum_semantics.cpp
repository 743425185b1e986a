// The ChartMuseum publisher against the places where ChartMuseum v0.16 behaves
// differently from what a client would guess (docs/chartmuseum.md): every failed
// delete is a 404, a package its loader refuses is a 400, /health needs no
// credentials, an oversized upload is answered (413) before it is read, its
// index lags behind its storage, and its storage writes are not atomic. Each
// case runs against test/support/fake_chartmuseum.py over real sockets.
#include <catch2/catch.hpp>

#include <random>

#include "cmop/error.hpp"
#include "cmop/publish/publisher.hpp"
#include "publish_fixtures.hpp"
#include "support/process.hpp"

using namespace cmop;
using test::error_of;
using test::make_package;
using test::stored_charts;

namespace {

void set_fault(const test::Peer& peer, const std::string& spec) {
  REQUIRE(test::http_post(peer.url() + "/__faults", spec).status == 200);
}

// A package whose Chart.yaml is exactly `chart_yaml` (what Helm's loader reads).
package::Package package_with_chart_yaml(const std::string& name, const std::string& version,
                                         const std::string& chart_yaml) {
  package::TarGzWriter writer;
  writer.add_file(name + "/Chart.yaml", chart_yaml);
  writer.add_file(name + "/values.yaml", "x: 1\n");
  auto pkg = make_package(name, version);
  pkg.bytes = writer.finish();
  pkg.digest = util::sha256_hex(pkg.bytes);
  return pkg;
}

}  // namespace

TEST_CASE("chartmuseum: a delete that failed in storage is an error, the chart stays", "[chartmuseum][semantics]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py");
  auto publisher = publish::make_chartmuseum_publisher(test::chartmuseum_options(peer));
  auto pkg = make_package("web", "1.0.0");
  publisher->publish(pkg, false);

  for (const char* storage_error : {"permission denied", "read-only file system"}) {
    INFO(storage_error);
    set_fault(peer, std::string(R"({"delete_error": ")") + storage_error + "\"}");
    auto err = test::error_of([&] { publisher->remove("web", "1.0.0"); });
    CHECK(err.code() == Errc::upstream);
    CHECK_THAT(err.reason(), Catch::Contains("HTTP 404") && Catch::Contains(storage_error) &&
                                 Catch::Contains("still published"));
    CHECK(stored_charts(peer.url())["web"]["1.0.0"] == pkg.digest);
  }

  // Once storage works again the delete goes through; deleting it again is fine
  // ("no such file or directory" means it is gone).
  set_fault(peer, R"({"delete_error": null})");
  publisher->remove("web", "1.0.0");
  CHECK(stored_charts(peer.url()).empty());
  publisher->remove("web", "1.0.0");
}

TEST_CASE("chartmuseum: packages Helm's loader refuses are 400s, failures of that chart", "[chartmuseum][semantics]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py");
  auto publisher = publish::make_chartmuseum_publisher(test::chartmuseum_options(peer));
  struct Case {
    std::string chart_yaml, message;
  } cases[] = {
      {"apiVersion: v2\nname: web\nversion: one.two\n", "chart.metadata.version \"one.two\" is invalid"},
      {"apiVersion: v2\nname: web\nversion: 1.0.0\ntype: service\n", "chart.metadata.type must be application or library"},
      {"apiVersion: v2\nversion: 1.0.0\n", "chart.metadata.name is required"},
      {"apiVersion: v2\nname: web\nversion: 1.0.0\ndependencies:\n- name: db\n  alias: \"no spaces\"\n",
       "dependency \"db\" has disallowed characters in the alias"},
  };
  for (const auto& c : cases) {
    INFO(c.chart_yaml);
    auto err = test::error_of([&] { publisher->publish(package_with_chart_yaml("web", "1.0.0", c.chart_yaml), false); });
    CHECK(err.code() == Errc::invalid_chart);
    CHECK_THAT(err.reason(), Catch::Contains("HTTP 400") && Catch::Contains("validation: " + c.message));
  }
  CHECK(stored_charts(peer.url()).empty());
  // A loose SemVer Helm accepts ("v1.2", build metadata) is stored.
  publisher->publish(package_with_chart_yaml("web", "v1.2", "apiVersion: v2\nname: web\nversion: v1.2+build.7\n"), false);
  CHECK(stored_charts(peer.url())["web"].count("v1.2+build.7") == 1);
}

TEST_CASE("chartmuseum: the probe proves the credentials, /health does not", "[chartmuseum][semantics][auth]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py", {"--basic-auth", "alice:s3cret"});
  // ChartMuseum's /health answers anyone.
  CHECK(test::http_get(peer.url() + "/health", {{"Authorization", "Basic d3Jvbmc6d3Jvbmc="}}).status == 200);

  auto o = test::chartmuseum_options(peer);
  o.username = "alice";
  o.password = "wrong";
  auto err = test::error_of([&] { publish::make_chartmuseum_publisher(o)->probe(); });
  CHECK(err.code() == Errc::unauthorized);
  CHECK_THAT(err.reason(), Catch::Contains("HTTP 401: unauthorized") &&
                               Catch::Contains(std::string(publish::kChartMuseumCredentialsRefused)));
  CHECK_THAT(err.what(), !Catch::Contains("wrong"));  // the password never shows

  o.password = "s3cret";
  publish::make_chartmuseum_publisher(o)->probe();
  auto doc = test::fake_state(peer.url());
  bool probed_api = false;
  for (const auto& entry : doc["log"].GetArray())
    probed_api |= std::string(entry["path"].GetString()) == "/api/charts" && entry["status"].GetInt() == 200;
  CHECK(probed_api);
}

TEST_CASE("chartmuseum: the probe names a tenant path that does not match --depth", "[chartmuseum][semantics]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py", {"--depth", "2"});
  auto o = test::chartmuseum_options(peer);
  o.tenant_path = "org1";
  auto err = test::error_of([&] { publish::make_chartmuseum_publisher(o)->probe(); });
  CHECK(err.code() == Errc::upstream);
  CHECK_THAT(err.reason(), Catch::Contains("HTTP 404") && Catch::Contains("--depth"));
  o.tenant_path = "org1/repo-a";
  publish::make_chartmuseum_publisher(o)->probe();
}

TEST_CASE("chartmuseum: an upload over --max-upload-size is too_large for that chart, not a dead server",
          "[chartmuseum][semantics]") {
  // The server reads limit + 1 bytes, answers 413 and closes while the client
  // still has megabytes to send: more than the sockets buffer on loopback, so a
  // client that reads only after writing meets a reset connection.
  auto peer = test::start_python_peer("fake_chartmuseum.py", {"--max-upload-size", std::to_string(1 << 20)});
  auto publisher = publish::make_chartmuseum_publisher(test::chartmuseum_options(peer));
  auto big = make_package("big", "1.0.0");
  std::mt19937_64 rng(7);
  big.bytes.resize(24u << 20);
  for (auto& c : big.bytes) c = static_cast<char>(rng() & 0xff);
  auto err = test::error_of([&] { publisher->publish(big, false); });
  INFO(err.what());
  CHECK(err.code() == Errc::too_large);
  CHECK_THAT(err.reason(), Catch::Contains("big-1.0.0") && Catch::Contains("HTTP 413") &&
                               Catch::Contains("request too large") && Catch::Contains("--max-upload-size") &&
                               Catch::Contains("24.0 MiB") && Catch::Contains("20.0 MiB"));
  CHECK(stored_charts(peer.url()).empty());
  // The same publisher goes on publishing.
  publisher->publish(make_package("small", "1.0.0"), false);
  CHECK(stored_charts(peer.url()).count("small") == 1);
  // Told the server's limit, it names that one.
  auto o = test::chartmuseum_options(peer);
  o.max_upload_bytes = 1u << 20;
  err = test::error_of([&] { publish::make_chartmuseum_publisher(o)->publish(big, false); });
  CHECK(err.code() == Errc::too_large);
  CHECK_THAT(err.reason(), Catch::Contains("--max-upload-size of 1.0 MiB"));
}

TEST_CASE("chartmuseum: 507 (--max-storage-objects) is a clear failure of that chart", "[chartmuseum][semantics]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py", {"--max-storage-objects", "1"});
  auto publisher = publish::make_chartmuseum_publisher(test::chartmuseum_options(peer));
  publisher->publish(make_package("web", "1.0.0"), false);
  auto err = test::error_of([&] { publisher->publish(make_package("db", "1.0.0"), false); });
  CHECK(err.code() == Errc::too_large);
  CHECK_THAT(err.reason(), Catch::Contains("HTTP 507") && Catch::Contains("storage limit") &&
                               Catch::Contains("--max-storage-objects"));
}

TEST_CASE("chartmuseum: 409 while the index lags is settled, and says which case it is",
          "[chartmuseum][semantics]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py");
  auto publisher = publish::make_chartmuseum_publisher(test::chartmuseum_options(peer));

  SECTION("the index catches up within the re-check delay: adopted") {
    set_fault(peer, R"({"index_lag_ms": 100})");
    auto pkg = make_package("web", "1.0.0");
    publisher->publish(pkg, false);
    publisher->publish(pkg, false);  // 409, not listed yet, listed 200 ms later
    CHECK(stored_charts(peer.url())["web"]["1.0.0"] == pkg.digest);
  }
  SECTION("the index lags longer (a restarted server's old cache): the stored bytes are ours, adopted") {
    set_fault(peer, R"({"index_lag_ms": 600000})");
    auto pkg = make_package("web", "1.0.0");
    publisher->publish(pkg, false);
    publisher->publish(pkg, false);
    CHECK(test::http_get(peer.url() + "/api/charts/web/1.0.0").status == 404);  // still lagging
    CHECK(stored_charts(peer.url())["web"]["1.0.0"] == pkg.digest);
  }
  SECTION("another package that the index does not list yet: a conflict naming the lag") {
    set_fault(peer, R"({"index_lag_ms": 600000})");
    auto theirs = make_package("web", "1.0.0", "theirs");
    publisher->publish(theirs, false);
    auto err = test::error_of([&] { publisher->publish(make_package("web", "1.0.0", "ours"), false); });
    CHECK(err.code() == Errc::conflict);
    CHECK_THAT(err.reason(), Catch::Contains("index lag") && Catch::Contains("web-1.0.0"));
    CHECK(stored_charts(peer.url())["web"]["1.0.0"] == theirs.digest);
  }
  SECTION("a listed package with another digest: a conflict naming it") {
    publisher->publish(make_package("web", "1.0.0", "theirs"), false);
    auto err = test::error_of([&] { publisher->publish(make_package("web", "1.0.0", "ours"), false); });
    CHECK(err.code() == Errc::conflict);
    CHECK_THAT(err.reason(), Catch::Contains("another digest"));
  }
}

TEST_CASE("chartmuseum: a torn object left by a crash mid-write is replaced, not a conflict",
          "[chartmuseum][semantics]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py");
  auto publisher = publish::make_chartmuseum_publisher(test::chartmuseum_options(peer));
  auto pkg = make_package("web", "1.0.0");
  set_fault(peer, R"({"truncate_next_upload": true})");
  CHECK(test::error_of([&] { publisher->publish(pkg, false); }).code() == Errc::network);
  // The torn half is "existing" for 409 and absent from the index.
  CHECK(test::http_get(peer.url() + "/charts/web-1.0.0.tgz").body.size() == pkg.bytes.size() / 2);
  CHECK(stored_charts(peer.url()).empty());

  publisher->publish(pkg, false);
  CHECK(stored_charts(peer.url())["web"]["1.0.0"] == pkg.digest);
  CHECK(test::http_get(peer.url() + "/charts/web-1.0.0.tgz").body == pkg.bytes);
}
