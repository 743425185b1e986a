// Layering probe, compiled as part of serve: another role's header must not be found.
#include "cmop/operate/controller.hpp"
