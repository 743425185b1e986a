#pragma once
// Validation of names before they touch a path, a URL or a Kubernetes object.
#include <string_view>

namespace cmop::util {

// RFC 1123 label as Kubernetes uses it: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 chars.
bool is_dns1123_label(std::string_view s) noexcept;
// Throws Error(invalid_argument) naming `what` when `s` is not a DNS-1123 label.
void require_dns1123_label(std::string_view what, std::string_view s);

}  // namespace cmop::util
