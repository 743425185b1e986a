#include "cmop/operate/schedule.hpp"

#include <array>

#include "cmop/error.hpp"
#include "cmop/util/hash.hpp"

namespace cmop::operate {

long schedule_offset(std::string_view spread_key) {
  if (spread_key.empty()) return 0;
  // SHA-256 rather than std::hash: the same key must give the same minute on every
  // operator build and platform, or an upgrade would move every schedule.
  const std::string digest = util::sha256_hex(spread_key);
  return static_cast<long>(std::stoull(digest.substr(0, 12), nullptr, 16) % 1440);
}

std::string schedule_for_minutes(long m, std::string_view spread_key) {
  if (m < 1)
    throw Error(Errc::invalid_argument, "spec.updateEveryMinutes",
                "must be at least 1, got " + std::to_string(m));
  constexpr std::array<long, 12> kDivisorsOf60{1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60};
  constexpr std::array<long, 8> kDivisorsOf24{1, 2, 3, 4, 6, 8, 12, 24};
  // Offsets within the period, so every gap between runs is the period itself.
  const long offset = schedule_offset(spread_key);
  const std::string minute = std::to_string(offset % 60);
  const std::string hour = std::to_string(offset / 60 % 24);
  if (m < 60) {
    for (long d : kDivisorsOf60) {
      if (d < m) continue;
      if (d == 1) return "* * * * *";
      if (d == 60) return minute + " * * * *";
      if (offset % d == 0) return "*/" + std::to_string(d) + " * * * *";
      return std::to_string(offset % d) + "-59/" + std::to_string(d) + " * * * *";
    }
  }
  if (m < 1440) {
    long hours = (m + 59) / 60;
    for (long h : kDivisorsOf24) {
      if (h < hours) continue;
      if (h == 1) return minute + " * * * *";
      if (h == 24) return minute + " " + hour + " * * *";
      const long first_hour = offset / 60 % h;
      if (first_hour == 0) return minute + " */" + std::to_string(h) + " * * *";
      return minute + " " + std::to_string(first_hour) + "-23/" + std::to_string(h) + " * * *";
    }
  }
  long days = (m + 1439) / 1440;
  if (days == 1) return minute + " " + hour + " * * *";
  if (days <= 28) return minute + " " + hour + " */" + std::to_string(days) + " * *";
  long months = (days + 27) / 28;
  if (months >= 12) return minute + " " + hour + " 1 1 *";
  return minute + " " + hour + " 1 */" + std::to_string(months) + " *";
}

}  // namespace cmop::operate
