#include "cmop/net/listen_address.hpp"

#include <boost/asio/ip/address.hpp>

#include "cmop/error.hpp"

namespace cmop::net {

ListenAddress parse_listen_address(const std::string& listen) {
  const std::string subject = "listen address \"" + listen + "\"";
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw Error(Errc::invalid_argument, subject, "must be host:port");
  ListenAddress out;
  out.host = listen.substr(0, colon);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']')
    out.host = out.host.substr(1, out.host.size() - 2);
  if (out.host.empty()) out.host = "0.0.0.0";
  boost::system::error_code ec;
  boost::asio::ip::make_address(out.host, ec);
  if (ec) throw Error(Errc::invalid_argument, subject, "host is not an IP address: " + ec.message());
  const std::string port = listen.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535)
    throw Error(Errc::invalid_argument, subject, "port must be a number 0-65535");
  out.port = static_cast<std::uint16_t>(std::stoul(port));
  return out;
}

}  // namespace cmop::net
