// Layering probe, compiled as part of the sidecar client: a role's header must not be found.
#include "cmop/operate/controller.hpp"
