// Layering probe, compiled as part of serve: the core's headers and serve's own compile.
#include "cmop/serve/server.hpp"
#include "cmop/sync/workspace.hpp"
