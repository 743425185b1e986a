// Request::cancelled ends an exchange that waits on a silent peer long before its
// timeout (what lets a watch stream stop at shutdown).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>

#include "cmop/error.hpp"
#include "cmop/net/http_client.hpp"

using namespace cmop;

TEST_CASE("a request waiting on a silent peer ends within 100 ms of being cancelled") {
  // A listening socket that never accepts: the kernel completes the connection and
  // nobody ever answers.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);

  auto started = std::chrono::steady_clock::now();
  const auto cancel_at = started + std::chrono::milliseconds(300);
  net::Request req;
  req.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/watch";
  req.timeout = std::chrono::seconds(30);
  req.cancelled = [&] { return std::chrono::steady_clock::now() >= cancel_at; };
  try {
    net::HttpClient().send(req);
    FAIL("a silent peer answered");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::network);
    CHECK_THAT(e.what(), Catch::Contains("cancelled"));
  }
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(took >= std::chrono::milliseconds(300));
  CHECK(took < std::chrono::milliseconds(1000));
  ::close(fd);
}
