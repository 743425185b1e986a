// HttpClient against a peer that answers before it has read the request body and
// then closes: ChartMuseum's 413 once it has read --max-upload-size + 1 bytes
// (test/support/fake_chartmuseum.py does as gin-contrib/size and Go's server do).
// The body is far larger than what loopback sockets buffer, so a client that
// starts reading only after writing everything meets a reset connection.
#include <catch2/catch.hpp>

#include "cmop/error.hpp"
#include "cmop/net/http_client.hpp"
#include "support/process.hpp"

using namespace cmop;

TEST_CASE("an answer that comes while the body is still being sent is read, the rest of the body dropped") {
  auto peer = test::start_python_peer("fake_chartmuseum.py", {"--max-upload-size", std::to_string(1 << 20)});
  net::Request req;
  req.method = "POST";
  req.url = peer.url() + "/api/charts";
  req.headers = {{"Content-Type", "application/octet-stream"}};
  req.body.assign(32u << 20, 'x');
  req.timeout = std::chrono::milliseconds(30000);
  net::Response res = net::HttpClient().send(req);
  CHECK(res.status == 413);
  CHECK(res.body == "request too large");
  CHECK_THAT(res.header("Content-Type"), Catch::StartsWith("text/plain"));
  CHECK(res.header("Connection") == "close");

  // A body within the limit is read whole and answered after it.
  req.body.assign(1000, 'x');
  res = net::HttpClient().send(req);
  CHECK(res.status == 400);  // not a chart package: ChartMuseum's loader refuses it
}
