#pragma once
// The one test of "is this an HTTP URL" that flags and specs are checked with, and
// the origin credentials are scoped to.
#include <string>
#include <string_view>

namespace cmop::util {

// Whether `url` starts with "http://" or "https://" (the scheme as written, lower
// case: what the HTTP client accepts). Says nothing about the rest of the URL.
bool is_http_url(std::string_view url);

// "scheme://host[:port]" of an absolute URL, lower-cased and without userinfo:
// credentials for a URL go to its origin only (a redirect or an index's absolute
// chart URL elsewhere gets none). Empty when the URL has no scheme.
std::string url_origin(std::string_view url);

}  // namespace cmop::util
