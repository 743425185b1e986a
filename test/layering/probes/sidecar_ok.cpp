// Layering probe, compiled as part of the sidecar client: its own header and the core's compile.
#include "cmop/net/http_client.hpp"
#include "cmop/sidecar/client.hpp"
