#pragma once
// The one HTTP/1.1 server transport of cmop, under `cmop serve`'s API and the
// operator's health/metrics endpoint (Beast stays in http_server.cpp): accepts
// connections, reads requests within limits and timeouts, hands each complete
// request to a Handler, writes whatever the handler answers (possibly later, from
// another thread), keeps connections alive, and shuts down gracefully.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cmop::httpd {

struct HttpRequest {
  std::string method;  // "GET", "POST", ... as sent
  std::string target;  // origin-form, with query
  std::string authorization;
  std::string content_type;
  // The X-* headers as sent (webhook signatures and event names); bounded by the header limit.
  std::vector<std::pair<std::string, std::string>> extension_headers;
  std::string body;
  std::string remote;  // peer ip:port
  std::string client;  // peer address alone (what per-client limits count by)
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is this file, streamed from disk in small pieces (chart
  // archives may be large; no connection holds a whole one in memory). A file that
  // cannot be opened any more is answered 404.
  std::string file;
};

// Must be called exactly once, from any thread.
using Responder = std::function<void(HttpResponse)>;
using Handler = std::function<void(HttpRequest, Responder)>;
// Called once a request's head is read, before its body is (and before any
// "100 Continue"): a response refuses the request (unknown route, wrong method,
// missing credentials) without reading what it would have sent.
using Precheck = std::function<std::optional<HttpResponse>(const HttpRequest& head)>;
// Called once a request's head is read: true when the request comes from a client
// the server trusts (a health probe, a valid bearer token). Untrusted requests in
// progress may hold max_connections - reserved_connections connections at most; the
// rest stay for trusted ones. Without a Trust function every request is trusted.
using Trust = std::function<bool(const HttpRequest& head)>;
// Called after each response was written (or failed to be): for logs and metrics.
// `body_bytes`: the bytes of the body actually sent; `complete`: false when the
// connection ended before the whole response was (the client went away, or read
// nothing for the I/O timeout).
using ResponseObserver =
    std::function<void(const std::string& method, const std::string& target, int status, std::size_t body_bytes,
                       double seconds, const std::string& remote, bool complete)>;

struct HttpLimits {
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
  // Receiving a request's head, and then its whole body, must each finish within
  // this; an idle keep-alive connection is closed after it. Writing a response
  // must make progress within it (each piece the peer takes restarts it), so a
  // slow but steady reader gets a large file whole.
  std::chrono::milliseconds io_timeout{std::chrono::seconds(30)};
  // A request body must start arriving within body_grace and keep up an average of
  // min_body_rate bytes a second from then on, else the connection is closed.
  std::chrono::milliseconds body_grace{std::chrono::seconds(5)};
  std::size_t min_body_rate = 16 * 1024;
  // Open connections at most; 0 = half the process's file-descriptor limit, kept
  // between 16 and 4096. At the cap a new connection displaces the longest-idle
  // one (a connection waiting for a request), or is closed when none is idle.
  std::size_t max_connections = 0;
  // Open connections from one client address at most; 0 = a quarter of
  // max_connections, at least 4. Past it the client's own longest-idle connection
  // makes room; when none is idle the new one is closed, or, with a Trust function,
  // kept only for a trusted first request (an untrusted one is answered 503).
  std::size_t max_connections_per_client = 0;
  // Connections kept for trusted requests (see Trust): untrusted requests in
  // progress (reading a body, waiting for an answer, being answered) hold
  // max_connections minus this at most; more are answered 503 at once.
  // 0 = an eighth of max_connections, at least 2.
  std::size_t reserved_connections = 0;
};

struct ConnectionStats {
  std::size_t open = 0;
  std::size_t limit = 0;
  std::uint64_t refused = 0;       // closed at once: at the cap with none idle
  std::uint64_t evicted = 0;       // idle connections closed for a new one
  std::uint64_t fd_exhausted = 0;  // accept() failures with EMFILE/ENFILE
  std::uint64_t refused_per_client = 0;  // past the client's cap, none of its own idle: closed, or 503 when untrusted
  std::uint64_t shed = 0;          // untrusted requests answered 503: only the reserve was left
  std::uint64_t slow_bodies = 0;   // closed: a request body arrived slower than min_body_rate
  std::size_t untrusted_in_progress = 0;
};

// An error answer in the API's shape: {"error": message, "code": code}. `code` is
// the failure's category (an Errc name from to_string(Errc)); "" takes the one the
// status stands for (code_for_status), so clients never have to invert statuses.
HttpResponse json_error(int status, const std::string& message, std::string_view code = {});
// The category an error status stands for when no Error named one: 400
// InvalidArgument, 401 Unauthorized, 403 Forbidden, 404 NotFound, 409 Conflict,
// 413/431 TooLarge, 502 UpstreamError, 500 InternalError; beyond Errc: 405
// MethodNotAllowed, 429 TooManyRequests, 503 Unavailable.
std::string_view code_for_status(int status);

class HttpServer {
 public:
  // Binds and listens on "host:port". Throws Error(invalid_argument|io).
  HttpServer(const std::string& listen, HttpLimits limits, Handler handler, ResponseObserver observer,
             Precheck precheck = {}, Trust trust = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void start(int threads);
  int port() const;
  std::string host() const;
  ConnectionStats connection_stats() const;

  // Closes the listener and idle connections; connections with a request in
  // flight are closed after their response. Waits until none is in flight or the
  // deadline passes; a request still unanswered then gets 503 ("server: shutting
  // down"), and the I/O threads stop. True when all finished in time.
  bool shutdown(std::chrono::steady_clock::time_point deadline);

  struct Impl;  // opaque; public so the connection code in the .cpp can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmop::httpd
