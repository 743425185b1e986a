#include "cmop/operate/health_server.hpp"

#include <chrono>
#include <exception>
#include <optional>
#include <utility>

#include "cmop/httpd/http_server.hpp"

namespace cmop::operate {

struct HealthServer::Impl {
  std::unique_ptr<httpd::HttpServer> http;
};

namespace {

httpd::HttpResponse text(int status, std::string body) {
  httpd::HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

}  // namespace

// The shared transport (cmop/httpd/http_server.hpp) with its limits and timeouts; only
// GET and HEAD get past the head, so a probe endpoint never reads a request body.
HealthServer::HealthServer(const std::string& listen, Handler handler) : impl_(std::make_unique<Impl>()) {
  httpd::HttpLimits limits;
  limits.max_connections = 64;  // kubelet probes and one Prometheus scraper
  auto precheck = [](const httpd::HttpRequest& head) -> std::optional<httpd::HttpResponse> {
    if (head.method == "GET" || head.method == "HEAD") return std::nullopt;
    auto refusal = text(405, "method not allowed\n");
    refusal.headers.emplace_back("Allow", "GET, HEAD");
    return refusal;
  };
  auto answer = [handler = std::move(handler), precheck](httpd::HttpRequest req, httpd::Responder respond) {
    if (auto refusal = precheck(req)) return respond(std::move(*refusal));  // a bodiless POST skips the precheck
    const std::string path = req.target.substr(0, req.target.find('?'));
    HealthResponse r;
    try {
      r = handler(path);
    } catch (const std::exception& e) {
      r = {500, "text/plain; charset=utf-8", std::string(e.what()) + "\n"};
    }
    httpd::HttpResponse res = text(r.status, std::move(r.body));
    res.content_type = std::move(r.content_type);
    respond(std::move(res));
  };
  impl_->http = std::make_unique<httpd::HttpServer>(listen, limits, std::move(answer), httpd::ResponseObserver{}, precheck);
  impl_->http->start(1);
}

HealthServer::~HealthServer() { impl_->http->shutdown(std::chrono::steady_clock::now() + std::chrono::seconds(2)); }

int HealthServer::port() const { return impl_->http->port(); }

}  // namespace cmop::operate
