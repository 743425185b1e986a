#include "cmop/util/url.hpp"

namespace cmop::util {

bool is_http_url(std::string_view url) { return url.substr(0, 7) == "http://" || url.substr(0, 8) == "https://"; }

}  // namespace cmop::util
