// Layering probe, compiled as part of serve: serve is the sidecar and needs no client of it.
#include "cmop/sidecar/client.hpp"
