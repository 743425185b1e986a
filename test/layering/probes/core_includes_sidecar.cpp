// Layering probe, compiled as part of the core: the sidecar's client is above it.
#include "cmop/sidecar/client.hpp"
