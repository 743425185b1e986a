// Layering probe, compiled as part of the core: the HTTP server transport must not be found.
#include "cmop/httpd/http_server.hpp"
