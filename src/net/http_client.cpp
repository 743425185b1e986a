// HttpClient over Boost.Beast. Each exchange has its connection (with the io_context
// its socket belongs to) to itself, so concurrent calls share nothing mutable
// except the lazily built TLS context, which OpenSSL allows many connections to
// use at once once it is configured, and, with keep-alive, the pool that idle
// connections wait in between exchanges (under its own lock).
//
// The exchange is written with Beast's asynchronous operations driven to completion
// on a private io_context: that is what lets one deadline (the request's timeout)
// cover DNS, connect, TLS handshake, write and read uniformly.
#include "cmop/net/http_client.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>

#include <cerrno>

#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url.hpp>
#include <cctype>
#include <memory>
#include <mutex>
#include <optional>

#include "cmop/error.hpp"
#include "cmop/net/ca_paths.hpp"

namespace cmop::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// TLS context, built once per client on first https use.

struct HttpClient::TlsState {
  std::once_flag once;
  std::unique_ptr<ssl::context> context_;
  std::optional<Error> failure;  // a bad CA or key fails every https call the same way

  // The context, built on the first call; throws the build's Error on every call.
  ssl::context* context(const TlsOptions& tls);
};

struct HttpConnection;

// Idle connections by scheme://host:port, most recently used last.
struct HttpClient::Pool {
  KeepAlive options;
  std::mutex mu;
  std::vector<std::unique_ptr<HttpConnection>> idle;

  std::unique_ptr<HttpConnection> take(const std::string& key, bool idempotent);
  void put(std::unique_ptr<HttpConnection> conn);
  void clear();
};

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string openssl_reason(const boost::system::error_code& ec) {
  std::string msg = ec.message();
  if (ec.category() == asio::error::get_ssl_category()) {
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
    if (reason) msg = reason;
  }
  return msg;
}

std::unique_ptr<ssl::context> build_tls_context(const TlsOptions& tls) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  if (tls.insecure_skip_verify) {
    ctx->set_verify_mode(ssl::verify_none);
  } else {
    ctx->set_verify_mode(ssl::verify_peer);
    if (!tls.ca_file.empty()) {
      ctx->load_verify_file(tls.ca_file, ec);
      if (ec) throw Error(Errc::invalid_argument, tls.ca_file, "cannot load CA bundle: " + openssl_reason(ec));
    }
    if (!tls.ca_pem.empty()) {
      ctx->add_certificate_authority(asio::buffer(tls.ca_pem), ec);
      if (ec) throw Error(Errc::invalid_argument, "certificate authority data", "invalid PEM: " + openssl_reason(ec));
    }
    if (tls.ca_file.empty() && tls.ca_pem.empty()) {
      // Not set_default_verify_paths(): a static build's compiled-in OpenSSL
      // directory may not exist in the image (see system_ca_locations).
      CaLocations system = system_ca_locations();
      if (system.file.empty() && system.dir.empty())
        throw Error(Errc::io, "system CA certificates",
                    "no CA bundle found; set SSL_CERT_FILE or SSL_CERT_DIR");
      if (SSL_CTX_load_verify_locations(ctx->native_handle(), system.file.empty() ? nullptr : system.file.c_str(),
                                        system.dir.empty() ? nullptr : system.dir.c_str()) != 1) {
        ERR_clear_error();
        throw Error(Errc::io, system.file.empty() ? system.dir : system.file, "cannot load the system CA certificates");
      }
    }
  }
  if (!tls.client_cert_pem.empty() || !tls.client_key_pem.empty()) {
    if (tls.client_cert_pem.empty() || tls.client_key_pem.empty())
      throw Error(Errc::invalid_argument, "client certificate",
                  "a client certificate and its key must be given together");
    ctx->use_certificate_chain(asio::buffer(tls.client_cert_pem), ec);
    if (ec) throw Error(Errc::invalid_argument, "client certificate", "invalid PEM: " + openssl_reason(ec));
    // The key is secret: its parse error names only the field, never the content.
    ctx->use_private_key(asio::buffer(tls.client_key_pem), ssl::context::pem, ec);
    if (ec) throw Error(Errc::invalid_argument, "client key", "invalid PEM: " + openssl_reason(ec));
  }
  return ctx;
}

// ---------------------------------------------------------------------------
// URLs

struct Target {
  bool https = false;
  std::string host;       // without brackets
  std::string port;
  std::string host_header;
  std::string path;       // origin-form request target
  std::string basic_auth; // "user:pass" decoded, or empty
  std::string display;    // the URL without userinfo, for messages
};

std::string strip_userinfo(std::string_view url) {
  auto parsed = boost::urls::parse_uri_reference(url);
  if (!parsed) return std::string(url.substr(0, url.find('?')));
  boost::urls::url u(*parsed);
  u.remove_userinfo();
  return std::string(u.buffer());
}

Target parse_target(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) throw Error(Errc::invalid_argument, strip_userinfo(url), "not an absolute URL: " + parsed.error().message());
  const boost::urls::url_view& u = *parsed;
  Target t;
  std::string scheme = u.scheme();
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (scheme == "https") t.https = true;
  else if (scheme != "http") throw Error(Errc::invalid_argument, strip_userinfo(url), "unsupported scheme '" + scheme + "'");
  if (!u.has_authority() || u.host().empty()) throw Error(Errc::invalid_argument, strip_userinfo(url), "URL has no host");
  // Brackets of an IPv6 literal belong to the URL syntax, not to the address.
  t.host = u.host_type() == boost::urls::host_type::ipv6 ? std::string(u.host_address()) : std::string(u.host());
  const std::string default_port = t.https ? "443" : "80";
  t.port = u.has_port() && !u.port().empty() ? std::string(u.port()) : default_port;
  t.host_header = std::string(u.encoded_host_and_port());
  if (u.has_port() && u.port() == default_port) t.host_header = std::string(u.encoded_host());
  t.path = std::string(u.encoded_path());
  if (t.path.empty()) t.path = "/";
  if (u.has_query()) t.path += "?" + std::string(u.encoded_query());
  if (u.has_userinfo()) t.basic_auth = std::string(u.user()) + ":" + std::string(u.password());
  boost::urls::url shown(u);
  shown.remove_userinfo();
  shown.remove_fragment();
  t.display = std::string(shown.buffer());
  return t;
}

std::string base64(std::string_view in) {
  std::string out(beast::detail::base64::encoded_size(in.size()), '\0');
  out.resize(beast::detail::base64::encode(out.data(), in.data(), in.size()));
  return out;
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// ---------------------------------------------------------------------------
// One exchange on one connection.

std::string lower_text(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Listed in allowed_hosts: exactly, or below a "*.domain" entry.
bool listed_host(const ConnectionPolicy& policy, const std::string& host) {
  const std::string h = lower_text(host);
  for (const auto& entry : policy.allowed_hosts) {
    const std::string e = lower_text(entry);
    if (e == h) return true;
    if (e.size() > 2 && e.rfind("*.", 0) == 0 && h.size() > e.size() - 1 &&
        h.compare(h.size() - (e.size() - 1), e.size() - 1, e.substr(1)) == 0)
      return true;
  }
  return false;
}

// Listed in allowed_hosts as itself (no "*.domain" entry counts): the only way a
// host may reach loopback and link-local addresses when they are refused.
bool listed_exactly(const ConnectionPolicy& policy, const std::string& host) {
  return std::any_of(policy.allowed_hosts.begin(), policy.allowed_hosts.end(),
                     [&](const std::string& entry) { return iequals(entry, host); });
}

bool local_address(asio::ip::address a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  if (a.is_unspecified() || a.is_loopback()) return true;
  if (a.is_v4()) return (a.to_v4().to_uint() & 0xFFFF0000u) == 0xA9FE0000u;  // 169.254.0.0/16
  return a.to_v6().is_link_local();
}

}  // namespace

// One TCP (or TLS) connection and the io_context its socket belongs to. It moves
// between exchanges (through the pool) as a whole.
struct HttpConnection {
  asio::io_context ioc;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  std::string key;  // scheme://host:port
  Clock::time_point idle_since;

  HttpConnection(const std::string& k, ssl::context* ctx) : key(k) {
    if (ctx) tls.emplace(ioc, *ctx);
    else plain.emplace(ioc);
  }
  ~HttpConnection() {
    boost::system::error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp().socket().close(ignored);
  }
  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  // Whether an idle connection can carry another request: nothing may have
  // arrived on it (a server's close, a TLS close_notify or anything unasked for
  // makes it unusable) and it must still be open.
  bool usable() {
    if (!tcp().socket().is_open() || buffer.size() > 0) return false;
    if (tls && SSL_pending(tls->native_handle()) > 0) return false;
    char byte;
    ssize_t n = ::recv(tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
};

namespace {

class Exchange {
 public:
  Exchange(std::unique_ptr<HttpConnection> conn, const Target& target, Clock::time_point deadline,
           std::chrono::milliseconds timeout, const ConnectionPolicy& peers)
      : target_(target), deadline_(deadline), timeout_(timeout), peers_(peers), conn_(std::move(conn)),
        ioc_(conn_->ioc), plain_stream_(conn_->plain), tls_stream_(conn_->tls), buffer_(conn_->buffer) {
    // What connect() would leave for a connection made now; a reused one starts here.
    current_ = op_deadline();
  }

  // The connection came from the pool (a write failure is then returned, not thrown).
  void set_reused() { reused_ = true; }
  // The connection, for reuse, once the exchange ended cleanly.
  std::unique_ptr<HttpConnection> release() { return std::move(conn_); }
  bool request_written() const { return request_written_; }

  void connect() {
    tcp::resolver resolver(ioc_);
    tcp::resolver::results_type endpoints;
    boost::system::error_code ec;
    bool done = false;
    current_ = op_deadline();
    resolver.async_resolve(target_.host, target_.port,
                           [&](const boost::system::error_code& e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                             done = true;
                           });
    run_until(done, [&] { resolver.cancel(); });
    if (ec) fail("resolving " + target_.host + ": " + ec.message());
    if (!peers_.allow_local_addresses && !listed_exactly(peers_, target_.host)) {
      std::vector<tcp::endpoint> allowed;
      for (const auto& e : endpoints)
        if (!local_address(e.endpoint().address())) allowed.push_back(e.endpoint());
      if (allowed.empty())
        throw Error(Errc::forbidden, target_.display,
                    "refused: " + target_.host + " is a loopback or link-local address (not allowed for this request)");
      if (allowed.size() != endpoints.size())
        endpoints = tcp::resolver::results_type::create(allowed.begin(), allowed.end(), target_.host, target_.port);
    }

    tcp_stream().expires_at(current_ = op_deadline());
    done = false;
    tcp_stream().async_connect(endpoints, [&](const boost::system::error_code& e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    run_until(done);
    if (ec) fail("connecting to " + target_.host + ":" + target_.port + ": " + ec.message());

    if (tls_stream_) handshake();
  }

  // Runs one HTTP operation on whichever stream the connection uses, until it
  // completes or the deadline passes. `start(stream, handler)` begins it.
  template <class Start>
  boost::system::error_code run_on_stream(Start start) {
    boost::system::error_code ec;
    bool done = false;
    tcp_stream().expires_at(current_ = op_deadline());
    auto handler = [&](const boost::system::error_code& e, std::size_t) {
      ec = e;
      done = true;
    };
    if (tls_stream_) start(*tls_stream_, handler);
    else start(*plain_stream_, handler);
    run_until(done);
    return ec;
  }

  // Sends the request while already reading the answer's header, and returns
  // the read's outcome. A server may answer before it has read the whole body
  // and then close (ChartMuseum's 413 once --max-upload-size bytes are in, an
  // early 401): a client that only starts reading once everything is written
  // would meet a reset connection instead of that answer. An answer that comes
  // first ends the write; a failed write is reported only when no answer came.
  // The parser sees the Content-Length with the header, so body_limit can come from here.
  template <class Parser>
  boost::system::error_code write_and_read_header(const http::request<http::string_body>& req, Parser& parser) {
    boost::system::error_code write_ec, read_ec;
    bool written = false, read = false;
    tcp_stream().expires_at(deadline_);
    auto on_write = [&](const boost::system::error_code& e, std::size_t) {
      write_ec = e;
      written = true;
    };
    auto on_read = [&](const boost::system::error_code& e, std::size_t) {
      read_ec = e;
      read = true;
    };
    auto start = [&](auto& stream) {
      http::async_write(stream, req, on_write);
      http::async_read_header(stream, buffer_, parser, on_read);
    };
    if (tls_stream_) start(*tls_stream_);
    else start(*plain_stream_);
    run_until(read);
    const bool write_failed = written && write_ec;
    if (!written) {
      // Answered (or closed) early: the rest of the body is not wanted. The
      // cancelled write's handler must run before its captures go out of scope.
      boost::system::error_code ignored;
      tcp_stream().socket().cancel(ignored);
      run_until(written);
    }
    request_written_ = written && !write_ec;
    if (read_ec && write_failed) {
      // On a reused connection the server may have closed it just before: the
      // caller decides whether the request goes out again.
      if (reused_) return write_ec;
      fail("sending request: " + describe(write_ec));
    }
    return read_ec;
  }

  // Reads whatever is available (at least one byte from the peer unless already buffered).
  template <class Parser>
  boost::system::error_code read_some(Parser& parser) {
    return run_on_stream([&](auto& stream, auto& handler) { http::async_read_some(stream, buffer_, parser, handler); });
  }

  [[noreturn]] void fail(const std::string& reason) const {
    throw Error(Errc::network, target_.display, reason);
  }

  std::string describe(const boost::system::error_code& ec) const {
    if (ec == beast::error::timeout || ec == asio::error::operation_aborted) return timeout_message();
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == ssl::error::stream_truncated)
      return "connection closed by peer";
    return openssl_reason(ec);
  }

  std::string timeout_message() const {
    if (current_ < deadline_)
      return "no answer for " + std::to_string(peers_.stall_timeout.count()) + " ms (timed out)";
    return "timed out after " + std::to_string(timeout_.count()) + " ms";
  }

 private:
  beast::tcp_stream& tcp_stream() { return tls_stream_ ? beast::get_lowest_layer(*tls_stream_) : *plain_stream_; }

  // Drives the private io_context until `done`; at the deadline cancels what is pending
  // (the stream's own timer already does so for socket operations) and reports a timeout.
  // The deadline of the next operation: the exchange's, or sooner when the policy
  // bounds how long one step (resolve, connect, handshake, one read or write) may wait.
  Clock::time_point op_deadline() const {
    if (peers_.stall_timeout.count() <= 0) return deadline_;
    return std::min(deadline_, Clock::now() + peers_.stall_timeout);
  }

  void run_until(bool& done, const std::function<void()>& cancel = {}) {
    ioc_.restart();
    while (!done) {
      auto now = Clock::now();
      if (now >= current_) {
        if (cancel) cancel();
        boost::system::error_code ignored;
        tcp_stream().socket().cancel(ignored);
        ioc_.restart();
        ioc_.run();  // lets the cancelled handler run
        fail(timeout_message());
      }
      if (cancelled_ && cancelled_()) {
        boost::system::error_code ignored;
        tcp_stream().socket().cancel(ignored);
        ioc_.restart();
        ioc_.run();  // lets the cancelled handler run
        fail("cancelled");
      }
      auto until = cancelled_ ? std::min(current_, now + kCancelPoll) : current_;
      if (ioc_.run_one_until(until) == 0 && ioc_.stopped()) {
        if (!done && Clock::now() < current_) throw Error(Errc::internal, target_.display, "I/O finished without completing");
        ioc_.restart();
      }
    }
  }

  void handshake() {
    SSL* ssl_handle = tls_stream_->native_handle();
    if (!is_ip_literal(target_.host)) {
      // SNI: servers hosting several names pick the certificate by it.
      if (!SSL_set_tlsext_host_name(ssl_handle, target_.host.c_str()))
        fail("TLS: cannot set server name indication");
    }
    tls_stream_->set_verify_callback(ssl::host_name_verification(target_.host));
    boost::system::error_code ec;
    bool done = false;
    tcp_stream().expires_at(current_ = op_deadline());
    tls_stream_->async_handshake(ssl::stream_base::client, [&](const boost::system::error_code& e) {
      ec = e;
      done = true;
    });
    run_until(done);
    if (ec) {
      long verify = SSL_get_verify_result(ssl_handle);
      std::string reason = "TLS handshake: " + describe(ec);
      if (verify != X509_V_OK) reason += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
      fail(reason);
    }
  }


 public:
  void set_cancelled(std::function<bool()> cancelled) { cancelled_ = std::move(cancelled); }

 private:
  static constexpr std::chrono::milliseconds kCancelPoll{100};
  const Target& target_;
  std::function<bool()> cancelled_;
  Clock::time_point deadline_;
  std::chrono::milliseconds timeout_;
  const ConnectionPolicy& peers_;
  Clock::time_point current_;  // deadline of the operation under way
  std::unique_ptr<HttpConnection> conn_;
  asio::io_context& ioc_;
  std::optional<beast::tcp_stream>& plain_stream_;
  std::optional<beast::ssl_stream<beast::tcp_stream>>& tls_stream_;
  beast::flat_buffer& buffer_;
  bool request_written_ = false;
  bool reused_ = false;
};

http::request<http::string_body> build_request(const Request& req, const Target& target, bool send_userinfo_auth) {
  http::request<http::string_body> out;
  out.version(11);
  out.method_string(req.method);
  out.target(target.path);
  out.set(http::field::host, target.host_header);
  out.set(http::field::user_agent, "cmop");
  bool has_authorization = false;
  for (const auto& [name, value] : req.headers) {
    if (iequals(name, "Authorization")) has_authorization = true;
    if (iequals(name, "Host") || iequals(name, "Content-Length")) continue;
    out.insert(name, value);
  }
  if (!has_authorization && send_userinfo_auth && !target.basic_auth.empty()) {
    out.set(http::field::authorization, "Basic " + base64(target.basic_auth));
  }
  out.body() = req.body;
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH")
    out.prepare_payload();
  return out;
}

void copy_headers(const http::fields& fields, Response& res) {
  for (const auto& f : fields) res.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::string host_of(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return {};
  return std::string(parsed->scheme()) + "://" + std::string(parsed->encoded_host_and_port());
}

constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;

std::string limit_text(std::size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace

ssl::context* HttpClient::TlsState::context(const TlsOptions& tls) {
  std::call_once(once, [&] {
    try {
      context_ = build_tls_context(tls);
    } catch (const Error& e) {
      failure = e;
    }
  });
  if (failure) throw *failure;
  return context_.get();
}

// ---------------------------------------------------------------------------
// The keep-alive pool. Connections are closed outside the lock.

std::unique_ptr<HttpConnection> HttpClient::Pool::take(const std::string& key, bool idempotent) {
  std::vector<std::unique_ptr<HttpConnection>> closing;
  std::unique_ptr<HttpConnection> found;
  {
    std::lock_guard lk(mu);
    const auto now = Clock::now();
    for (auto it = idle.begin(); it != idle.end();) {
      if (now - (*it)->idle_since > options.idle_timeout) {
        closing.push_back(std::move(*it));
        it = idle.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = idle.rbegin(); it != idle.rend(); ++it) {
      HttpConnection& c = **it;
      if (c.key != key) continue;
      if (!idempotent && now - c.idle_since >= options.unsafe_reuse_window) continue;
      found = std::move(*it);
      idle.erase(std::next(it).base());
      break;
    }
  }
  if (found && !found->usable()) found.reset();  // closed by the server meanwhile
  return found;
}

void HttpClient::Pool::put(std::unique_ptr<HttpConnection> conn) {
  std::vector<std::unique_ptr<HttpConnection>> closing;
  std::lock_guard lk(mu);
  conn->idle_since = Clock::now();
  conn->tcp().expires_never();
  auto same_host = std::count_if(idle.begin(), idle.end(), [&](auto& c) { return c->key == conn->key; });
  for (auto it = idle.begin(); it != idle.end() && static_cast<std::size_t>(same_host) >= options.max_idle_per_host;) {
    if ((*it)->key == conn->key) {
      closing.push_back(std::move(*it));
      it = idle.erase(it);
      --same_host;
    } else {
      ++it;
    }
  }
  while (!idle.empty() && idle.size() >= options.max_idle) {
    closing.push_back(std::move(idle.front()));
    idle.erase(idle.begin());
  }
  if (options.max_idle > 0 && options.max_idle_per_host > 0) idle.push_back(std::move(conn));
}

void HttpClient::Pool::clear() {
  std::vector<std::unique_ptr<HttpConnection>> closing;
  std::lock_guard lk(mu);
  closing.swap(idle);
}

// ---------------------------------------------------------------------------

std::string Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

HttpClient::HttpClient(TlsOptions tls, ConnectionPolicy peers)
    : tls_(std::move(tls)),
      peers_(std::move(peers)),
      tls_state_(std::make_shared<TlsState>()),
      opened_(std::make_shared<std::atomic<std::uint64_t>>(0)) {}

void HttpClient::enable_keep_alive(KeepAlive options) {
  pool_ = std::make_shared<Pool>();
  pool_->options = options;
}

void HttpClient::close_idle() const {
  if (pool_) pool_->clear();
}

std::uint64_t HttpClient::connections_opened() const { return opened_->load(); }

Response HttpClient::send(const Request& req) const {
  std::string body;
  Response res = stream(req, [&](std::string_view chunk) {
    body.append(chunk);
    return true;
  });
  res.body = std::move(body);
  return res;
}

namespace {
thread_local Clock::time_point t_deadline = Clock::time_point::max();
}  // namespace

DeadlineScope::DeadlineScope(Clock::time_point deadline) : previous_(t_deadline) {
  t_deadline = std::min(previous_, deadline);
}
DeadlineScope::~DeadlineScope() { t_deadline = previous_; }
Clock::time_point DeadlineScope::current() { return t_deadline; }

namespace {

using Parser = http::response_parser<http::buffer_body>;

// When a request must end: by its own timeout, or by the thread's DeadlineScope
// when that comes first (and then the timeout a message names is what was left).
struct Limit {
  Clock::time_point deadline;
  std::chrono::milliseconds timeout;
};

Limit limit_for(const Request& req) {
  const auto now = Clock::now();
  Limit limit{now + req.timeout, req.timeout};
  if (const auto outer = DeadlineScope::current(); outer < limit.deadline) {
    if (outer <= now)
      throw Error(Errc::network, strip_userinfo(req.url), "not sent: the deadline it had to end by has passed");
    limit = {outer, std::chrono::duration_cast<std::chrono::milliseconds>(outer - now)};
  }
  return limit;
}

// Credentials never follow a redirect to another origin.
Request without_authorization(Request r) {
  r.headers.erase(std::remove_if(r.headers.begin(), r.headers.end(),
                                 [](const auto& h) { return iequals(h.first, "Authorization"); }),
                  r.headers.end());
  return r;
}

// One request to one target (the first, or where a redirect led): what each
// attempt to send it needs.
struct Attempt {
  const Request& req;  // the caller's: its method, body limit and cancellation
  const http::request<http::string_body>& request;  // what goes on the wire
  const Target& target;
  const std::string& key;  // scheme://host:port, what the pool keys connections by
  ssl::context* ctx;       // for https
  Limit limit;
  const ConnectionPolicy& peers;
  bool idempotent;
};

Error too_large(const Attempt& a) {
  return Error(Errc::too_large, a.target.display,
               "response body exceeds the limit of " + limit_text(a.req.max_response_body));
}

// Writes the request and reads the answer's header into `parser`, on the idle
// connection `take_idle` gives, else on a new one. A reused connection the server
// closed before it read the request did nothing, so an idempotent request goes
// out once more, on a new connection. Throws Error(network) otherwise.
void exchange_header(const Attempt& a, const std::function<std::unique_ptr<HttpConnection>()>& take_idle,
                     std::atomic<std::uint64_t>& opened, std::optional<Exchange>& ex, std::optional<Parser>& parser) {
  for (bool retried = false;; retried = true) {
    // Not a pooled one when retrying: that one turned out stale.
    std::unique_ptr<HttpConnection> conn = retried ? nullptr : take_idle();
    const bool reused = conn != nullptr;
    if (!conn) {
      conn = std::make_unique<HttpConnection>(a.key, a.ctx);
      opened.fetch_add(1);
    }
    ex.emplace(std::move(conn), a.target, a.limit.deadline, a.limit.timeout, a.peers);
    if (a.req.cancelled) ex->set_cancelled(a.req.cancelled);
    if (reused) ex->set_reused();
    else ex->connect();

    parser.emplace();
    parser->header_limit(kMaxHeaderBytes);
    parser->body_limit(a.req.max_response_body);
    if (a.req.method == "HEAD") parser->skip(true);
    auto ec = ex->write_and_read_header(a.request, *parser);
    if (!ec) return;
    if (ec == http::error::body_limit) throw too_large(a);
    const bool stale = ec == http::error::end_of_stream || ec == asio::error::eof ||
                       ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
                       ec == ssl::error::stream_truncated;
    if (reused && stale && a.idempotent && !parser->got_some() && !retried) continue;
    if (reused && !ex->request_written()) ex->fail("sending request: " + ex->describe(ec));
    ex->fail("reading response header: " + ex->describe(ec));
  }
}

// Reads a redirect's own body (none for HEAD, a line of HTML for GET), so that
// its connection can carry the next request: a registry redirects every blob, and
// its next request need not connect and shake hands again. True when the
// connection can be kept.
bool drain_redirect(Exchange& ex, Parser& parser) {
  if (!ex.request_written() || !parser.keep_alive() ||
      !(parser.is_done() || parser.chunked() || parser.content_length()))
    return false;
  std::array<char, 4096> scrap;
  std::size_t drained = 0;
  boost::system::error_code ec;
  while (!parser.is_done() && !ec && drained <= kMaxHeaderBytes) {
    parser.get().body().data = scrap.data();
    parser.get().body().size = scrap.size();
    ec = ex.read_some(parser);
    if (ec == http::error::need_buffer) ec = {};
    drained += scrap.size() - parser.get().body().size;
  }
  return parser.is_done() && parser.keep_alive();
}

// Streams the body to on_chunk; false when on_chunk stopped it.
bool read_body(Exchange& ex, Parser& parser, const Attempt& a,
               const std::function<bool(std::string_view)>& on_chunk) {
  std::array<char, 16 * 1024> buf;
  while (!parser.is_done()) {
    parser.get().body().data = buf.data();
    parser.get().body().size = buf.size();
    auto ec = ex.read_some(parser);
    if (ec == http::error::need_buffer) ec = {};
    if (ec == http::error::body_limit) throw too_large(a);
    if (ec) {
      // A body delimited by connection close ends with eof, which the parser treats as done.
      if ((ec == http::error::end_of_stream || ec == ssl::error::stream_truncated) && parser.is_done()) break;
      ex.fail("reading response body: " + ex.describe(ec));
    }
    std::size_t got = buf.size() - parser.get().body().size;
    if (got > 0 && !on_chunk(std::string_view(buf.data(), got))) return false;
  }
  return true;
}

}  // namespace

Response HttpClient::stream(const Request& req, const std::function<bool(std::string_view)>& on_chunk) const {
  const Limit limit = limit_for(req);
  std::string url = req.url;
  const std::string original_origin = host_of(url);
  const bool follow = req.method == "GET" || req.method == "HEAD";
  Request current = req;

  for (int redirects = 0;; ++redirects) {
    Target target = parse_target(url);
    const std::string answered_by = target.display;
    // A redirect's query may be a signature (object storage): not for messages.
    if (redirects > 0) target.display = target.display.substr(0, target.display.find('?'));
    if (!peers_.allowed_hosts.empty() && !listed_host(peers_, target.host))
      throw Error(Errc::forbidden, target.display, "refused: host " + target.host + " is not in the allowed list");
    ssl::context* ctx = target.https ? tls_state_->context(tls_) : nullptr;
    const auto request =
        build_request(host_of(url) == original_origin ? current : without_authorization(current), target, true);
    const std::string key = (target.https ? "https://" : "http://") + target.host + ":" + target.port;
    const std::string& method = current.method;
    const bool idempotent = method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
                            method == "OPTIONS";
    const Attempt attempt{req, request, target, key, ctx, limit, peers_, idempotent};
    std::optional<Exchange> ex;
    std::optional<Parser> parser;
    exchange_header(
        attempt, [&] { return pool_ ? pool_->take(key, idempotent) : nullptr; }, *opened_, ex, parser);

    Response res;
    res.status = static_cast<int>(parser->get().result_int());
    res.url = answered_by;
    copy_headers(parser->get().base(), res);

    if (follow && is_redirect(res.status) && !res.header("Location").empty()) {
      if (redirects >= req.max_redirects)
        throw Error(Errc::network, target.display,
                    "too many redirects (more than " + std::to_string(req.max_redirects) + ")");
      if (pool_ && drain_redirect(*ex, *parser)) pool_->put(ex->release());
      url = resolve_url(url, res.header("Location"));
      // 303 turns the request into a GET; GET and HEAD stay what they are on 301-308.
      if (res.status == 303 && current.method != "HEAD") current.method = "GET";
      current.body.clear();
      continue;
    }
    if (!read_body(*ex, *parser, attempt, on_chunk)) return res;
    // Whole answer read, whole request sent, and the server keeps the connection.
    if (pool_ && parser->is_done() && parser->keep_alive() && ex->request_written()) pool_->put(ex->release());
    return res;
  }
}

std::string url_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string resolve_url(std::string_view base, std::string_view reference) {
  auto base_view = boost::urls::parse_uri(base);
  if (!base_view) throw Error(Errc::invalid_argument, strip_userinfo(base), "not an absolute URL");
  auto ref_view = boost::urls::parse_uri_reference(reference);
  if (!ref_view) throw Error(Errc::invalid_argument, strip_userinfo(reference), "not a valid URL reference");
  boost::urls::url out;
  auto result = boost::urls::resolve(*base_view, *ref_view, out);
  if (!result) throw Error(Errc::invalid_argument, strip_userinfo(reference), "cannot resolve against " + strip_userinfo(base));
  return std::string(out.buffer());
}

}  // namespace cmop::net
