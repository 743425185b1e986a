// /readyz of `cmop serve` publishing to ChartMuseum: ready means ChartMuseum
// accepts the configured credentials, which its /health (open to anyone) cannot
// tell. Against test/support/fake_chartmuseum.py over real sockets.
#include "cmop/publish/publisher.hpp"
#include "serve_fixtures.hpp"

using namespace cmop;
using test::call;
using test::json_of;
using test::str;

TEST_CASE("readyz reports ChartMuseum refusing the credentials, though its /health is green", "[serve][chartmuseum]") {
  test::ChartsRepo git;
  auto museum = test::start_python_peer("fake_chartmuseum.py", {"--basic-auth", "cm:pw"});
  REQUIRE(call(museum.url(), "GET", "/health").status == 200);

  auto o = test::local_options(git.state);
  o.chartmuseum_url = museum.url();
  o.chartmuseum_username = "cm";
  o.chartmuseum_password = "not-the-password";
  {
    serve::Server server(o);
    server.start();
    const auto base = server.url();
    // Ready, or not ready for a reason a probe gave (not "not probed yet").
    test::eventually(
        [&] {
          auto r = call(base, "GET", "/readyz");
          return r.status == 200 || str(json_of(r), "error").find("HTTP") != std::string::npos;
        },
        "a probe answered");
    // Several probe intervals later it is still not ready.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto res = call(base, "GET", "/readyz");
    CHECK(res.status == 503);
    const std::string error = str(json_of(res), "error");
    CHECK_THAT(error, Catch::Contains("HTTP 401") &&
                          Catch::Contains(std::string(publish::kChartMuseumCredentialsRefused)) &&
                          Catch::Contains(museum.url()));
    CHECK_THAT(error, !Catch::Contains("not-the-password"));
  }

  o.chartmuseum_password = "pw";
  o.state_dir = git.tmp.path() / "state-2";
  serve::Server server(o);
  server.start();
  const auto base = server.url();
  test::eventually([&] { return call(base, "GET", "/readyz").status == 200; }, "ready with the right credentials");
}

TEST_CASE("a chart over ChartMuseum's upload limit is reported with the limit the sidecar was told",
          "[serve][chartmuseum]") {
  test::ChartsRepo git;
  std::string noise(2u << 20, '\0');
  std::uint64_t x = 88172645463325252ull;  // xorshift: bytes gzip cannot shrink
  for (auto& c : noise) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x & 0xff);
  }
  git.work.write("charts/alpha/files/noise.bin", noise);
  git.work.commit("a big alpha");
  git.push();
  auto museum = test::start_python_peer("fake_chartmuseum.py", {"--max-upload-size", std::to_string(1 << 20)});
  auto o = test::local_options(git.state);
  o.chartmuseum_url = museum.url();
  o.chartmuseum_max_upload_bytes = 1u << 20;
  serve::Server server(o);
  server.start();
  auto res = call(server.url(), "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url()));
  REQUIRE(res.status == 200);  // a chart failed, ChartMuseum did not
  auto report = json_of(res);
  std::string alpha_reason;
  for (auto& c : report["charts"].GetArray())
    if (str(c, "name") == "alpha") alpha_reason = str(c, "reason");
  CHECK_THAT(alpha_reason, Catch::Contains("HTTP 413") && Catch::Contains("--max-upload-size of 1.0 MiB"));
}
