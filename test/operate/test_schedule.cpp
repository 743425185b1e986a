#include <catch2/catch.hpp>

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
