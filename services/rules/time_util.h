// Calendar arithmetic in UTC on event time (seconds since the Unix epoch). Pure functions.
#pragma once

#include <cstdint>

#include "common/time/civil.h"
#include "google/protobuf/timestamp.pb.h"

namespace probity::rules {

inline constexpr int64_t kSecondsPerDay = 86400;

inline int64_t ToSeconds(const google::protobuf::Timestamp& t) { return t.seconds(); }

using civil::Civil;
using civil::CivilFromDays;
using civil::DaysFromCivil;
using civil::FloorDiv;

inline int64_t DayOf(int64_t secs) { return FloorDiv(secs, kSecondsPerDay); }

// Month number: year * 12 + (month - 1).
inline int64_t MonthOf(int64_t secs) {
  Civil c = CivilFromDays(DayOf(secs));
  return c.year * 12 + (c.month - 1);
}
inline int64_t MonthStartSeconds(int64_t month) {
  return DaysFromCivil(FloorDiv(month, 12),
                       static_cast<unsigned>(month - FloorDiv(month, 12) * 12) + 1, 1) *
         kSecondsPerDay;
}
// Financial year (April to March) identified by the calendar year it starts in.
inline int64_t FinancialYearOf(int64_t secs) {
  Civil c = CivilFromDays(DayOf(secs));
  return c.month >= 4 ? c.year : c.year - 1;
}
inline int64_t FinancialYearOfMonth(int64_t month) {
  int64_t y = FloorDiv(month, 12);
  int64_t m = month - y * 12 + 1;
  return m >= 4 ? y : y - 1;
}
inline int64_t FinancialYearStartMonth(int64_t fy) { return fy * 12 + 3; }
inline int64_t FinancialYearStartSeconds(int64_t fy) {
  return DaysFromCivil(fy, 4, 1) * kSecondsPerDay;
}
inline int64_t QuarterStartMonth(int64_t month) {
  return month - (month - FloorDiv(month, 12) * 12) % 3;
}
// Same day-of-month `months` later, clamped to the month's end; time of day kept.
inline int64_t AddMonths(int64_t secs, int64_t months) {
  int64_t day = DayOf(secs);
  int64_t tod = secs - day * kSecondsPerDay;
  Civil c = CivilFromDays(day);
  int64_t m = c.year * 12 + (c.month - 1) + months;
  int64_t y = FloorDiv(m, 12);
  unsigned mo = static_cast<unsigned>(m - y * 12) + 1;
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  unsigned dim = kDays[mo - 1];
  if (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) dim = 29;
  unsigned d = c.day > dim ? dim : c.day;
  return DaysFromCivil(y, mo, d) * kSecondsPerDay + tod;
}

}  // namespace probity::rules
