#pragma once
// The operator's HTTP endpoint for /healthz, /readyz and /metrics on the shared
// transport (cmop/httpd/http_server.hpp): GET and HEAD only,
// one short response per request, served on its own thread.
#include <functional>
#include <memory>
#include <string>

namespace cmop::operate {

struct HealthResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HealthServer {
 public:
  using Handler = std::function<HealthResponse(const std::string& path)>;
  // listen is "host:port" (port 0 = any free port). Throws Error(io) when it cannot bind.
  HealthServer(const std::string& listen, Handler handler);
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmop::operate
