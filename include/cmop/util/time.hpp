#pragma once
// Timestamps in the RFC 3339 UTC form that Kubernetes, Helm's index.yaml and
// cmop's own state and logs use.
#include <chrono>
#include <string>

namespace cmop::util {

// "2026-01-02T03:04:05Z", with `fraction_digits` (0 to 9) digits of the second
// after a dot when non-zero ("...05.123Z" for 3).
std::string rfc3339(std::chrono::system_clock::time_point tp, int fraction_digits = 0);
std::string now_rfc3339(int fraction_digits = 0);

}  // namespace cmop::util
