#include "cmop/util/time.hpp"

#include <cstdio>
#include <ctime>

namespace cmop::util {

std::string rfc3339(std::chrono::system_clock::time_point tp, int fraction_digits) {
  auto since_epoch = tp.time_since_epoch();
  auto secs = std::chrono::floor<std::chrono::seconds>(since_epoch);
  long long nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs).count();
  std::time_t t = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (fraction_digits > 0) {
    if (fraction_digits > 9) fraction_digits = 9;
    for (int i = fraction_digits; i < 9; ++i) nanos /= 10;
    n += static_cast<std::size_t>(std::snprintf(buf + n, sizeof buf - n, ".%0*lld", fraction_digits, nanos));
  }
  std::snprintf(buf + n, sizeof buf - n, "Z");
  return buf;
}

std::string now_rfc3339(int fraction_digits) { return rfc3339(std::chrono::system_clock::now(), fraction_digits); }

std::string rfc3339_nano(std::chrono::system_clock::time_point tp) {
  std::string text = rfc3339(tp, 9);  // "...05.120000000Z"
  text.pop_back();
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text + "Z";
}

std::optional<double> parse_rfc3339_seconds(std::string_view text) {
  if (text.size() < 20 || text.size() > 30 || text.back() != 'Z') return std::nullopt;
  std::string s(text.substr(0, 19));
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end || *end != '\0') return std::nullopt;
  double seconds = static_cast<double>(timegm(&tm));
  std::string_view rest = text.substr(19, text.size() - 20);
  if (!rest.empty()) {
    if (rest.front() != '.' || rest.size() < 2) return std::nullopt;
    double scale = 0.1;
    for (char c : rest.substr(1)) {
      if (c < '0' || c > '9') return std::nullopt;
      seconds += (c - '0') * scale;
      scale /= 10;
    }
  }
  return seconds;
}

}  // namespace cmop::util
