#pragma once
// Secrets that must never reach logs, errors or unauthenticated API responses.
#include <string>
#include <string_view>

namespace cmop::util {

// The URL as it may be shown: a password in the userinfo becomes "***"
// (https://alice:***@host/...); a userinfo without a password is kept, since
// it is usually a user name rather than a token.
std::string redact_url(std::string_view url);

}  // namespace cmop::util
