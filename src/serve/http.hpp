#pragma once
// The serve layer's names for the shared HTTP transport (cmop/httpd/http_server.hpp):
// the API code speaks of requests, responses and responders without the net:: prefix.
#include "cmop/httpd/http_server.hpp"

namespace cmop::serve {
using httpd::code_for_status;
using httpd::ConnectionStats;
using httpd::Handler;
using httpd::HttpLimits;
using httpd::HttpRequest;
using httpd::HttpResponse;
using httpd::HttpServer;
using httpd::json_error;
using httpd::Precheck;
using httpd::Responder;
using httpd::ResponseObserver;
}  // namespace cmop::serve
