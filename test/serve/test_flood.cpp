// Hostile peers on 127.0.0.0/8 (each 127.0.0.x another client): slow request
// bodies and unauthenticated long polls must not lock health probes or the
// operator's feed out, a slow but steady download must get its whole file, and the
// access log must say how much of a response was really sent (issue 22).
#include <fstream>
#include <mutex>

#include "serve_fixtures.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/log.hpp"

using namespace cmop;
using test::call;
using test::json_of;
using test::str;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kToken = "operator-token";

struct Running : test::Running {
  explicit Running(std::function<void(serve::ServerOptions&)> tweak = {})
      : test::Running(std::move(tweak), "cmop-serve-flood-") {}
};

// The status of one request, 0 when the connection failed or was closed unanswered,
// and how long it took.
struct Timed {
  int status = 0;
  std::string body;
  double seconds = 0;
};
Timed timed_call(const std::string& base, const std::string& path, net::Headers headers = {}) {
  Timed t;
  const auto start = Clock::now();
  try {
    auto res = call(base, "GET", path, "", std::move(headers));
    t.status = res.status;
    t.body = res.body;
  } catch (const std::exception&) {
    t.status = 0;
  }
  t.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return t;
}

std::string client_address(int i) { return "127.0.0." + std::to_string(i); }

// Log lines, from whichever thread writes them.
struct CapturedLog {
  std::mutex mu;
  std::vector<std::string> lines;
  CapturedLog() {
    util::log::set_sink([this](std::string_view line) {
      std::lock_guard lk(mu);
      lines.emplace_back(line);
    });
  }
  ~CapturedLog() { util::log::set_sink(nullptr); }
  // The last line naming `needle`.
  std::string last(const std::string& needle) {
    std::lock_guard lk(mu);
    for (auto it = lines.rbegin(); it != lines.rend(); ++it)
      if (it->find(needle) != std::string::npos) return *it;
    return {};
  }
};

// The value of `key=` in a text log line ("" when absent).
std::string field(const std::string& line, const std::string& key) {
  auto pos = line.find(" " + key + "=");
  if (pos == std::string::npos) return {};
  pos += key.size() + 2;
  return line.substr(pos, line.find(' ', pos) - pos);
}

void write_file(const std::filesystem::path& p, std::size_t size) {
  std::ofstream out(p, std::ios::binary);
  std::string block(1 << 20, 'x');
  for (std::size_t done = 0; done < size; done += block.size()) out.write(block.data(), static_cast<std::streamsize>(std::min(block.size(), size - done)));
}

}  // namespace

// Before: 48 slow webhook bodies with --max-connections 32 held every connection
// (neither idle nor busy, so none could be displaced) and /healthz went unanswered.
TEST_CASE("a flood of slow webhook bodies and unauthenticated long polls leaves health and the operator's feed reachable",
          "[serve][flood]") {
  Running r([](serve::ServerOptions& o) {
    o.token = kToken;
    o.max_connections = 32;
    o.body_grace = std::chrono::seconds(60);  // the bodies stay open for the whole test: the reserve is what holds
  });
  const net::Headers auth = {{"Authorization", "Bearer " + kToken}};
  // From many addresses, or all from the health prober's and operator's own.
  std::function<std::string(int)> source;
  SECTION("many addresses") { source = [](int i) { return client_address(i); }; }
  SECTION("the prober's own address") { source = [](int) { return client_address(1); }; }
  std::vector<std::unique_ptr<test::RawConnection>> flood;
  // 48 slow bodies from 12 addresses, 4 each: a head, then one byte of 100000.
  for (int i = 0; i < 48; ++i) {
    flood.push_back(std::make_unique<test::RawConnection>(r.server->port(), source(2 + i / 4).c_str()));
    flood.back()->send("POST /hooks/mycharts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "X-Hub-Signature-256: sha256=00\r\nContent-Length: 100000\r\n\r\n{");
  }
  // 64 unauthenticated long polls from 8 more addresses.
  for (int i = 0; i < 64; ++i) {
    flood.push_back(std::make_unique<test::RawConnection>(r.server->port(), source(20 + i / 8).c_str()));
    flood.back()->send("GET /syncs?waitSeconds=60 HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the server take in all of it

  for (int i = 0; i < 5; ++i) {
    auto health = timed_call(r.base, "/healthz");
    INFO("attempt " << i << ": /healthz took " << health.seconds << " s");
    CHECK(health.status == 200);
    CHECK(health.seconds < 2.0);
  }
  auto ready = timed_call(r.base, "/readyz");
  CHECK((ready.status == 200 || ready.status == 503));  // answered either way
  // The operator's feed: at once when asked not to wait, and a real wait is not refused.
  auto now = timed_call(r.base, "/syncs?waitSeconds=0", auth);
  CHECK(now.status == 200);
  CHECK(now.seconds < 2.0);
  auto waited = timed_call(r.base, "/syncs?waitSeconds=1", auth);
  INFO("body: " << waited.body);
  CHECK(waited.status == 200);
  CHECK(waited.seconds < 3.0);

  auto metrics = call(r.base, "GET", "/metrics", "", auth).body;
  CHECK(std::stoi(test::metric(metrics, "cmop_http_connections_open")) <= 32);
  // Turned away: past the share of requests without credentials, or past the address's own share.
  CHECK(std::stoul(test::metric(metrics, "cmop_http_requests_shed_total")) +
            std::stoul(test::metric(metrics, "cmop_http_connections_refused_per_client_total")) >
        0);
  CHECK(std::stoul(test::metric(metrics, "cmop_http_untrusted_requests_in_progress")) <= 28);  // 32 - 4 reserved
}

// Before: the 64 unauthenticated waiters filled GET /syncs's one pool and the
// operator's authenticated poll was answered 503 "too many waiting requests".
TEST_CASE("unauthenticated long polls are limited per client and never take an authenticated waiter's place",
          "[serve][flood][feed]") {
  Running r([](serve::ServerOptions& o) {
    o.token = kToken;
    o.max_connections = 512;
    o.max_connections_per_client = 64;
  });
  const net::Headers auth = {{"Authorization", "Bearer " + kToken}};
  std::vector<std::unique_ptr<test::RawConnection>> polls;
  for (int i = 0; i < 64; ++i) {
    polls.push_back(std::make_unique<test::RawConnection>(r.server->port(), client_address(2 + i / 8).c_str()));
    polls.back()->send("GET /syncs?waitSeconds=60 HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  // Each address may keep 2 waiting; the others are told at once to come back later.
  test::eventually(
      [&] { return test::metric(call(r.base, "GET", "/metrics").body, "cmop_http_requests_total{code=\"429\"}") == "48"; },
      "48 polls answered 429");
  int told = 0;
  for (auto& p : polls) {
    p->receive_timeout(std::chrono::milliseconds(300));
    auto reply = p->read_response();
    if (reply.status == 0) continue;  // waiting
    CHECK(reply.status == 429);
    CHECK(reply.head.find("Retry-After:") != std::string::npos);
    ++told;
  }
  CHECK(told == 64 - 16);

  auto waited = timed_call(r.base, "/syncs?waitSeconds=1", auth);
  INFO("body: " << waited.body);
  CHECK(waited.status == 200);
  CHECK(waited.seconds >= 0.9);  // it really waited
}

TEST_CASE("a request body slower than the minimum rate is cut off: a steady one gets through", "[serve][flood]") {
  Running r([](serve::ServerOptions& o) {
    o.body_grace = std::chrono::milliseconds(500);
    o.min_body_rate = 2000;
  });
  // 1 byte every 100 ms of a 100000-byte body: closed once behind the minimum rate,
  // long before the 30 s I/O timeout.
  test::RawConnection slow(r.server->port(), "127.0.0.2");
  REQUIRE(slow.send("POST /repo/dependency HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Content-Length: 100000\r\n\r\n"));
  const auto start = Clock::now();
  bool cut = false;
  while (Clock::now() - start < std::chrono::seconds(5)) {
    if (!slow.send(" ")) {
      cut = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double after = std::chrono::duration<double>(Clock::now() - start).count();
  INFO("cut after " << after << " s");
  CHECK(cut);
  CHECK(after < 3.0);

  // 12000 bytes at 6000 bytes a second, in 20 pieces: above the rate, so answered.
  std::string body = "{\"name\":\"steady\",\"url\":\"https://charts.example.com/\"}";
  body += std::string(12000 - body.size(), ' ');
  test::RawConnection steady(r.server->port(), "127.0.0.3");
  REQUIRE(steady.send("POST /repo/dependency HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n"));
  for (std::size_t off = 0; off < body.size(); off += 600) {
    REQUIRE(steady.send(body.substr(off, 600)));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto reply = steady.read_response();
  INFO(reply.head << reply.body);
  CHECK(reply.status == 200);
  CHECK(test::metric(call(r.base, "GET", "/metrics").body, "cmop_http_slow_bodies_total") == "1");
}

TEST_CASE("one client address holds a quarter of the connections at most, health probes aside", "[serve][flood]") {
  Running r([](serve::ServerOptions& o) { o.max_connections = 32; });
  // Eight busy requests (held bodies) from one address: its cap.
  std::vector<std::unique_ptr<test::RawConnection>> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(std::make_unique<test::RawConnection>(r.server->port(), "127.0.0.2"));
    REQUIRE(held.back()->send("POST /repo/dependency HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // A ninth is kept only for a trusted request: anything else is answered 503 at once.
  test::RawConnection ninth(r.server->port(), "127.0.0.2");
  ninth.receive_timeout(std::chrono::milliseconds(5000));
  REQUIRE(ninth.send("GET /repo HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto start = Clock::now();
  auto refused = ninth.read_response();
  CHECK(refused.status == 503);
  CHECK(Clock::now() - start < std::chrono::seconds(2));
  // A health probe from the same address still gets through, and other addresses are not affected.
  test::RawConnection probe(r.server->port(), "127.0.0.2");
  REQUIRE(probe.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(probe.read_response().status == 200);
  CHECK(call(r.base, "GET", "/repo").status == 200);
  CHECK(test::metric(call(r.base, "GET", "/metrics").body, "cmop_http_connections_refused_per_client_total") == "1");
}

// Before: the whole response had to be written within the I/O timeout, so a client
// reading a large chart slowly was cut off midway, and the log still said it got
// it all.
TEST_CASE("a slow but steady download gets the whole file: the log says what was sent", "[serve][download]") {
  CapturedLog log;
  Running r([](serve::ServerOptions& o) { o.io_timeout = std::chrono::milliseconds(1000); });
  const std::size_t size = 16u << 20;
  write_file(r.tmp.path() / "state" / "charts" / "big-1.0.0.tgz", size);

  SECTION("steady") {
    test::RawConnection reader(r.server->port(), nullptr, 64 * 1024);
    REQUIRE(reader.send("GET /charts/big-1.0.0.tgz HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto head = reader.read_head();
    REQUIRE(head.status == 200);
    // About 5 MiB/s: more than three times the I/O timeout in all.
    std::size_t got = 0;
    const auto start = Clock::now();
    while (got < size) {
      std::size_t n = reader.read_some(std::min<std::size_t>(256 * 1024, size - got));
      if (n == 0) break;
      got += n;
      std::this_thread::sleep_for(std::chrono::milliseconds(50 * n / (256 * 1024)));
    }
    const double took = std::chrono::duration<double>(Clock::now() - start).count();
    INFO("read " << got << " of " << size << " bytes in " << took << " s");
    CHECK(took > 2.0);
    CHECK(got == size);
    test::eventually([&] { return !log.last("path=/charts/big-1.0.0.tgz").empty(); }, "the access log line");
    auto line = log.last("path=/charts/big-1.0.0.tgz");
    INFO(line);
    CHECK(field(line, "bytes") == std::to_string(size));
    CHECK(field(line, "complete") == "true");
  }
  SECTION("stopped") {
    test::RawConnection reader(r.server->port(), nullptr, 64 * 1024);
    REQUIRE(reader.send("GET /charts/big-1.0.0.tgz HTTP/1.1\r\nHost: x\r\n\r\n"));
    REQUIRE(reader.read_head().status == 200);
    REQUIRE(reader.read_some(64 * 1024) > 0);
    // The reader stops: once nothing moves for the I/O timeout the server gives up,
    // and the log tells how much went out.
    test::eventually([&] { return !log.last("path=/charts/big-1.0.0.tgz").empty(); }, "the access log line");
    auto line = log.last("path=/charts/big-1.0.0.tgz");
    INFO(line);
    CHECK(line.find("http response cut short") != std::string::npos);
    CHECK(field(line, "complete") == "false");
    const std::string bytes = field(line, "bytes");
    REQUIRE_FALSE(bytes.empty());
    CHECK(std::stoull(bytes) < size);
    CHECK(std::stoull(bytes) > 0);
  }
}
