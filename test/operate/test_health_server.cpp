// The operator's health endpoint on the shared HTTP transport, over a real socket.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "cmop/net/http_client.hpp"
#include "cmop/operate/health_server.hpp"

using namespace cmop;

namespace {

net::Response call(int port, const std::string& method, const std::string& path, const std::string& body = {}) {
  net::Request req;
  req.method = method;
  req.url = "http://127.0.0.1:" + std::to_string(port) + path;
  req.body = body;
  req.timeout = std::chrono::seconds(10);
  return net::HttpClient().send(req);
}

}  // namespace

TEST_CASE("operator health server: GET and HEAD reach the handler by path, other methods get 405, "
          "a throwing handler 500",
          "[operate][health]") {
  std::string seen;
  operate::HealthServer server("127.0.0.1:0", [&](const std::string& path) -> operate::HealthResponse {
    seen = path;
    if (path == "/boom") throw std::runtime_error("probe failed: no leader yet");
    if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
    return {404, "text/plain; charset=utf-8", "not found\n"};
  });
  REQUIRE(server.port() > 0);

  auto ok = call(server.port(), "GET", "/healthz?verbose=1");
  CHECK(ok.status == 200);
  CHECK(ok.body == "ok\n");
  CHECK(seen == "/healthz");  // the query is not part of the path
  CHECK(ok.header("Content-Type") == "text/plain; charset=utf-8");

  auto head = call(server.port(), "HEAD", "/healthz");
  CHECK(head.status == 200);
  CHECK(head.body.empty());

  CHECK(call(server.port(), "GET", "/nope").status == 404);

  seen.clear();
  auto post = call(server.port(), "POST", "/healthz", "{\"x\":1}");
  CHECK(post.status == 405);
  CHECK(post.header("Allow") == "GET, HEAD");
  CHECK(seen.empty());  // refused before the handler
  auto bodiless = call(server.port(), "DELETE", "/healthz");
  CHECK(bodiless.status == 405);
  CHECK(seen.empty());

  auto boom = call(server.port(), "GET", "/boom");
  CHECK(boom.status == 500);
  CHECK(boom.body == "probe failed: no leader yet\n");
}

TEST_CASE("operator health server: a taken or malformed listen address is refused with the address named",
          "[operate][health]") {
  operate::HealthServer first("127.0.0.1:0", [](const std::string&) { return operate::HealthResponse{}; });
  const std::string taken = "127.0.0.1:" + std::to_string(first.port());
  REQUIRE_THROWS_WITH(operate::HealthServer(taken, [](const std::string&) { return operate::HealthResponse{}; }),
                      Catch::Contains(taken));
  REQUIRE_THROWS_WITH(operate::HealthServer("127.0.0.1:8080abc", [](const std::string&) { return operate::HealthResponse{}; }),
                      Catch::Contains("8080abc"));
}
