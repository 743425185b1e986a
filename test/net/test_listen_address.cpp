#include <catch2/catch.hpp>

#include "cmop/net/listen_address.hpp"
#include "support/error_of.hpp"

using namespace cmop;

TEST_CASE("listen addresses: host:port, [v6]:port and :port") {
  auto a = net::parse_listen_address("127.0.0.1:8081");
  CHECK(a.host == "127.0.0.1");
  CHECK(a.port == 8081);
  auto b = net::parse_listen_address("[::1]:0");
  CHECK(b.host == "::1");
  CHECK(b.port == 0);
  auto c = net::parse_listen_address(":65535");
  CHECK(c.host == "0.0.0.0");
  CHECK(c.port == 65535);
}

TEST_CASE("a listen address without a port, with a host name or a bad port is refused naming it") {
  for (const char* text : {"127.0.0.1", "localhost:80", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:80x",
                           "127.0.0.1:-1", "127.0.0.1:000000080"}) {
    INFO(text);
    auto e = test::error_of([&] { net::parse_listen_address(text); });
    CHECK(e.code() == Errc::invalid_argument);
    CHECK(e.subject() == std::string("listen address \"") + text + "\"");
  }
}
