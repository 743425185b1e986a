// HttpClient against real peers on 127.0.0.1: test/support/static_http_server.py over
// plain HTTP and over TLS with a certificate made by `openssl req` for each run.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "cmop/error.hpp"
#include "cmop/net/ca_paths.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/util/fs.hpp"
#include "support/black_hole.hpp"
#include "support/process.hpp"
#include "support/error_of.hpp"

using namespace cmop;
using cmop::test::error_of;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

struct ServedDir {
  util::TempDir dir{"cmop-net-"};
  test::Peer peer;
  explicit ServedDir(std::vector<std::string> extra = {}) : peer(start(dir.path(), std::move(extra))) {}

  static test::Peer start(const fs::path& root, std::vector<std::string> extra) {
    write(root / "hello.txt", "hello world\n");
    write(root / "sub dir/file.txt", "spaced\n");
    std::vector<std::string> args{"--root", root.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return test::start_python_peer("static_http_server.py", args);
  }
  std::string url(const std::string& path) const { return peer.url() + path; }
};

net::Request get(std::string url) {
  net::Request req;
  req.url = std::move(url);
  req.timeout = std::chrono::milliseconds(20000);
  return req;
}

}  // namespace

TEST_CASE("GET returns status, headers and body, error statuses are returned") {
  ServedDir served;
  net::HttpClient client;
  auto res = client.send(get(served.url("/hello.txt")));
  CHECK(res.status == 200);
  CHECK(res.body == "hello world\n");
  CHECK_FALSE(res.header("etag").empty());
  CHECK(res.header("Content-Type") == "text/plain");
  CHECK(res.header("X-Absent").empty());

  CHECK(client.send(get(served.url("/sub%20dir/file.txt"))).body == "spaced\n");
  auto missing = client.send(get(served.url("/nope.txt")));
  CHECK(missing.status == 404);
  CHECK(missing.body == "not found");
}

TEST_CASE("HEAD reads no body and conditional requests get 304") {
  ServedDir served;
  net::HttpClient client;
  auto head = get(served.url("/hello.txt"));
  head.method = "HEAD";
  auto res = client.send(head);
  CHECK(res.status == 200);
  CHECK(res.body.empty());
  CHECK(res.header("Content-Length") == "12");

  auto cond = get(served.url("/hello.txt"));
  cond.headers = {{"If-None-Match", res.header("ETag")}};
  auto not_modified = client.send(cond);
  CHECK(not_modified.status == 304);
  CHECK(not_modified.body.empty());
}

TEST_CASE("request headers and bodies reach the peer") {
  ServedDir served;
  auto req = get(served.url("/__echo?x=1"));
  req.headers = {{"X-Custom", "value"}, {"Accept", "application/json"}};
  auto res = net::HttpClient().send(req);
  REQUIRE(res.status == 200);
  CHECK(res.body.find("\"X-Custom\": \"value\"") != std::string::npos);
  CHECK(res.body.find("\"path\": \"/__echo?x=1\"") != std::string::npos);
  CHECK(res.body.find("\"Host\": \"127.0.0.1:" + std::to_string(served.peer.port) + "\"") != std::string::npos);

  auto post = get(served.url("/hello.txt"));
  post.method = "POST";
  post.body = "payload";
  CHECK(net::HttpClient().send(post).status == 405);
}

TEST_CASE("userinfo in the URL becomes basic auth and never appears in errors") {
  ServedDir served({"--basic-auth", "alice:s3cr@t"});
  net::HttpClient client;
  std::string authority = "127.0.0.1:" + std::to_string(served.peer.port);
  CHECK(client.send(get("http://" + authority + "/hello.txt")).status == 401);
  auto ok = client.send(get("http://alice:s3cr%40t@" + authority + "/hello.txt"));
  CHECK(ok.status == 200);
  CHECK(ok.body == "hello world\n");
  CHECK(client.send(get("http://alice:wrong@" + authority + "/hello.txt")).status == 401);

  // An explicit Authorization header wins over userinfo.
  auto explicit_auth = get("http://alice:wrong@" + authority + "/hello.txt");
  explicit_auth.headers = {{"Authorization", "Basic YWxpY2U6czNjckB0"}};
  CHECK(client.send(explicit_auth).status == 200);

  int closed_port = test::free_port();
  auto err = error_of([&] { client.send(get("http://alice:topsecret@127.0.0.1:" + std::to_string(closed_port) + "/x")); });
  CHECK(err.code() == Errc::network);
  CHECK(err.subject() == "http://127.0.0.1:" + std::to_string(closed_port) + "/x");
  CHECK(std::string(err.what()).find("topsecret") == std::string::npos);
  CHECK(err.reason().find("onnect") != std::string::npos);
}

TEST_CASE("redirects are followed for GET and HEAD only, within the limit") {
  ServedDir served;
  net::HttpClient client;
  auto res = client.send(get(served.url("/__redirect?to=/hello.txt")));
  CHECK(res.status == 200);
  CHECK(res.body == "hello world\n");

  auto absolute = client.send(get(served.url("/__redirect?status=308&to=" + net::url_encode(served.url("/hello.txt")))));
  CHECK(absolute.body == "hello world\n");

  auto limited = get(served.url("/__redirect?to=/hello.txt"));
  limited.max_redirects = 0;
  auto err = error_of([&] { client.send(limited); });
  CHECK(err.code() == Errc::network);
  CHECK(err.reason().find("too many redirects") != std::string::npos);

  auto post = get(served.url("/__redirect?to=/hello.txt"));
  post.method = "POST";
  auto not_followed = client.send(post);
  CHECK(not_followed.status == 302);
  CHECK(not_followed.header("Location") == "/hello.txt");
}

TEST_CASE("the timeout covers the whole exchange") {
  ServedDir served;
  auto slow = get(served.url("/__slow?ms=5000"));
  slow.timeout = std::chrono::milliseconds(300);
  auto err = error_of([&] { net::HttpClient().send(slow); });
  CHECK(err.code() == Errc::network);
  CHECK(err.reason() == "timed out after 300 ms");
  CHECK(err.subject() == served.url("/__slow?ms=5000"));
}

TEST_CASE("the response body limit is enforced") {
  ServedDir served;
  write(served.dir.path() / "big.bin", std::string(100000, 'x'));
  auto req = get(served.url("/big.bin"));
  req.max_response_body = 1000;
  auto err = error_of([&] { net::HttpClient().send(req); });
  CHECK(err.code() == Errc::too_large);
  CHECK(err.reason().find("1000 bytes") != std::string::npos);

  req.max_response_body = 100000;
  CHECK(net::HttpClient().send(req).body.size() == 100000);

  // A chunked body has no length up front: the limit applies while reading.
  auto chunked = get(served.url("/__chunked?count=100"));
  chunked.max_response_body = 50;
  CHECK(error_of([&] { net::HttpClient().send(chunked); }).code() == Errc::too_large);
}

TEST_CASE("chunked responses are reassembled") {
  ServedDir served;
  auto res = net::HttpClient().send(get(served.url("/__chunked?count=4")));
  CHECK(res.status == 200);
  CHECK(res.body == "chunk-0\nchunk-1\nchunk-2\nchunk-3\n");
}

TEST_CASE("stream delivers each chunk as it arrives") {
  // The server sends chunk i+1 only after the client released it from inside the
  // callback for chunk i: a client that buffered the body would never see chunk 0.
  ServedDir served;
  net::HttpClient client;
  std::string received;
  int released = 0;
  auto res = client.stream(get(served.url("/__chunked?count=4&gated=1")), [&](std::string_view chunk) {
    received.append(chunk);
    while (released < 3 && received.find("chunk-" + std::to_string(released) + "\n") != std::string::npos) {
      REQUIRE(client.send(get(served.url("/__release"))).status == 200);
      ++released;
    }
    return true;
  });
  CHECK(res.status == 200);
  CHECK(res.body.empty());
  CHECK(received == "chunk-0\nchunk-1\nchunk-2\nchunk-3\n");
}

TEST_CASE("stream stops when the callback returns false") {
  ServedDir served;
  std::string received;
  // Without the stop, the gated server would hold the connection open until the timeout.
  auto res = net::HttpClient().stream(get(served.url("/__chunked?count=3&gated=1")), [&](std::string_view chunk) {
    received.append(chunk);
    return false;
  });
  CHECK(res.status == 200);
  CHECK(received == "chunk-0\n");
}

TEST_CASE("one client is safe to use from many threads") {
  ServedDir served;
  net::HttpClient client;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        try {
          if (client.send(get(served.url("/hello.txt"))).body == "hello world\n") ++ok;
        } catch (...) {
        }
      }
    });
  for (auto& th : threads) th.join();
  CHECK(ok == 60);
}

TEST_CASE("invalid URLs are refused before any I/O") {
  net::HttpClient client;
  CHECK(error_of([&] { client.send(get("ftp://127.0.0.1/x")); }).code() == Errc::invalid_argument);
  CHECK(error_of([&] { client.send(get("not a url")); }).code() == Errc::invalid_argument);
  CHECK(error_of([&] { client.send(get("/relative/only")); }).code() == Errc::invalid_argument);
}

TEST_CASE("url_encode and resolve_url") {
  CHECK(net::url_encode("a b/c?d=e&f") == "a%20b%2Fc%3Fd%3De%26f");
  CHECK(net::url_encode("Az09-._~") == "Az09-._~");
  CHECK(net::url_encode("é") == "%C3%A9");

  CHECK(net::resolve_url("https://example.com/charts/", "nginx-1.0.0.tgz") == "https://example.com/charts/nginx-1.0.0.tgz");
  CHECK(net::resolve_url("https://example.com/charts/index.yaml", "nginx-1.0.0.tgz") ==
        "https://example.com/charts/nginx-1.0.0.tgz");
  CHECK(net::resolve_url("https://example.com/charts/", "/abs/x.tgz") == "https://example.com/abs/x.tgz");
  CHECK(net::resolve_url("https://example.com/a/b/", "../x.tgz") == "https://example.com/a/x.tgz");
  CHECK(net::resolve_url("https://example.com/a/", "http://other.example/x.tgz") == "http://other.example/x.tgz");
  CHECK(net::resolve_url("https://example.com/a/", "//cdn.example/x.tgz") == "https://cdn.example/x.tgz");
  CHECK(net::resolve_url("https://example.com/a/b?q=1", "?r=2") == "https://example.com/a/b?r=2");
}

// --- TLS -------------------------------------------------------------------

namespace {

void self_signed(const fs::path& cert, const fs::path& key, const std::string& subject, const std::string& sans) {
  std::vector<std::string> argv{"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                                "-subj", subject, "-keyout", key.string(), "-out", cert.string()};
  if (!sans.empty()) argv.insert(argv.end(), {"-addext", "subjectAltName=" + sans});
  test::run_ok(argv);
}

struct TlsPeer {
  util::TempDir dir{"cmop-tls-"};
  fs::path cert, key;
  test::Peer peer;
  // With require_client_cert, the peer also trusts only client.pem (made here too).
  explicit TlsPeer(const std::string& subject_alt_names, bool require_client_cert = false)
      : cert(dir.path() / "cert.pem"), key(dir.path() / "key.pem"), peer(start(subject_alt_names, require_client_cert)) {}

  test::Peer start(const std::string& sans, bool require_client_cert) {
    self_signed(cert, key, "/CN=cmop-test", sans);
    write(dir.path() / "root/hello.txt", "secure hello\n");
    std::vector<std::string> args{"--root", (dir.path() / "root").string(), "--tls-cert", cert.string(),
                                  "--tls-key", key.string()};
    if (require_client_cert) {
      self_signed(dir.path() / "client.pem", dir.path() / "client-key.pem", "/CN=cmop-client", "");
      args.insert(args.end(), {"--tls-client-ca", (dir.path() / "client.pem").string()});
    }
    return test::start_python_peer("static_http_server.py", args);
  }
  std::string url(const std::string& host, const std::string& path) const {
    return "https://" + host + ":" + std::to_string(peer.port) + path;
  }
};

}  // namespace

TEST_CASE("https verifies the peer against ca_file or ca_pem") {
  TlsPeer tls("IP:127.0.0.1,DNS:localhost");

  SECTION("system CAs do not trust a self-signed certificate") {
    auto err = error_of([&] { net::HttpClient().send(get(tls.url("127.0.0.1", "/hello.txt"))); });
    CHECK(err.code() == Errc::network);
    CHECK(err.reason().find("TLS handshake") != std::string::npos);
    CHECK(err.reason().find("certificate") != std::string::npos);
  }
  SECTION("ca_file is honoured, for an IP address and for a DNS name (SNI)") {
    net::TlsOptions opts;
    opts.ca_file = tls.cert.string();
    net::HttpClient client(opts);
    auto res = client.send(get(tls.url("127.0.0.1", "/hello.txt")));
    CHECK(res.status == 200);
    CHECK(res.body == "secure hello\n");
    CHECK(client.send(get(tls.url("localhost", "/hello.txt"))).body == "secure hello\n");
    CHECK(client.send(get(tls.url("localhost", "/__chunked?count=2"))).body == "chunk-0\nchunk-1\n");
  }
  SECTION("ca_pem is honoured") {
    net::TlsOptions opts;
    opts.ca_pem = util::read_file(tls.cert);
    CHECK(net::HttpClient(opts).send(get(tls.url("127.0.0.1", "/hello.txt"))).status == 200);
  }
  SECTION("insecure_skip_verify accepts any certificate") {
    net::TlsOptions opts;
    opts.insecure_skip_verify = true;
    CHECK(net::HttpClient(opts).send(get(tls.url("127.0.0.1", "/hello.txt"))).status == 200);
  }
  SECTION("a bad CA bundle is a clear error") {
    net::TlsOptions opts;
    opts.ca_pem = "not a certificate";
    auto err = error_of([&] { net::HttpClient(opts).send(get(tls.url("127.0.0.1", "/hello.txt"))); });
    CHECK(err.code() == Errc::invalid_argument);
    CHECK(err.subject() == "certificate authority data");
  }
}

TEST_CASE("https refuses a trusted certificate issued for another host name") {
  TlsPeer tls("DNS:other.example");
  net::TlsOptions opts;
  opts.ca_file = tls.cert.string();
  auto err = error_of([&] { net::HttpClient(opts).send(get(tls.url("127.0.0.1", "/hello.txt"))); });
  CHECK(err.code() == Errc::network);
  CHECK(err.reason().find("TLS handshake") != std::string::npos);
}

TEST_CASE("a client certificate is presented when the server requires one") {
  TlsPeer tls("IP:127.0.0.1", true);
  net::TlsOptions opts;
  opts.ca_pem = util::read_file(tls.cert);
  CHECK(error_of([&] { net::HttpClient(opts).send(get(tls.url("127.0.0.1", "/hello.txt"))); }).code() ==
        Errc::network);

  opts.client_cert_pem = util::read_file(tls.dir.path() / "client.pem");
  opts.client_key_pem = util::read_file(tls.dir.path() / "client-key.pem");
  CHECK(net::HttpClient(opts).send(get(tls.url("127.0.0.1", "/hello.txt"))).body == "secure hello\n");

  opts.client_key_pem = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
  auto bad_key = error_of([&] { net::HttpClient(opts).send(get(tls.url("127.0.0.1", "/hello.txt"))); });
  CHECK(bad_key.code() == Errc::invalid_argument);
  CHECK(bad_key.subject() == "client key");
  CHECK(std::string(bad_key.what()).find("not a key") == std::string::npos);
}

// Issue 11, items 4 and 9: a chart repository that accepts and never answers held
// a dependency fetch for the whole request timeout; and nothing kept a client from
// URLs that lead back into the pod.
TEST_CASE("a connection policy bounds each step and keeps loopback and link-local out", "[net][policy]") {
  cmop::test::BlackHole hole;
  cmop::net::ConnectionPolicy stall;
  stall.stall_timeout = std::chrono::milliseconds(500);
  cmop::net::Request req;
  req.url = hole.url("http", "index.yaml");
  req.timeout = std::chrono::seconds(60);
  const auto started = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(cmop::net::HttpClient({}, stall).send(req), Catch::Contains("no answer for 500 ms"));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));

  cmop::net::ConnectionPolicy strict;
  strict.allow_local_addresses = false;
  for (const std::string url : {"http://127.0.0.1:1/x", "http://localhost:1/x", "http://[::1]:1/x",
                                "http://169.254.169.254/latest/meta-data", "http://0.0.0.0:1/x",
                                "http://[::ffff:127.0.0.1]:1/x"}) {
    INFO(url);
    req.url = url;
    try {
      cmop::net::HttpClient({}, strict).send(req);
      FAIL("not refused");
    } catch (const cmop::Error& e) {
      CHECK(e.code() == cmop::Errc::forbidden);
      CHECK_THAT(e.reason(), Catch::Contains("loopback or link-local"));
    }
  }
  // Listed explicitly, a local host is reached (here: refused by nobody listening).
  strict.allowed_hosts = {"127.0.0.1", "*.example.com"};
  req.url = "http://127.0.0.1:1/x";
  try {
    cmop::net::HttpClient({}, strict).send(req);
  } catch (const cmop::Error& e) {
    CHECK(e.code() == cmop::Errc::network);
  }
  req.url = "http://charts.other.org/x";
  CHECK_THROWS_WITH(cmop::net::HttpClient({}, strict).send(req), Catch::Contains("not in the allowed list"));
}

namespace {

// Sets an environment variable for one scope and restores what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("the system CAs come from SSL_CERT_FILE or SSL_CERT_DIR, else the usual paths") {
  TlsPeer tls("IP:127.0.0.1");
  const std::string url = tls.url("127.0.0.1", "/hello.txt");
  SECTION("SSL_CERT_FILE names the bundle the system CAs are read from") {
    ScopedEnv file("SSL_CERT_FILE", tls.cert.string());
    CHECK(net::system_ca_locations().file == tls.cert.string());
    CHECK(net::HttpClient().send(get(url)).body == "secure hello\n");
  }
  SECTION("SSL_CERT_DIR names a hashed directory of them") {
    fs::path dir = tls.dir.path() / "certs";
    fs::create_directories(dir);
    std::string hash = test::run_ok({"openssl", "x509", "-hash", "-noout", "-in", tls.cert.string()});
    hash.erase(hash.find_last_not_of("\n") + 1);
    fs::copy_file(tls.cert, dir / (hash + ".0"));
    ScopedEnv unset_file("SSL_CERT_FILE", "");
    ScopedEnv cert_dir("SSL_CERT_DIR", dir.string());
    net::CaLocations cas = net::system_ca_locations();
    CHECK(cas.file.empty());
    CHECK(cas.dir == dir.string());
    CHECK(net::HttpClient().send(get(url)).status == 200);
  }
  SECTION("without either, a bundle found on the usual paths, which does not trust the test CA") {
    ScopedEnv no_file("SSL_CERT_FILE", "");
    ScopedEnv no_dir("SSL_CERT_DIR", "");
    net::CaLocations cas = net::system_ca_locations();
    CHECK((!cas.file.empty() || !cas.dir.empty()));
    CHECK(error_of([&] { net::HttpClient().send(get(url)); }).reason().find("certificate") != std::string::npos);
  }
  SECTION("a named bundle that does not exist is an error naming it, not a silent fallback") {
    ScopedEnv file("SSL_CERT_FILE", (tls.dir.path() / "missing.pem").string());
    auto err = error_of([&] { net::HttpClient().send(get(url)); });
    CHECK(err.subject() == (tls.dir.path() / "missing.pem").string());
  }
}

// --- keep-alive ---------------------------------------------------------------

namespace {

// Connections the peer accepted so far, asked on a connection of its own (which
// the count then includes).
int accepted(const std::string& base) {
  auto body = net::HttpClient().send(get(base + "/__connections")).body;
  auto colon = body.find(':');
  return std::stoi(body.substr(colon + 1));
}

net::Request with_method(const std::string& method, const std::string& url, std::string body = {}) {
  net::Request r = get(url);
  r.method = method;
  r.body = std::move(body);
  return r;
}

}  // namespace

TEST_CASE("keep-alive: requests to one host share one connection, others get their own") {
  ServedDir served;
  ServedDir other;
  net::HttpClient client;
  client.enable_keep_alive();
  const int before = accepted(served.url(""));
  const int other_before = accepted(other.url(""));
  for (int i = 0; i < 10; ++i) {
    CHECK(client.send(get(served.url("/hello.txt"))).body == "hello world\n");
    CHECK(client.send(with_method("HEAD", served.url("/hello.txt"))).status == 200);
  }
  CHECK(client.send(get(served.url("/__chunked?count=3"))).body == "chunk-0\nchunk-1\nchunk-2\n");
  CHECK(client.send(get(served.url("/missing"))).status == 404);
  CHECK(client.send(get(other.url("/hello.txt"))).status == 200);
  // 23 requests: one connection to each peer (the count includes its own query).
  CHECK(accepted(served.url("")) - before == 1 + 1);
  CHECK(accepted(other.url("")) - other_before == 1 + 1);
  CHECK(client.connections_opened() == 2);

  // Without keep-alive each request has a connection of its own, as before.
  net::HttpClient plain;
  const int start = accepted(served.url(""));
  for (int i = 0; i < 3; ++i) CHECK(plain.send(get(served.url("/hello.txt"))).status == 200);
  CHECK(accepted(served.url("")) - start == 3 + 1);

  // Idle connections are closed at the end of a sync; the next request opens one.
  client.close_idle();
  CHECK(client.send(get(served.url("/hello.txt"))).status == 200);
  CHECK(client.connections_opened() == 3);
}

TEST_CASE("keep-alive: one TLS handshake for many https requests") {
  TlsPeer tls("IP:127.0.0.1,DNS:localhost");
  net::TlsOptions opts;
  opts.ca_file = tls.cert.string();
  net::HttpClient counter(opts);  // asks the server how many connections it accepted
  auto accepted_tls = [&] {
    auto body = counter.send(get(tls.url("127.0.0.1", "/__connections"))).body;
    return std::stoi(body.substr(body.find(':') + 1));
  };
  const int before = accepted_tls();
  net::HttpClient client(opts);
  client.enable_keep_alive();
  for (int i = 0; i < 8; ++i) CHECK(client.send(get(tls.url("127.0.0.1", "/hello.txt"))).body == "secure hello\n");
  // Another host name is another connection (and certificate check), even to the same address.
  CHECK(client.send(get(tls.url("localhost", "/hello.txt"))).status == 200);
  CHECK(client.connections_opened() == 2);
  CHECK(accepted_tls() - before == 2 + 1);  // and the question itself
}

TEST_CASE("keep-alive: a connection the server closed is retried once for idempotent requests only") {
  ServedDir served;
  net::HttpClient client;
  client.enable_keep_alive();
  auto dropped = [&] {
    auto body = net::HttpClient().send(get(served.url("/__requests"))).body;
    auto at = body.find("\"__dropped\": ");
    return at == std::string::npos ? 0 : std::stoi(body.substr(at + 13));
  };

  // The server answers, keeps the connection, then drops the next request on it.
  REQUIRE(client.send(get(served.url("/__drop-next"))).status == 200);
  auto res = client.send(get(served.url("/hello.txt")));  // dropped, then sent again on a fresh connection
  CHECK(res.status == 200);
  CHECK(res.body == "hello world\n");
  CHECK(dropped() == 1);
  CHECK(client.connections_opened() == 2);

  REQUIRE(client.send(get(served.url("/__drop-next"))).status == 200);
  CHECK(client.send(with_method("PUT", served.url("/hello.txt"), "x")).status == 405);  // PUT is idempotent
  CHECK(dropped() == 2);

  // A POST is never sent twice: the stale connection fails it.
  REQUIRE(client.send(get(served.url("/__drop-next"))).status == 200);
  auto err = error_of([&] { client.send(with_method("POST", served.url("/upload"), "payload")); });
  CHECK(err.code() == Errc::network);
  CHECK(dropped() == 3);
  CHECK(client.send(get(served.url("/hello.txt"))).status == 200);  // and the client goes on
}

TEST_CASE("keep-alive: a connection idle past the timeout, or closed by the server, is not reused") {
  ServedDir served;
  net::HttpClient client;
  net::KeepAlive ka;
  ka.idle_timeout = std::chrono::milliseconds(200);
  client.enable_keep_alive(ka);
  CHECK(client.send(get(served.url("/hello.txt"))).status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(client.send(get(served.url("/hello.txt"))).status == 200);
  CHECK(client.connections_opened() == 2);

  // The server asks to close: the connection is not kept.
  net::Request close = get(served.url("/hello.txt"));
  close.headers.push_back({"Connection", "close"});
  CHECK(client.send(close).status == 200);
  CHECK(client.send(get(served.url("/hello.txt"))).status == 200);
  CHECK(client.connections_opened() == 3);

  // A POST reuses a connection only while it was idle for a moment.
  ka = {};
  ka.unsafe_reuse_window = std::chrono::milliseconds(0);
  net::HttpClient careful;
  careful.enable_keep_alive(ka);
  CHECK(careful.send(get(served.url("/hello.txt"))).status == 200);
  CHECK(careful.send(with_method("POST", served.url("/x"), "b")).status == 405);
  CHECK(careful.connections_opened() == 2);
}
