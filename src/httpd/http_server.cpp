#include "cmop/httpd/http_server.hpp"

#include "cmop/util/redact.hpp"
#include "cmop/util/utf8.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "cmop/error.hpp"
#include "cmop/net/listen_address.hpp"
#include "cmop/util/log.hpp"

namespace cmop::httpd {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::string_view code_for_status(int status) {
  switch (status) {
    case 400: return to_string(Errc::invalid_argument);
    case 401: return to_string(Errc::unauthorized);
    case 403: return to_string(Errc::forbidden);
    case 404: return to_string(Errc::not_found);
    case 405: return "MethodNotAllowed";
    case 409: return to_string(Errc::conflict);
    case 413:
    case 431: return to_string(Errc::too_large);
    case 429: return "TooManyRequests";
    case 502: return to_string(Errc::upstream);
    case 503: return "Unavailable";
    default: return to_string(Errc::internal);
  }
}

HttpResponse json_error(int status, const std::string& message, std::string_view code) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("error");
  // May quote bytes from a request or a repo, and URLs with credentials.
  // Bounded whatever the message quotes (callers cut echoed input shorter still).
  constexpr std::size_t kMaxMessage = 2048;
  std::string bounded = message.size() > kMaxMessage ? message.substr(0, kMaxMessage) + "\u2026" : message;
  const std::string text = util::to_valid_utf8(util::redact_text(bounded));
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  if (code.empty()) code = code_for_status(status);
  w.Key("code");
  w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  w.EndObject();
  HttpResponse r;
  r.status = status;
  r.body = std::string(sb.GetString(), sb.GetSize());
  return r;
}

namespace {
class Session;
}

// Member order matters: `io` is destroyed before the session registry and its
// mutex, because destroying io destroys pending handlers and with them sessions,
// whose destructors deregister themselves.
struct HttpServer::Impl {
  HttpLimits limits;
  Handler handler;
  ResponseObserver observer;
  Precheck precheck;
  Trust trust;
  std::atomic<bool> stopping{false};
  std::size_t per_client_cap = 0;  // from limits, defaults applied
  std::size_t reserve = 0;

  std::mutex mu;  // guards the members up to `io`
  std::condition_variable cv;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  std::unordered_map<std::string, std::size_t> per_client;  // open connections by client address
  std::size_t untrusted = 0;                                // untrusted requests in progress
  int in_flight = 0;      // requests handed to the handler and not yet answered
  int pending_stops = 0;  // stop notices posted to sessions and not yet run
  ConnectionStats stats;  // .open is sessions.size()
  bool fd_exhaustion_logged = false;
  std::atomic<std::size_t> effective_max_connections{0};  // the cap, lowered when descriptors ran out

  asio::io_context io;
  // Keeps the I/O threads alive while a request waits for a worker and no socket
  // operation is pending (e.g. during shutdown, once the listener is closed).
  asio::executor_work_guard<asio::io_context::executor_type> keep_running{io.get_executor()};
  tcp::acceptor acceptor{asio::make_strand(io)};
  asio::steady_timer accept_backoff{acceptor.get_executor()};
  std::vector<std::thread> threads;

  void accept();
  void on_accepted(tcp::socket socket);
  // Closes the connection idle the longest (of `client` when given); false when none is idle.
  bool evict_idle(const std::string* client = nullptr);
  // Takes one of the connections untrusted requests may hold; false when none is left.
  bool admit_untrusted() {
    std::lock_guard lk(mu);
    const std::size_t cap = effective_max_connections.load();
    if (untrusted >= std::max<std::size_t>(1, cap > reserve ? cap - reserve : 1)) {
      ++stats.shed;
      return false;
    }
    ++untrusted;
    return true;
  }
  void release_untrusted() {
    std::lock_guard lk(mu);
    --untrusted;
  }
  void count_refused_per_client() {
    std::lock_guard lk(mu);
    ++stats.refused_per_client;
  }
  void count_slow_body() {
    std::lock_guard lk(mu);
    ++stats.slow_bodies;
  }
  void request_started() {
    std::lock_guard lk(mu);
    ++in_flight;
  }
  void request_finished() {
    std::lock_guard lk(mu);
    --in_flight;
    cv.notify_all();
  }
};

namespace {

std::string endpoint_text(const tcp::socket& socket) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

// One connection. Everything runs on the connection's strand; the handler's
// responder posts back onto it, so a response may come from a worker thread.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl* server, std::string client, bool probation)
      : stream_(std::move(socket)), server_(server), client_(std::move(client)), probation_(probation) {
    remote_ = endpoint_text(stream_.socket());
  }
  ~Session() {
    std::lock_guard lk(server_->mu);
    if (registered_) {
      server_->sessions.erase(this);
      if (auto it = server_->per_client.find(client_); it != server_->per_client.end() && --it->second == 0)
        server_->per_client.erase(it);
    }
    if (holds_untrusted_) --server_->untrusted;
    server_->cv.notify_all();
  }

  void start() {
    {
      std::lock_guard lk(server_->mu);
      server_->sessions[this] = weak_from_this();
      ++server_->per_client[client_];
      registered_ = true;
    }
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
  }

  // Waiting for a request (none in flight) since idle_since(); such a connection
  // may be closed to make room for a new one.
  bool idle() const { return idle_.load(); }
  const std::string& client() const { return client_; }
  Clock::rep idle_since() const { return idle_since_.load(); }
  void evict() {
    idle_ = false;  // chosen once: the next eviction picks another connection
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) self->close_now();
    });
  }

  // From HttpServer::shutdown once the grace is over: a request still waiting for
  // its answer gets `r` now (the handler's answer, should it come, is dropped).
  void abandon(HttpResponse r) {
    asio::post(stream_.get_executor(), [self = shared_from_this(), r = std::move(r)]() mutable {
      if (!self->busy_ || self->answered_) return;
      self->answered_ = true;
      self->write(std::move(r), true);
    });
  }

  // From HttpServer::shutdown: idle connections close now, busy ones after answering.
  void notice_stop() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) self->close_now();
      std::lock_guard lk(self->server_->mu);
      --self->server_->pending_stops;
      self->server_->cv.notify_all();
    });
  }

 private:
  void read_header() {
    if (server_->stopping) return close_now();
    idle_since_ = Clock::now().time_since_epoch().count();
    idle_ = true;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->limits.max_header_bytes));
    parser_->body_limit(server_->limits.max_body_bytes);
    stream_.expires_after(server_->limits.io_timeout);
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_header(ec);
    });
  }

  void on_header(beast::error_code ec) {
    started_ = Clock::now();
    idle_ = false;
    if (ec) return on_read_error(ec);
    auto& req = parser_->get();
    method_ = std::string(req.method_string());
    target_ = std::string(req.target());
    // RFC 9112 6.3: a request whose Transfer-Encoding does not end in "chunked" has
    // no determinable length; reading on would take its body for the next request.
    if (req.count(http::field::transfer_encoding) > 0 && !parser_->chunked())
      return respond_and_close(
          json_error(400, "request: Transfer-Encoding must end in \"chunked\" (got \"" +
                              std::string(req[http::field::transfer_encoding]).substr(0, 100) + "\")"));
    HttpRequest head = request_of(req);
    // With a body still to come, what the head alone refuses is answered now; a
    // request without one takes the usual path (and keeps its connection).
    if (server_->precheck && !parser_->is_done()) {
      std::optional<HttpResponse> refusal;
      try {
        refusal = server_->precheck(head);
      } catch (const std::exception& e) {
        refusal = json_error(500, std::string("internal error: ") + e.what());
      }
      // Refused before the body is read (and before any 100 Continue): the connection
      // closes after the answer, as the unread body cannot be told from a next request.
      if (refusal) return respond_and_close(std::move(*refusal));
    }
    // An untrusted request takes one of the connections such requests may hold
    // until its answer is written; the rest stay for health probes and clients
    // with credentials, whatever a flood of others does.
    if (server_->trust) {
      bool trusted = false;
      try {
        trusted = server_->trust(head);
      } catch (const std::exception&) {
        trusted = false;
      }
      if (!trusted && probation_) {
        // Past its client's cap: only a trusted request may use this connection.
        server_->count_refused_per_client();
        auto busy = json_error(503, "server: too many connections from " + client_ +
                                        "; the ones past its share are kept for health probes and authenticated "
                                        "requests");
        busy.headers.push_back({"Retry-After", "1"});
        return respond_and_close(std::move(busy), !parser_->is_done());
      }
      probation_ = false;  // a trusted request vouched for the connection
      if (!trusted) {
        if (!server_->admit_untrusted()) {
          auto busy = json_error(503, "server: busy; the remaining connections are kept for health probes and "
                                      "authenticated requests");
          busy.headers.push_back({"Retry-After", "1"});
          return respond_and_close(std::move(busy), !parser_->is_done());
        }
        holds_untrusted_ = true;
      }
    }
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, req.version());
      http::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code ec, std::size_t) {
        if (ec) return self->close_now();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  // The body must start within body_grace and then keep up min_body_rate on
  // average (and end within io_timeout): a client that trickles it is closed
  // rather than holding its connection for the whole I/O timeout.
  void read_body() {
    body_started_ = Clock::now();
    body_bytes_ = 0;
    read_body_some();
  }
  void read_body_some() {
    if (parser_->is_done()) return dispatch();
    const HttpLimits& l = server_->limits;
    auto deadline = body_started_ + l.io_timeout;
    if (l.min_body_rate > 0) {
      const auto owed = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(static_cast<double>(body_bytes_) / static_cast<double>(l.min_body_rate)));
      deadline = std::min(deadline, body_started_ + l.body_grace + owed);
    }
    stream_.expires_at(deadline);
    http::async_read_some(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->body_bytes_ += n;
      if (ec == beast::error::timeout) {
        self->server_->count_slow_body();
        return self->close_now();  // the stream closed the socket already: nothing can be answered
      }
      if (ec) return self->on_read_error(ec);
      self->read_body_some();
    });
  }

  HttpRequest request_of(const http::request<http::string_body>& req) const {
    HttpRequest in;
    in.method = method_;
    in.target = target_;
    in.authorization = std::string(req[http::field::authorization]);
    in.content_type = std::string(req[http::field::content_type]);
    in.remote = remote_;
    in.client = client_;
    return in;
  }

  void on_read_error(beast::error_code ec) {
    // The peer went away, idled out, or we are stopping: nothing to answer.
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof || ec == http::error::partial_message)
      return close_now();
    if (ec == http::error::body_limit)
      return respond_and_close(json_error(
          413, "request body: larger than the limit of " + std::to_string(server_->limits.max_body_bytes) + " bytes"));
    if (ec == http::error::header_limit)
      return respond_and_close(json_error(431, "request header: larger than the limit of " +
                                                   std::to_string(server_->limits.max_header_bytes) + " bytes"));
    respond_and_close(json_error(400, "request: malformed HTTP: " + ec.message()));
  }

  void dispatch() {
    busy_ = true;
    answered_ = false;
    const std::uint64_t request = ++requests_;
    server_->request_started();
    stream_.expires_never();  // a sync may take minutes; the handler decides when to answer
    auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    HttpRequest in = request_of(req);
    for (auto& field : req) {
      auto name = field.name_string();
      if ((name.size() > 2 && beast::iequals(name.substr(0, 2), "x-")) || beast::iequals(name, "idempotency-key"))
        in.extension_headers.emplace_back(std::string(name), std::string(field.value()));
    }
    in.body = std::move(req.body());
    auto self = shared_from_this();
    Responder respond = [self, request](HttpResponse r) {
      asio::post(self->stream_.get_executor(), [self, request, r = std::move(r)]() mutable {
        // Dropped when shutdown already answered this request with 503.
        if (request != self->requests_ || self->answered_) return;
        self->answered_ = true;
        self->write(std::move(r), false);
      });
    };
    try {
      server_->handler(std::move(in), std::move(respond));
    } catch (const std::exception& e) {
      answered_ = true;
      write(json_error(500, std::string("internal error: ") + e.what()), false);
    }
  }

  // `unread_input`: the request's body (or more) was not read; it is drained after
  // the answer rather than taken for the next request.
  void respond_and_close(HttpResponse r, bool unread_input = true) {
    method_ = method_.empty() ? "-" : method_;
    write(std::move(r), true, unread_input);
  }

  template <typename Body>
  std::shared_ptr<http::response<Body>> head_of(const HttpResponse& r, bool keep) {
    auto res = std::make_shared<http::response<Body>>();
    res->version(11);
    res->result(static_cast<unsigned>(r.status));
    res->set(http::field::server, "cmop");
    res->set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep);
    return res;
  }

  void write(HttpResponse r, bool close_after, bool unread_input = true) {
    const bool keep = keep_alive_ && !close_after && !server_->stopping;
    const bool drain = close_after && unread_input;
    if (!r.file.empty()) {
      // Streamed: Beast reads the file in small pieces as the socket takes them.
      http::file_body::value_type file;
      beast::error_code ec;
      file.open(r.file.c_str(), beast::file_mode::scan, ec);
      if (!ec) {
        if (method_ == "HEAD") {
          auto res = head_of<http::empty_body>(r, keep);
          res->content_length(file.size());
          return send(std::move(res), keep, drain, r.status);
        }
        auto res = head_of<http::file_body>(r, keep);
        res->body() = std::move(file);
        res->prepare_payload();
        return send(std::move(res), keep, drain, r.status);
      }
      r = json_error(404, "file: no longer in the repository");  // replaced or removed meanwhile
    }
    auto res = head_of<http::string_body>(r, keep);
    if (method_ == "HEAD") {
      res->content_length(r.body.size());
    } else {
      res->body() = std::move(r.body);
      res->prepare_payload();
    }
    send(std::move(res), keep, drain, r.status);
  }

  // Writes the head, then the body piece by piece: each piece the peer takes
  // restarts the I/O timeout, so the deadline is on progress, not on the whole
  // transfer, and what was really sent is counted for the log.
  template <typename Body>
  void send(std::shared_ptr<http::response<Body>> res, bool keep, bool drain, int status) {
    auto sr = std::make_shared<http::response_serializer<Body>>(*res);
    stream_.expires_after(server_->limits.io_timeout);
    http::async_write_header(stream_, *sr,
                             [self = shared_from_this(), res, sr, keep, drain, status](beast::error_code ec, std::size_t) {
                               if (ec) return self->after_write(ec, keep, drain, status, 0);
                               self->send_body(res, sr, keep, drain, status, 0);
                             });
  }
  template <typename Body>
  void send_body(std::shared_ptr<http::response<Body>> res, std::shared_ptr<http::response_serializer<Body>> sr,
                 bool keep, bool drain, int status, std::size_t sent) {
    if (sr->is_done()) return after_write({}, keep, drain, status, sent);
    stream_.expires_after(server_->limits.io_timeout);
    http::async_write_some(stream_, *sr,
                           [self = shared_from_this(), res, sr, keep, drain, status, sent](beast::error_code ec,
                                                                                           std::size_t n) {
                             if (ec) return self->after_write(ec, keep, drain, status, sent + n);
                             self->send_body(res, sr, keep, drain, status, sent + n);
                           });
  }

  void after_write(beast::error_code ec, bool keep, bool unread_input, int status, std::size_t bytes) {
    double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    if (server_->observer) {
      try {
        server_->observer(method_, target_, status, bytes, seconds, remote_, !ec);
      } catch (...) {
        // Logging or metrics failing must not take the connection down.
      }
    }
    if (busy_) {
      busy_ = false;
      server_->request_finished();
    }
    if (holds_untrusted_) {
      holds_untrusted_ = false;
      server_->release_untrusted();
    }
    keep_alive_ = false;
    method_.clear();
    target_.clear();
    if (ec) return close_now();
    if (unread_input) return drain();
    if (!keep) return close_gracefully();
    read_header();
  }

  // After refusing a request whose body we did not read, closing at once would
  // make the kernel reset the connection and the client could lose our answer.
  // So: half-close, then discard what the client still sends for a little while.
  void drain() {
    // Nothing more is owed to this peer: the connection may make room for another.
    idle_since_ = Clock::now().time_since_epoch().count();
    idle_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(5));
    discard_some(0);
  }
  void discard_some(std::size_t total) {
    if (total > 16u * 1024 * 1024) return close_now();
    auto buf = std::make_shared<std::array<char, 65536>>();
    stream_.async_read_some(asio::buffer(*buf), [self = shared_from_this(), buf, total](beast::error_code ec,
                                                                                        std::size_t n) {
      if (ec) return self->close_now();
      self->discard_some(total + n);
    });
  }

  void close_gracefully() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }
  void close_now() {
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  HttpServer::Impl* server_;  // outlives every session (see Impl)
  const std::string client_;  // the peer's address
  // Accepted past its client's cap (with none of the client's connections idle):
  // its first request must be trusted, else it is answered 503 and closed.
  bool probation_ = false;
  bool registered_ = false;   // counted in server_->sessions and per_client
  bool holds_untrusted_ = false;  // holds one of the connections untrusted requests may use
  Clock::time_point body_started_;
  std::size_t body_bytes_ = 0;
  std::atomic<bool> idle_{true};
  std::atomic<Clock::rep> idle_since_{Clock::now().time_since_epoch().count()};
  std::uint64_t requests_ = 0;  // numbers the requests on this connection
  bool answered_ = false;       // the current request has its response
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_, method_, target_;
  Clock::time_point started_ = Clock::now();
  bool busy_ = false;
  bool keep_alive_ = false;
};

}  // namespace

void HttpServer::Impl::accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (stopping) {
      beast::error_code ignored;
      socket.close(ignored);
      return;
    }
    if (ec == asio::error::no_descriptors || ec.value() == ENFILE || ec.value() == ENOBUFS || ec.value() == ENOMEM) {
      // Out of file descriptors: re-arming at once would spin a core on the same
      // error while the pending connection stays queued. Make room by closing the
      // longest-idle connection, and try again a little later.
      bool first;
      {
        std::lock_guard lk(mu);
        ++stats.fd_exhausted;
        first = !fd_exhaustion_logged;
        fd_exhaustion_logged = true;
      }
      std::size_t open;
      {
        std::lock_guard lk(mu);
        open = sessions.size();
        // The descriptor limit is lower than the cap: from now on the cap is what
        // fits, so that further connections displace idle ones instead of failing.
        effective_max_connections = std::max<std::size_t>(16, std::min<std::size_t>(effective_max_connections.load(), open) * 9 / 10);
      }
      if (first)
        util::log::warn("accepting connections: out of file descriptors; backing off (logged once, counted in "
                        "cmop_http_accept_fd_exhausted_total)",
                        {{"error", ec.message()},
                         {"open_connections", open},
                         {"connection_cap_now", effective_max_connections.load()}});
      for (int i = 0; i < 8; ++i)
        if (!evict_idle()) break;
      accept_backoff.expires_after(std::chrono::milliseconds(20));
      accept_backoff.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && acceptor.is_open()) accept();
      });
      return;
    }
    if (!ec) on_accepted(std::move(socket));
    accept();
  });
}

void HttpServer::Impl::on_accepted(tcp::socket socket) {
  beast::error_code addr_ec;
  const auto peer = socket.remote_endpoint(addr_ec);
  const std::string client = addr_ec ? std::string("unknown") : peer.address().to_string();
  std::size_t open, mine = 0;
  {
    std::lock_guard lk(mu);
    open = sessions.size();
    if (auto it = per_client.find(client); it != per_client.end()) mine = it->second;
  }
  // One client at its own cap with every one of its connections busy: the new
  // connection is closed, or, when requests are told apart by trust, kept on
  // probation (a health probe or a client with credentials from the same address
  // still gets through; anything else is answered 503).
  bool probation = false;
  if (mine >= per_client_cap && !evict_idle(&client)) {
    if (!trust) {
      beast::error_code ignored;
      socket.close(ignored);
      std::lock_guard lk(mu);
      ++stats.refused_per_client;
      return;
    }
    probation = true;
  }
  if (open >= effective_max_connections && !evict_idle()) {
    // At the cap with every connection busy: this one is closed unanswered.
    beast::error_code ignored;
    socket.close(ignored);
    std::lock_guard lk(mu);
    ++stats.refused;
    return;
  }
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  std::make_shared<Session>(std::move(socket), this, client, probation)->start();
}

bool HttpServer::Impl::evict_idle(const std::string* client) {
  std::shared_ptr<Session> oldest;
  {
    std::lock_guard lk(mu);
    for (auto& [raw, weak] : sessions) {
      if (!raw->idle() || (client && raw->client() != *client)) continue;
      if (!oldest || raw->idle_since() < oldest->idle_since())
        if (auto s = weak.lock()) oldest = std::move(s);
    }
    if (!oldest) return false;
    ++stats.evicted;
  }
  oldest->evict();
  return true;
}

namespace {
// Half the soft RLIMIT_NOFILE (the rest is for clones, packages and the state
// dir), between 16 and 4096.
std::size_t default_max_connections() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 4096;
  return std::clamp<std::size_t>(static_cast<std::size_t>(rl.rlim_cur / 2), 16, 4096);
}
}  // namespace

HttpServer::HttpServer(const std::string& listen, HttpLimits limits, Handler handler, ResponseObserver observer,
                       Precheck precheck, Trust trust)
    : impl_(std::make_unique<Impl>()) {
  if (limits.max_connections == 0) limits.max_connections = default_max_connections();
  if (limits.max_connections_per_client == 0)
    limits.max_connections_per_client = std::max<std::size_t>(4, limits.max_connections / 4);
  if (limits.reserved_connections == 0) limits.reserved_connections = std::max<std::size_t>(2, limits.max_connections / 8);
  impl_->per_client_cap = limits.max_connections_per_client;
  impl_->reserve = limits.reserved_connections;
  impl_->trust = std::move(trust);
  impl_->limits = limits;
  impl_->effective_max_connections = limits.max_connections;
  impl_->handler = std::move(handler);
  impl_->observer = std::move(observer);
  impl_->precheck = std::move(precheck);
  const net::ListenAddress where = net::parse_listen_address(listen);
  beast::error_code ec;
  tcp::endpoint endpoint(asio::ip::make_address(where.host), where.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw Error(Errc::io, "listen address \"" + listen + "\"", "cannot listen: " + ec.message());
}

HttpServer::~HttpServer() {
  impl_->stopping = true;
  impl_->io.stop();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
}

void HttpServer::start(int threads) {
  asio::post(impl_->acceptor.get_executor(), [impl = impl_.get()] { impl->accept(); });
  for (int i = 0; i < std::max(1, threads); ++i) impl_->threads.emplace_back([impl = impl_.get()] { impl->io.run(); });
}

int HttpServer::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

ConnectionStats HttpServer::connection_stats() const {
  std::lock_guard lk(impl_->mu);
  ConnectionStats out = impl_->stats;
  out.open = impl_->sessions.size();
  out.limit = impl_->effective_max_connections;
  out.untrusted_in_progress = impl_->untrusted;
  return out;
}

std::string HttpServer::host() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  if (ec) return "127.0.0.1";
  auto addr = ep.address();
  if (addr.is_unspecified()) return addr.is_v6() ? "::1" : "127.0.0.1";
  return addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
}

bool HttpServer::shutdown(Clock::time_point deadline) {
  auto* impl = impl_.get();
  if (impl->stopping.exchange(true)) return true;
  asio::post(impl->acceptor.get_executor(), [impl] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
  {
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard lk(impl->mu);
      for (auto& [raw, weak] : impl->sessions)
        if (auto s = weak.lock()) live.push_back(std::move(s));
      impl->pending_stops += static_cast<int>(live.size());
    }
    for (auto& s : live) s->notice_stop();
  }
  bool drained;
  {
    std::unique_lock lk(impl->mu);
    drained = impl->cv.wait_until(lk, deadline, [impl] { return impl->pending_stops == 0 && impl->in_flight == 0; });
  }
  if (!drained) {
    // The grace is over: whoever still waits gets the documented 503 rather than a
    // connection closed under it.
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard lk(impl->mu);
      for (auto& [raw, weak] : impl->sessions)
        if (auto s = weak.lock()) live.push_back(std::move(s));
    }
    for (auto& s : live) s->abandon(json_error(503, "server: shutting down"));
    std::unique_lock lk(impl->mu);
    impl->cv.wait_for(lk, std::chrono::seconds(2), [impl] { return impl->in_flight == 0; });
  }
  // Let the last responses reach the wire before the threads stop.
  {
    std::unique_lock lk(impl->mu);
    impl->cv.wait_until(lk, std::max(std::min(deadline, Clock::now() + std::chrono::seconds(1)),
                                     Clock::now() + std::chrono::milliseconds(200)),
                        [impl] { return impl->sessions.empty(); });
  }
  impl->io.stop();
  for (auto& t : impl->threads)
    if (t.joinable()) t.join();
  return drained;
}

}  // namespace cmop::httpd
