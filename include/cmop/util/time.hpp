#pragma once
// Timestamps in the RFC 3339 UTC form that Kubernetes, Helm's index.yaml and
// cmop's own state and logs use.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace cmop::util {

// "2026-01-02T03:04:05Z", with `fraction_digits` (0 to 9) digits of the second
// after a dot when non-zero ("...05.123Z" for 3).
std::string rfc3339(std::chrono::system_clock::time_point tp, int fraction_digits = 0);
std::string now_rfc3339(int fraction_digits = 0);
// Go's time.RFC3339Nano in UTC, as Helm writes index.yaml's `generated`: up to nine
// digits of the second with trailing zeros dropped, none on a whole second.
std::string rfc3339_nano(std::chrono::system_clock::time_point tp);

// Seconds since the epoch of a "YYYY-MM-DDTHH:MM:SS[.fraction]Z" timestamp (the form
// above); nullopt for anything else.
std::optional<double> parse_rfc3339_seconds(std::string_view text);

}  // namespace cmop::util
