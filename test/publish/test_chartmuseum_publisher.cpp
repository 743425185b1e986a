// The ChartMuseum publisher against test/support/fake_chartmuseum.py over real
// sockets on 127.0.0.1.
#include <catch2/catch.hpp>

#include <csignal>

#include "cmop/error.hpp"
#include "cmop/publish/publisher.hpp"
#include "publish_fixtures.hpp"
#include "support/process.hpp"

using namespace cmop;
using test::error_of;
using test::make_package;
using test::stored_charts;

TEST_CASE("chartmuseum: upload is stored and listed in index.yaml", "[chartmuseum]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py");
  auto publisher = publish::make_chartmuseum_publisher(test::chartmuseum_options(peer));
  auto pkg = make_package("web", "1.2.0");
  publisher->publish(pkg, false);

  CHECK(stored_charts(peer.url()) == test::StoredCharts{{"web", {{"1.2.0", pkg.digest}}}});
  auto index = test::http_get(peer.url() + "/index.yaml");
  REQUIRE(index.status == 200);
  CHECK_THAT(index.body, Catch::Contains("digest: " + pkg.digest));
  CHECK_THAT(index.body, Catch::Contains("charts/web-1.2.0.tgz"));
  auto download = test::http_get(peer.url() + "/charts/web-1.2.0.tgz");
  CHECK(download.status == 200);
  CHECK(download.body == pkg.bytes);

  auto doc = test::fake_state(peer.url());
  bool saw_octet_stream_post = false;
  for (const auto& entry : doc["log"].GetArray())
    if (std::string(entry["method"].GetString()) == "POST" && std::string(entry["path"].GetString()) == "/api/charts")
      saw_octet_stream_post = std::string(entry["content_type"].GetString()) == "application/octet-stream" &&
                              std::string(entry["query"].GetString()).empty();
  CHECK(saw_octet_stream_post);
  CHECK_THAT(publisher->describe(), Catch::Contains(peer.url()));
  publisher->probe();
}

TEST_CASE("chartmuseum: re-upload conflicts without replace and overwrites with it", "[chartmuseum]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py");
  auto publisher = publish::make_chartmuseum_publisher(test::chartmuseum_options(peer));
  auto first = make_package("web", "1.2.0", "one");
  auto second = make_package("web", "1.2.0", "two");
  REQUIRE(first.digest != second.digest);
  publisher->publish(first, false);

  auto err = test::error_of([&] { publisher->publish(second, false); });
  CHECK(err.code() == Errc::conflict);
  CHECK_THAT(err.reason(), Catch::Contains("file already exists") && Catch::Contains("web-1.2.0"));
  CHECK(stored_charts(peer.url())["web"]["1.2.0"] == first.digest);

  publisher->publish(second, true);
  CHECK(stored_charts(peer.url())["web"]["1.2.0"] == second.digest);
  auto doc = test::fake_state(peer.url());
  bool forced = false;
  for (const auto& entry : doc["log"].GetArray())
    if (std::string(entry["query"].GetString()) == "force=true" && entry["status"].GetInt() == 201) forced = true;
  CHECK(forced);
}

TEST_CASE("chartmuseum: re-uploading the identical package is adopted, not a conflict", "[chartmuseum]") {
  // A sidecar that lost its state re-asserts every chart without ?force.
  auto peer = test::start_python_peer("fake_chartmuseum.py");
  auto publisher = publish::make_chartmuseum_publisher(test::chartmuseum_options(peer));
  auto pkg = make_package("web", "1.2.0", "one");
  publisher->publish(pkg, false);
  publisher->publish(pkg, false);
  CHECK(stored_charts(peer.url())["web"]["1.2.0"] == pkg.digest);
  auto doc = test::fake_state(peer.url());
  int conflicts = 0, describes = 0;
  for (const auto& entry : doc["log"].GetArray()) {
    if (entry["status"].GetInt() == 409) ++conflicts;
    if (std::string(entry["method"].GetString()) == "GET" &&
        std::string(entry["path"].GetString()) == "/api/charts/web/1.2.0")
      ++describes;
  }
  CHECK(conflicts == 1);
  CHECK(describes == 1);
}

TEST_CASE("chartmuseum: a server refusing ?force answers conflict even with replace", "[chartmuseum]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py", {"--disable-force-overwrite"});
  auto publisher = publish::make_chartmuseum_publisher(test::chartmuseum_options(peer));
  publisher->publish(make_package("web", "1.0.0", "a"), false);
  auto err = test::error_of([&] { publisher->publish(make_package("web", "1.0.0", "b"), true); });
  CHECK(err.code() == Errc::conflict);
  CHECK_THAT(err.reason(), Catch::Contains("disable-force-overwrite"));
}

TEST_CASE("chartmuseum: delete removes the chart, deleting a missing one is fine", "[chartmuseum]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py");
  auto publisher = publish::make_chartmuseum_publisher(test::chartmuseum_options(peer));
  publisher->publish(make_package("web", "1.0.0"), false);
  publisher->publish(make_package("web", "1.1.0"), false);
  publisher->remove("web", "1.0.0");
  CHECK(stored_charts(peer.url()) == test::StoredCharts{{"web", {{"1.1.0", make_package("web", "1.1.0").digest}}}});
  publisher->remove("web", "1.0.0");
  publisher->remove("never-there", "9.9.9");
  CHECK(test::request_count(peer.url(), "DELETE /api/charts/web/1.0.0") == 2);
  CHECK(test::http_get(peer.url() + "/charts/web-1.0.0.tgz").status == 404);
}

TEST_CASE("chartmuseum: a server without the delete route is an error, not a silent success", "[chartmuseum]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py", {"--disable-delete"});
  auto publisher = publish::make_chartmuseum_publisher(test::chartmuseum_options(peer));
  publisher->publish(make_package("web", "1.0.0"), false);
  auto err = test::error_of([&] { publisher->remove("web", "1.0.0"); });
  CHECK(err.code() == Errc::upstream);
  CHECK_THAT(err.reason(), Catch::Contains("disable-delete"));
  CHECK(stored_charts(peer.url()).count("web") == 1);
}

TEST_CASE("chartmuseum: basic auth", "[chartmuseum][auth]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py", {"--basic-auth", "alice:s3cret"});
  auto pkg = make_package("web", "1.0.0");

  SECTION("missing credentials are refused") {
    auto err = test::error_of([&] { publish::make_chartmuseum_publisher(test::chartmuseum_options(peer))->publish(pkg, false); });
    CHECK(err.code() == Errc::unauthorized);
    CHECK_THAT(err.reason(), Catch::Contains("HTTP 401") && Catch::Contains("unauthorized"));
  }
  SECTION("wrong password is refused") {
    auto o = test::chartmuseum_options(peer);
    o.username = "alice";
    o.password = "wrong";
    auto publisher = publish::make_chartmuseum_publisher(o);
    CHECK(test::error_of([&] { publisher->publish(pkg, false); }).code() == Errc::unauthorized);
    CHECK(test::error_of([&] { publisher->remove("web", "1.0.0"); }).code() == Errc::unauthorized);
    CHECK(test::error_of([&] { publisher->probe(); }).code() == Errc::unauthorized);
  }
  SECTION("right credentials publish and delete") {
    auto o = test::chartmuseum_options(peer);
    o.username = "alice";
    o.password = "s3cret";
    auto publisher = publish::make_chartmuseum_publisher(o);
    publisher->probe();
    publisher->publish(pkg, false);
    CHECK(stored_charts(peer.url()).count("web") == 1);
    publisher->remove("web", "1.0.0");
    CHECK(stored_charts(peer.url()).empty());
  }
  CHECK(test::stored_charts(peer.url()).empty());
}

TEST_CASE("chartmuseum: bearer auth takes precedence over basic", "[chartmuseum][auth]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py", {"--bearer-token", "tok-123"});
  auto pkg = make_package("web", "1.0.0");
  auto o = test::chartmuseum_options(peer);
  o.username = "alice";
  o.password = "ignored";

  o.bearer_token = "tok-wrong";
  CHECK(test::error_of([&] { publish::make_chartmuseum_publisher(o)->publish(pkg, false); }).code() ==
        Errc::unauthorized);
  CHECK(stored_charts(peer.url()).empty());

  o.bearer_token = "tok-123";
  publish::make_chartmuseum_publisher(o)->publish(pkg, false);
  CHECK(stored_charts(peer.url()).count("web") == 1);
}

TEST_CASE("chartmuseum: multitenant prefix", "[chartmuseum]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py", {"--depth", "2"});
  auto o = test::chartmuseum_options(peer);
  o.tenant_path = "/org1/repo-a/";
  auto publisher = publish::make_chartmuseum_publisher(o);
  auto pkg = make_package("web", "1.0.0");
  publisher->publish(pkg, false);
  CHECK(stored_charts(peer.url(), "org1/repo-a") == test::StoredCharts{{"web", {{"1.0.0", pkg.digest}}}});
  CHECK(stored_charts(peer.url()).empty());
  auto index = test::http_get(peer.url() + "/org1/repo-a/index.yaml");
  REQUIRE(index.status == 200);
  CHECK_THAT(index.body, Catch::Contains(pkg.digest));
  CHECK(test::http_get(peer.url() + "/org2/repo-b/index.yaml").body.find(pkg.digest) == std::string::npos);
  CHECK_THAT(publisher->describe(), Catch::Contains("org1/repo-a"));

  publisher->remove("web", "1.0.0");
  CHECK(stored_charts(peer.url(), "org1/repo-a").empty());

  // Without the tenant the depth-2 server has no such route.
  auto bare = publish::make_chartmuseum_publisher(test::chartmuseum_options(peer));
  auto err = test::error_of([&] { bare->publish(pkg, false); });
  CHECK(err.code() == Errc::upstream);
  CHECK_THAT(err.reason(), Catch::Contains("HTTP 404"));
}

TEST_CASE("chartmuseum: injected server errors are upstream errors with the server's message", "[chartmuseum]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py");
  auto publisher = publish::make_chartmuseum_publisher(test::chartmuseum_options(peer));
  REQUIRE(test::http_post(peer.url() + "/__faults", R"({"fail_next": 2, "status": 500})").status == 200);
  auto err = test::error_of([&] { publisher->publish(make_package("web", "1.0.0"), false); });
  CHECK(err.code() == Errc::upstream);
  CHECK(err.subject() == peer.url() + "/api/charts");
  CHECK_THAT(err.reason(), Catch::Contains("HTTP 500: injected fault"));
  err = test::error_of([&] { publisher->remove("web", "1.0.0"); });
  CHECK(err.code() == Errc::upstream);
  CHECK_THAT(err.reason(), Catch::Contains("HTTP 500"));
  // The faults are used up: the next upload goes through.
  publisher->publish(make_package("web", "1.0.0"), false);
  CHECK(stored_charts(peer.url()).count("web") == 1);

  REQUIRE(test::http_post(peer.url() + "/__faults",
                          R"({"fail_next": 1, "status": 502, "body": "<html>Bad Gateway</html>"})")
              .status == 200);
  err = test::error_of([&] { publisher->publish(make_package("db", "1.0.0"), false); });
  CHECK(err.code() == Errc::upstream);
  CHECK_THAT(err.reason(), Catch::Contains("HTTP 502: <html>Bad Gateway</html>"));
}

TEST_CASE("chartmuseum: a package ChartMuseum cannot read is a failure of that chart", "[chartmuseum]") {
  // v0.16 answers 400 with its loader's message; the server itself is fine.
  auto peer = test::start_python_peer("fake_chartmuseum.py");
  auto publisher = publish::make_chartmuseum_publisher(test::chartmuseum_options(peer));
  auto pkg = make_package("web", "1.0.0");
  pkg.bytes = "not a gzip stream";
  auto err = test::error_of([&] { publisher->publish(pkg, false); });
  CHECK(err.code() == Errc::invalid_chart);
  CHECK_THAT(err.reason(), Catch::Contains("HTTP 400") && Catch::Contains("gzip") && Catch::Contains("web-1.0.0"));
}

TEST_CASE("chartmuseum: an unreachable server is a network error", "[chartmuseum]") {
  publish::ChartMuseumOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(test::free_port());
  auto publisher = publish::make_chartmuseum_publisher(o);
  auto err = test::error_of([&] { publisher->publish(make_package("web", "1.0.0"), false); });
  CHECK(err.code() == Errc::network);
  CHECK_THAT(err.reason(), Catch::Contains("uploading web-1.0.0"));
  CHECK(test::error_of([&] { publisher->remove("web", "1.0.0"); }).code() == Errc::network);
  CHECK(test::error_of([&] { publisher->probe(); }).code() == Errc::network);
}

TEST_CASE("chartmuseum: a server that dies between requests is a network error", "[chartmuseum]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py");
  auto publisher = publish::make_chartmuseum_publisher(test::chartmuseum_options(peer));
  publisher->publish(make_package("web", "1.0.0"), false);
  peer.process.kill(SIGKILL);
  peer.process.wait();
  CHECK(test::error_of([&] { publisher->publish(make_package("web", "1.1.0"), false); }).code() == Errc::network);
}

TEST_CASE("chartmuseum: bad configuration is refused up front", "[chartmuseum]") {
  publish::ChartMuseumOptions o;
  o.url = "ftp://example.org";
  CHECK(test::error_of([&] { publish::make_chartmuseum_publisher(o); }).code() == Errc::invalid_argument);
  o.url = "http://127.0.0.1:1";
  o.tenant_path = "org/../etc";
  CHECK(test::error_of([&] { publish::make_chartmuseum_publisher(o); }).code() == Errc::invalid_argument);
  o.tenant_path = "";
  o.upload_timeout = std::chrono::milliseconds(0);
  CHECK(test::error_of([&] { publish::make_chartmuseum_publisher(o); }).code() == Errc::invalid_argument);
}

TEST_CASE("chartmuseum: a server that does not answer in time is a network error", "[chartmuseum]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py");
  // The stall (20 s) is far beyond the timeout (0.3 s): the outcome does not
  // depend on scheduling, only on the timeout being enforced at all.
  REQUIRE(test::http_post(peer.url() + "/__faults", R"({"delay_ms": 20000})").status == 200);
  auto o = test::chartmuseum_options(peer);
  o.upload_timeout = std::chrono::milliseconds(300);
  o.request_timeout = std::chrono::milliseconds(300);
  auto publisher = publish::make_chartmuseum_publisher(o);
  auto err = test::error_of([&] { publisher->publish(make_package("web", "1.0.0"), false); });
  CHECK(err.code() == Errc::network);
  CHECK_THAT(err.reason(), Catch::Contains("uploading web-1.0.0"));
  CHECK(test::error_of([&] { publisher->remove("web", "1.0.0"); }).code() == Errc::network);
}

TEST_CASE("chartmuseum: holds() is true only for the very bytes listed under the name and version", "[chartmuseum]") {
  auto peer = test::start_python_peer("fake_chartmuseum.py");
  auto publisher = publish::make_chartmuseum_publisher(test::chartmuseum_options(peer));
  auto pkg = make_package("web", "1.2.0", "one");
  CHECK_FALSE(publisher->holds(pkg));
  publisher->publish(pkg, false);
  CHECK(publisher->holds(pkg));
  CHECK_FALSE(publisher->holds(make_package("web", "1.2.0", "other bytes")));
  CHECK_FALSE(publisher->holds(make_package("web", "1.3.0", "one")));
  auto signed_pkg = pkg;
  signed_pkg.provenance = "-----BEGIN PGP SIGNED MESSAGE-----\n";  // the .prov is not compared: publish() decides
  CHECK_FALSE(publisher->holds(signed_pkg));
}
