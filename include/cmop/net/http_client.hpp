#pragma once
// A small synchronous HTTP/1.1 client (http and https) for the core and the roles.
// Beast stays inside src/net; callers see only these plain types.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cmop::net {

struct TlsOptions {
  std::string ca_file;          // PEM bundle; empty = system default paths
  std::string ca_pem;           // PEM text (kubeconfig certificate-authority-data)
  std::string client_cert_pem;  // client certificate (PEM text)
  std::string client_key_pem;   // client key (PEM text)
  bool insecure_skip_verify = false;
};

// Which servers a client may reach. Checked on every connection it makes, redirects
// included, against the addresses the host name resolves to (so a DNS name that
// resolves to 127.0.0.1 is caught too). URLs taken from untrusted input (a chart's
// dependency repository) must not make the process talk to its own pod.
struct ConnectionPolicy {
  // Host names or IP literals (case-insensitive), or "*.domain" for any host below
  // it; empty = any host.
  std::vector<std::string> allowed_hosts;
  // Loopback, link-local (169.254.0.0/16, fe80::/10, cloud metadata services) and
  // unspecified addresses: refused unless true or the host is listed explicitly,
  // as itself: a "*.domain" entry never lets a name below it reach them.
  bool allow_local_addresses = true;
  // How long one step of an exchange (resolving, connecting, the TLS handshake,
  // one read or write) may wait; 0 = only the request's own timeout applies.
  std::chrono::milliseconds stall_timeout{0};
};

// While one lives, every request this thread sends (through any HttpClient) ends
// by `deadline`: its timeout becomes min(its own, the time left), and a request
// begun after the deadline fails at once with Error(network). A sync holds one so
// that no chart-repository, registry or publisher request outlives the sync's
// deadline. Scopes nest; the earliest deadline wins.
class DeadlineScope {
 public:
  explicit DeadlineScope(std::chrono::steady_clock::time_point deadline);
  ~DeadlineScope();
  DeadlineScope(const DeadlineScope&) = delete;
  DeadlineScope& operator=(const DeadlineScope&) = delete;
  // The deadline in force on this thread (time_point::max() when none).
  static std::chrono::steady_clock::time_point current();

 private:
  std::chrono::steady_clock::time_point previous_;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";
  std::string url;  // absolute http:// or https:// URL
  Headers headers;
  std::string body;
  std::chrono::milliseconds timeout{30000};  // whole exchange
  std::size_t max_response_body = 256u << 20;
  // Followed for GET/HEAD only; 0 makes a redirect an error. Every hop is held to
  // the client's ConnectionPolicy and to `timeout`, and Authorization goes only to
  // the request's own origin (scheme, host and port). The subject of an error on a
  // hop a redirect led to is its URL without the query (which may hold a signature).
  int max_redirects = 5;
  // Optional: asked at least every 100 ms while the exchange waits on the network;
  // when it answers true the exchange is abandoned with Error(network, "cancelled").
  // Lets a long-lived request (a watch stream) end promptly at shutdown.
  std::function<bool()> cancelled;
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;
  // The URL that gave this answer (the last one when redirects were followed),
  // without userinfo: a caller tells an answer from its own server from one a
  // redirect led to.
  std::string url;
  // Case-insensitive header lookup; empty when absent.
  std::string header(std::string_view name) const;
};

// Connection reuse (HTTP/1.1 keep-alive), off unless a client enables it.
struct KeepAlive {
  std::size_t max_idle = 16;          // idle connections kept, over all hosts
  std::size_t max_idle_per_host = 4;  // ... and to one scheme+host+port
  // An idle connection older than this is closed instead of reused.
  std::chrono::milliseconds idle_timeout{10000};
  // A request that must not be repeated (POST, PATCH) goes out on a reused
  // connection only when it was idle for less than this: a connection the server
  // closed meanwhile would fail it, and it is not retried. 0 = never reused.
  std::chrono::milliseconds unsafe_reuse_window{2000};
};

class HttpClient {
 public:
  explicit HttpClient(TlsOptions tls = {}, ConnectionPolicy peers = {});

  // From now on (and for copies made afterwards, which share the pool) a
  // connection whose exchange ended cleanly (whole body read, the server did not
  // ask to close) is kept and reused by the next request to the same scheme, host
  // and port: one TLS handshake per host instead of one per request. A reused
  // connection found closed by the server is dropped; when that only shows as the
  // request fails before any answer came, an idempotent request (GET, HEAD, PUT,
  // DELETE, OPTIONS) is sent once more on a fresh connection, others fail with
  // Error(network). Deadlines are the request's as without reuse. Thread-safe: a
  // connection serves one exchange at a time.
  void enable_keep_alive(KeepAlive options = {});
  // Closes the idle connections (end of a sync); the pool stays enabled.
  void close_idle() const;
  // TCP connections this client (and its copies) opened so far.
  std::uint64_t connections_opened() const;

  // Throws Error(network) when no response could be had (DNS, connect, TLS,
  // timeout, oversized body); any HTTP status is returned, not thrown.
  Response send(const Request& req) const;

  // Streams the response body to on_chunk as it arrives (watch streams, large
  // downloads). Returns the response with an empty body. on_chunk returning false
  // stops reading and closes the connection.
  Response stream(const Request& req, const std::function<bool(std::string_view chunk)>& on_chunk) const;

 private:
  struct TlsState;  // the TLS context, built on first https use and shared by copies
  struct Pool;      // idle connections, when keep-alive is enabled; shared by copies
  TlsOptions tls_;
  ConnectionPolicy peers_;
  std::shared_ptr<TlsState> tls_state_;
  std::shared_ptr<Pool> pool_;
  std::shared_ptr<std::atomic<std::uint64_t>> opened_;
};

// Percent-encodes one path segment or query value.
std::string url_encode(std::string_view s);

// Resolves a possibly relative reference against a base URL (RFC 3986), as index.yaml
// chart URLs are resolved against the repository URL.
std::string resolve_url(std::string_view base, std::string_view reference);

}  // namespace cmop::net
