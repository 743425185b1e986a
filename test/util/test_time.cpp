#include <catch2/catch.hpp>

#include "cmop/util/time.hpp"

using namespace cmop;
using namespace std::chrono;

TEST_CASE("RFC 3339 timestamps in UTC with the asked-for fraction of a second") {
  auto tp = system_clock::time_point(seconds(1767323045) + nanoseconds(123456789));  // 2026-01-02T03:04:05
  CHECK(util::rfc3339(tp) == "2026-01-02T03:04:05Z");
  CHECK(util::rfc3339(tp, 3) == "2026-01-02T03:04:05.123Z");
  CHECK(util::rfc3339(tp, 6) == "2026-01-02T03:04:05.123456Z");
  CHECK(util::rfc3339(tp, 9) == "2026-01-02T03:04:05.123456789Z");
  CHECK(util::rfc3339(system_clock::time_point(seconds(1767323045) + nanoseconds(5)), 9) ==
        "2026-01-02T03:04:05.000000005Z");
  CHECK(util::now_rfc3339().size() == 20);
}

TEST_CASE("Go's RFC3339Nano drops trailing zeros of the fraction, and a whole second's fraction") {
  CHECK(util::rfc3339_nano(system_clock::time_point(seconds(1767323045) + nanoseconds(123456789))) ==
        "2026-01-02T03:04:05.123456789Z");
  CHECK(util::rfc3339_nano(system_clock::time_point(seconds(1767323045) + milliseconds(120))) ==
        "2026-01-02T03:04:05.12Z");
  CHECK(util::rfc3339_nano(system_clock::time_point(seconds(1767323045) + nanoseconds(5))) ==
        "2026-01-02T03:04:05.000000005Z");
  CHECK(util::rfc3339_nano(system_clock::time_point(seconds(1767323040))) == "2026-01-02T03:04:00Z");
}

TEST_CASE("RFC 3339 timestamps read back to seconds since the epoch") {
  CHECK(util::parse_rfc3339_seconds("2026-01-02T03:04:05Z") == Approx(1767323045.0));
  CHECK(util::parse_rfc3339_seconds("2026-01-02T03:04:05.5Z") == Approx(1767323045.5));
  auto now = system_clock::now();
  CHECK(util::parse_rfc3339_seconds(util::rfc3339(now)) ==
        Approx(static_cast<double>(duration_cast<seconds>(now.time_since_epoch()).count())));
  for (const char* bad : {"", "2026-01-02", "2026-01-02T03:04:05", "2026-01-02T03:04:05+01:00", "2026-01-02T03:04:05.Z",
                          "2026-13-02T03:04:05Z", "2026-01-02T03:04:05.1xZ"})
    CHECK_FALSE(util::parse_rfc3339_seconds(bad).has_value());
}
