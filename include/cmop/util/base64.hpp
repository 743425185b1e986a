#pragma once
// Base64 (RFC 4648) for HTTP basic auth, kubeconfig/Secret data and known_hosts.
#include <optional>
#include <string>
#include <string_view>

namespace cmop::util {

// Standard alphabet, with '=' padding.
std::string base64_encode(std::string_view in);

// Standard alphabet; trailing '=' padding is optional. `lenient` also takes the
// URL-safe alphabet ('-', '_') and skips '=' and line breaks or blanks anywhere,
// as base64 fields of kubeconfigs and Secrets are found in practice.
// nullopt when a character is outside the alphabet.
std::optional<std::string> base64_decode(std::string_view in, bool lenient = false);

}  // namespace cmop::util
