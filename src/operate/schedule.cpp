#include "cmop/operate/schedule.hpp"

#include <array>

#include "cmop/error.hpp"

namespace cmop::operate {

std::string schedule_for_minutes(long m) {
  if (m < 1)
    throw Error(Errc::invalid_argument, "spec.updateEveryMinutes",
                "must be at least 1, got " + std::to_string(m));
  constexpr std::array<long, 12> kDivisorsOf60{1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60};
  constexpr std::array<long, 8> kDivisorsOf24{1, 2, 3, 4, 6, 8, 12, 24};
  if (m < 60) {
    for (long d : kDivisorsOf60) {
      if (d < m) continue;
      if (d == 1) return "* * * * *";
      if (d == 60) return "0 * * * *";
      return "*/" + std::to_string(d) + " * * * *";
    }
  }
  if (m < 1440) {
    long hours = (m + 59) / 60;
    for (long h : kDivisorsOf24) {
      if (h < hours) continue;
      if (h == 1) return "0 * * * *";
      if (h == 24) return "0 0 * * *";
      return "0 */" + std::to_string(h) + " * * *";
    }
  }
  long days = (m + 1439) / 1440;
  if (days == 1) return "0 0 * * *";
  if (days <= 28) return "0 0 */" + std::to_string(days) + " * *";
  long months = (days + 27) / 28;
  if (months >= 12) return "0 0 1 1 *";
  return "0 0 1 */" + std::to_string(months) + " *";
}

}  // namespace cmop::operate
