#include <catch2/catch.hpp>
#include <set>
#include <sstream>
#include <vector>

#include "cmop/error.hpp"
#include "cmop/operate/schedule.hpp"

using cmop::operate::schedule_for_minutes;

TEST_CASE("updateEveryMinutes maps to the closest cron schedule that never runs more often") {
  struct Row {
    long minutes;
    const char* schedule;
  };
  const Row table[] = {
      {1, "* * * * *"},        {2, "*/2 * * * *"},      {5, "*/5 * * * *"},      {7, "*/10 * * * *"},
      {15, "*/15 * * * *"},    {25, "*/30 * * * *"},    {30, "*/30 * * * *"},    {31, "0 * * * *"},
      {45, "0 * * * *"},       {59, "0 * * * *"},       {60, "0 * * * *"},       {61, "0 */2 * * *"},
      {90, "0 */2 * * *"},     {120, "0 */2 * * *"},    {180, "0 */3 * * *"},    {300, "0 */6 * * *"},
      {360, "0 */6 * * *"},    {420, "0 */8 * * *"},    {720, "0 */12 * * *"},   {800, "0 0 * * *"},
      {1439, "0 0 * * *"},     {1440, "0 0 * * *"},     {1441, "0 0 */2 * *"},   {2880, "0 0 */2 * *"},
      {10080, "0 0 */7 * *"},  {40320, "0 0 */28 * *"}, {40321, "0 0 1 */2 *"},  {43200, "0 0 1 */2 *"},
      {1000000, "0 0 1 1 *"},
  };
  for (const auto& row : table) {
    INFO("updateEveryMinutes = " << row.minutes);
    CHECK(schedule_for_minutes(row.minutes) == row.schedule);
  }
}

TEST_CASE("updateEveryMinutes below 1 is refused") {
  CHECK_THROWS_AS(schedule_for_minutes(0), cmop::Error);
  CHECK_THROWS_AS(schedule_for_minutes(-5), cmop::Error);
}

namespace {

// Whether a cron field ("*", "n", "*/s", "a-b/s", or a comma list of those) matches v.
bool field_matches(const std::string& field, int v) {
  std::size_t start = 0;
  while (start <= field.size()) {
    auto comma = field.find(',', start);
    std::string part = field.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    int step = 1, lo = 0, hi = 1 << 20;
    if (auto slash = part.find('/'); slash != std::string::npos) {
      step = std::stoi(part.substr(slash + 1));
      part = part.substr(0, slash);
    }
    if (part != "*") {
      auto dash = part.find('-');
      lo = std::stoi(part.substr(0, dash));
      hi = dash == std::string::npos ? (step > 1 ? 1 << 20 : lo) : std::stoi(part.substr(dash + 1));
    }
    if (v >= lo && v <= hi && (v - lo) % step == 0) return true;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return false;
}

// The minutes (since 00:00 on day 1 of a 31-day month) at which the schedule fires.
std::vector<long> firings(const std::string& schedule, int days) {
  std::istringstream in(schedule);
  std::string minute, hour, dom, month, dow;
  in >> minute >> hour >> dom >> month >> dow;
  REQUIRE(month == "*");
  REQUIRE(dow == "*");
  std::vector<long> out;
  for (long t = 0; t < days * 1440L; ++t)
    if (field_matches(minute, static_cast<int>(t % 60)) && field_matches(hour, static_cast<int>(t / 60 % 24)) &&
        field_matches(dom, static_cast<int>(t / 1440 + 1)))
      out.push_back(t);
  return out;
}

}  // namespace

TEST_CASE("schedules are spread by a stable offset of the resource within the interval") {
  // Stable: the same key gives the same schedule on every build (these are fixed values).
  CHECK(cmop::operate::schedule_offset("team/web") == 1134);
  CHECK(schedule_for_minutes(15, "team/web") == "9-59/15 * * * *");
  CHECK(schedule_for_minutes(60, "team/web") == "54 * * * *");
  CHECK(schedule_for_minutes(90, "team/web") == "54 */2 * * *");
  CHECK(schedule_for_minutes(90, "platform/data") == "23 1-23/2 * * *");
  CHECK(schedule_for_minutes(1440, "team/web") == "54 18 * * *");
  CHECK(schedule_for_minutes(2880, "team/web") == "54 18 */2 * *");
  CHECK(schedule_for_minutes(1000000, "team/web") == "54 18 1 1 *");
  CHECK(schedule_for_minutes(1, "team/web") == "* * * * *");  // nothing to spread

  // Spread: 200 resources with the same 15-minute interval use every minute of it,
  // and 200 hourly ones at least 50 distinct minutes of the hour.
  std::set<std::string> quarter, hourly;
  for (int i = 0; i < 200; ++i) {
    std::string key = "ns-" + std::to_string(i % 7) + "/repo-" + std::to_string(i);
    quarter.insert(schedule_for_minutes(15, key));
    hourly.insert(schedule_for_minutes(60, key));
  }
  CHECK(quarter.size() == 15);
  CHECK(hourly.size() >= 50);

  // The gaps between runs are exactly the chosen period: spreading never makes a
  // resource sync more often than asked (simulated over a 28-day month).
  for (long minutes : {2L, 7L, 15L, 45L, 60L, 90L, 300L, 720L, 1440L}) {
    for (const char* key : {"team/web", "platform/data", "a/b", "x/y"}) {
      std::string schedule = schedule_for_minutes(minutes, key);
      INFO(minutes << " min, " << key << ": " << schedule);
      auto runs = firings(schedule, 28);
      REQUIRE(runs.size() >= 2);
      long gap = runs[1] - runs[0];
      CHECK(gap >= minutes);
      for (std::size_t i = 1; i < runs.size(); ++i) CHECK(runs[i] - runs[i - 1] == gap);
      // And the unspread schedule has the same period.
      auto plain = firings(schedule_for_minutes(minutes), 28);
      CHECK(plain[1] - plain[0] == gap);
    }
  }
}
