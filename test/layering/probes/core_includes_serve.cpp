// Layering probe, compiled as part of the core: a role's header must not be found.
#include "cmop/serve/server.hpp"
