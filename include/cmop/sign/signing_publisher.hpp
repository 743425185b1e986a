#pragma once
// Signing every package on its way to a publish target.
#include <memory>

#include "cmop/publish/publisher.hpp"
#include "cmop/sign/provenance.hpp"

namespace cmop::sign {

// A publisher that sets each package's provenance (signed with `key` at the
// package's `created` time) and hands it to `inner`, which stores the .prov
// beside the chart. Everything else goes straight to `inner`.
std::unique_ptr<publish::Publisher> make_signing_publisher(std::shared_ptr<const SigningKey> key,
                                                           std::shared_ptr<publish::Publisher> inner);

}  // namespace cmop::sign
