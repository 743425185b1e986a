// Layering probe, compiled as part of the core: headers of the core compile.
#include "cmop/sync/workspace.hpp"
#include "deps/yaml_emit.hpp"
