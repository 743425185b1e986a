#include "cmop/util/url.hpp"

#include <cctype>

namespace cmop::util {

bool is_http_url(std::string_view url) { return url.substr(0, 7) == "http://" || url.substr(0, 8) == "https://"; }

std::string url_origin(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  const auto host_end = url.find_first_of("/?#", scheme_end + 3);
  std::string_view authority = url.substr(scheme_end + 3, host_end == std::string_view::npos
                                                              ? std::string_view::npos
                                                              : host_end - scheme_end - 3);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string origin = std::string(url.substr(0, scheme_end)) + "://" + std::string(authority);
  for (char& c : origin) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return origin;
}

}  // namespace cmop::util
