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
// Called after each response was written (or failed to be): for logs and metrics.
using ResponseObserver = std::function<void(const std::string& method, const std::string& target, int status,
                                            std::size_t body_bytes, double seconds, const std::string& remote)>;

struct HttpLimits {
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
  std::chrono::milliseconds io_timeout{std::chrono::seconds(30)};
  // Open connections at most; 0 = half the process's file-descriptor limit, kept
  // between 16 and 4096. At the cap a new connection displaces the longest-idle
  // one (a connection waiting for a request), or is closed when none is idle.
  std::size_t max_connections = 0;
};

struct ConnectionStats {
  std::size_t open = 0;
  std::size_t limit = 0;
  std::uint64_t refused = 0;       // closed at once: at the cap with none idle
  std::uint64_t evicted = 0;       // idle connections closed for a new one
  std::uint64_t fd_exhausted = 0;  // accept() failures with EMFILE/ENFILE
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
             Precheck precheck = {});
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
