#include "cmop/operate/health_server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "cmop/error.hpp"
#include "cmop/net/listen_address.hpp"

namespace cmop::operate {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// One connection: read requests with a timeout, answer, keep-alive until the peer closes.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HealthServer::Handler& handler)
      : stream_(std::move(socket)), handler_(handler) {}
  void start() { read(); }

 private:
  void read() {
    request_ = {};
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->answer();
    });
  }
  void answer() {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(request_.version());
    res->keep_alive(request_.keep_alive());
    res->set(http::field::server, "cmop-operator");
    if (request_.method() != http::verb::get && request_.method() != http::verb::head) {
      res->result(http::status::method_not_allowed);
      res->set(http::field::allow, "GET, HEAD");
      res->body() = "method not allowed\n";
    } else {
      std::string target(request_.target());
      auto path = target.substr(0, target.find('?'));
      HealthResponse r;
      try {
        r = handler_(path);
      } catch (const std::exception& e) {
        r = {500, "text/plain; charset=utf-8", std::string(e.what()) + "\n"};
      }
      res->result(static_cast<unsigned>(r.status));
      res->set(http::field::content_type, r.content_type);
      if (request_.method() != http::verb::head) res->body() = std::move(r.body);
    }
    res->prepare_payload();
    stream_.expires_after(std::chrono::seconds(30));
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec || !res->keep_alive()) return self->close();
      self->read();
    });
  }
  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  const HealthServer::Handler& handler_;
};

}  // namespace

struct HealthServer::Impl {
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  Handler handler;
  std::thread thread;

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<Session>(std::move(socket), handler)->start();
      accept();
    });
  }
};

HealthServer::HealthServer(const std::string& listen, Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->handler = std::move(handler);
  const net::ListenAddress where = net::parse_listen_address(listen);
  beast::error_code ec;
  tcp::endpoint endpoint(asio::ip::make_address(where.host), where.port);
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw Error(Errc::io, "listen address \"" + listen + "\"", "cannot listen: " + ec.message());
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

HealthServer::~HealthServer() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int HealthServer::port() const { return impl_->acceptor.local_endpoint().port(); }

}  // namespace cmop::operate
