#pragma once
// Shared helpers of the `cmop serve` tests: an HTTP client over real sockets, a raw
// socket for what a well-behaved client would never send, a publisher that can
// hold a sync at a gate, and a git repo of charts served by `git daemon`.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cmop/error.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/serve/server.hpp"
#include "cmop/util/fs.hpp"
#include "support/git_fixture.hpp"
#include "support/served_repo.hpp"
#include "support/process.hpp"

namespace cmop::test {

inline net::Response call(const std::string& base, const std::string& method, const std::string& path,
                          const std::string& body = "", net::Headers headers = {}) {
  net::Request req;
  req.method = method;
  req.url = base + path;
  req.body = body;
  req.headers = std::move(headers);
  if (!body.empty() && std::none_of(req.headers.begin(), req.headers.end(),
                                    [](auto& h) { return h.first == "Content-Type"; }))
    req.headers.push_back({"Content-Type", "application/json"});
  req.timeout = std::chrono::milliseconds(120000);
  req.max_redirects = 0;
  return net::HttpClient().send(req);
}

inline rapidjson::Document json_of(const net::Response& res) {
  rapidjson::Document doc;
  doc.Parse(res.body.c_str());
  INFO("body: " << res.body);
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

inline std::string str(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key) || !v[key].IsString()) return {};
  return v[key].GetString();
}

// One metric sample's value from Prometheus text ("" when absent).
inline std::string metric(const std::string& text, const std::string& series) {
  auto pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) return {};
  pos += series.size() + 2;
  return text.substr(pos, text.find('\n', pos) - pos);
}

// Polls `probe` until it holds; fails the test after a generous deadline (a guard
// against hangs, not a timing assertion).
template <typename Probe>
void eventually(Probe probe, const std::string& what) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!probe()) {
    if (std::chrono::steady_clock::now() > deadline) FAIL("gave up waiting for: " << what);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// A plain TCP connection for malformed or oversized requests and keep-alive checks.
// `source`: the local address to connect from (another 127.x.y.z stands for another
// client); `receive_buffer` > 0: a small socket receive buffer (a slow reader).
class RawConnection {
 public:
  explicit RawConnection(int port, const char* source = nullptr, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    timeval tv{30, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (receive_buffer > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    if (source) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      REQUIRE(::inet_pton(AF_INET, source, &local.sin_addr) == 1);
      REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  // False when the peer closed or reset the connection.
  bool send(const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  struct Reply {
    int status = 0;
    std::string head;  // status line and headers
    std::string body;
  };
  // Reads one response (Content-Length framed); status 0 when the connection ended first.
  Reply read_response() {
    Reply r = read_head();
    if (r.status == 0) return r;
    std::size_t length = 0;
    std::string lower = r.head;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto p = lower.find("content-length:"); p != std::string::npos) length = std::stoul(lower.substr(p + 15));
    while (buffer_.size() < length)
      if (!fill()) break;
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, std::min(length, buffer_.size()));
    return r;
  }
  // Reads up to `max` bytes as they come (what was buffered first); 0 at the end
  // of the stream or after the receive timeout.
  std::size_t read_some(std::size_t max) {
    if (!buffer_.empty()) {
      const std::size_t n = std::min(max, buffer_.size());
      buffer_.erase(0, n);
      return n;
    }
    std::string buf(max, '\0');
    ssize_t n = ::recv(fd_, buf.data(), max, 0);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  // Reads the status line and headers only (the body stays for read_some).
  Reply read_head() {
    Reply r;
    while (buffer_.find("\r\n\r\n") == std::string::npos)
      if (!fill()) return r;
    auto end = buffer_.find("\r\n\r\n");
    r.head = buffer_.substr(0, end + 4);
    buffer_.erase(0, end + 4);
    r.status = std::stoi(r.head.substr(9, 3));
    return r;
  }
  void receive_timeout(std::chrono::milliseconds t) {
    timeval tv{static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>((t.count() % 1000) * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  // True when the server closed the connection (EOF) before sending anything more.
  bool closed_by_peer() {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    return n <= 0;
  }

 private:
  bool fill() {
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  int fd_ = -1;
  std::string buffer_;
};

// Passes everything to an inner publisher, but publish() can be held at a gate so
// a test controls exactly when a sync may finish.
class GatedPublisher : public publish::Publisher {
 public:
  explicit GatedPublisher(std::shared_ptr<publish::Publisher> inner) : inner_(std::move(inner)) {}

  void publish(const package::Package& pkg, bool replace) override {
    {
      std::unique_lock lk(mu_);
      ++held_;
      cv_.notify_all();
      cv_.wait(lk, [this] { return open_; });
      --held_;
    }
    inner_->publish(pkg, replace);
  }
  void remove(const std::string& name, const std::string& version) override { inner_->remove(name, version); }
  std::string describe() const override { return "gated " + inner_->describe(); }
  void probe() override { inner_->probe(); }
  void flush() override { inner_->flush(); }

  void close() {
    std::lock_guard lk(mu_);
    open_ = false;
  }
  void open() {
    {
      std::lock_guard lk(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  int held() {
    std::lock_guard lk(mu_);
    return held_;
  }
  void wait_until_held() {
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, std::chrono::seconds(60), [this] { return held_ > 0; }))
      FAIL("no publish reached the gate");
  }

 private:
  std::shared_ptr<publish::Publisher> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int held_ = 0;
};

// A git repo with two charts, served by `git daemon`, plus a state dir.
struct ChartsRepo : ServedRepo {
  ChartsRepo() : ServedRepo("mycharts", "cmop-serve-") {
    write_chart(work, "charts/alpha", "alpha", "1.0.0");
    write_chart(work, "charts/beta", "beta", "0.2.0");
    commit_and_serve("initial");
  }
  std::string git_url() const { return url(); }
};

inline std::string new_repo_body(const std::string& name, const std::string& git) {
  return "{\"name\":\"" + name + "\",\"git\":\"" + git + "\"}";
}

inline serve::ServerOptions local_options(const std::filesystem::path& state) {
  serve::ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.state_dir = state;
  o.probe_interval = std::chrono::milliseconds(100);
  return o;
}

// A server on the embedded repo in a fresh temp dir, its options tweaked first.
struct Running {
  util::TempDir tmp;
  std::unique_ptr<serve::Server> server;
  std::string base;

  explicit Running(std::function<void(serve::ServerOptions&)> tweak = {}, const std::string& prefix = "cmop-serve-api-")
      : tmp(prefix) {
    auto o = local_options(tmp.path() / "state");
    if (tweak) tweak(o);
    server = std::make_unique<serve::Server>(o);
    server->start();
    base = server->url();
  }
};

// A server publishing to the embedded repo through a gate the test holds.
struct GatedServer {
  std::shared_ptr<GatedPublisher> gate;
  std::unique_ptr<serve::Server> server;
  std::string base;
  GatedServer(const test::ChartsRepo& git, const std::function<void(serve::ServerOptions&)>& tweak = {}) {
    gate = std::make_shared<GatedPublisher>(publish::make_local_publisher((git.state / "charts").string()));
    auto o = local_options(git.state);
    o.publisher = gate;
    if (tweak) tweak(o);
    server = std::make_unique<serve::Server>(o);
    server->start();
    base = server->url();
  }
};

}  // namespace cmop::test
