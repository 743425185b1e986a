#pragma once
#include <string>
#include <string_view>

namespace cmop::operate {

// The CronJob schedule for spec.updateEveryMinutes.
//
// Cron cannot express an arbitrary period: its fields reset at every hour, day and
// month boundary. So the mapping is exact where cron allows it and otherwise picks
// the closest schedule that never runs MORE often than asked (a repo polled a bit
// less often is harmless; one polled more often than its owner allowed is not):
//
//   m divides 60 (1,2,3,4,5,6,10,12,15,20,30) -> "*/m * * * *"  (m = 1: "* * * * *")
//   m < 60 otherwise       -> the next divisor of 60 above m      (7 -> */10, 45 -> hourly)
//   m = 60h, h divides 24  -> "0 */h * * *"  (h = 1: "0 * * * *", h = 24: "0 0 * * *")
//   60 < m < 1440 otherwise-> hours rounded up to the next divisor of 24 (90 -> every 2h,
//                             300 -> every 6h, 800 -> every 24h)
//   m >= 1440              -> days d = ceil(m / 1440): d = 1 daily "0 0 * * *";
//                             2 <= d <= 28 "0 0 */d * *" (runs on days 1, 1+d, ... of each
//                             month, so the gap across a month end can be shorter than d days:
//                             the one place the rule bends, as day-of-month restarts at 1);
//                             d > 28 -> every k = ceil(d / 28) months on the 1st,
//                             "0 0 1 */k *" (k >= 12: yearly "0 0 1 1 *").
// Throws Error(invalid_argument) for m < 1.
//
// `spread_key` (the resource's "<namespace>/<name>") shifts the schedule by a stable
// offset within its period, derived from a hash of the key, so resources with the
// same interval do not all fire in the same minute: */15 becomes "7-59/15 * * * *",
// hourly "42 * * * *", every 6 h "42 3-23/6 * * *", daily and longer "42 3 ...".
// The gaps between runs stay what they were. An empty key gives the schedules above.
std::string schedule_for_minutes(long minutes, std::string_view spread_key = {});

// The offset schedule_for_minutes applies: a stable number in [0, 1440) from the key.
long schedule_offset(std::string_view spread_key);

}  // namespace cmop::operate
