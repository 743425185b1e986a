#pragma once
// The one test of "is this an HTTP URL" that flags and specs are checked with.
#include <string_view>

namespace cmop::util {

// Whether `url` starts with "http://" or "https://" (the scheme as written, lower
// case: what the HTTP client accepts). Says nothing about the rest of the URL.
bool is_http_url(std::string_view url);

}  // namespace cmop::util
