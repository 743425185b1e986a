#pragma once
// The "host:port" a server listens on, checked once for every listener cmop opens
// (serve's API and the operator's health and metrics endpoint).
#include <cstdint>
#include <string>

namespace cmop::net {

struct ListenAddress {
  std::string host;  // an IP address literal, without brackets; "" in the text = 0.0.0.0
  std::uint16_t port = 0;  // 0 = any free port
};

// Parses "host:port", "[v6]:port" or ":port". Throws Error(invalid_argument) naming
// the address when it has no port, the host is not an IP address or the port is
// not a number 0-65535.
ListenAddress parse_listen_address(const std::string& listen);

}  // namespace cmop::net
