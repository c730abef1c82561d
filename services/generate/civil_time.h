// Calendar arithmetic on UTC microseconds for the generator: proleptic Gregorian dates, no
// time zones, no leap seconds. Pure functions; no clock is read here.
#pragma once

#include <cstdint>
#include <string>

#include "common/time/clock.h"

namespace probity::generate {

inline constexpr Micros kMicrosPerSecond = 1'000'000;
inline constexpr Micros kMicrosPerHour = 3'600 * kMicrosPerSecond;
inline constexpr Micros kMicrosPerDay = 24 * kMicrosPerHour;

struct CivilDate {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
};

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). REQUIRES: a valid date.
int64_t DaysFromCivil(CivilDate date);
// Inverse of DaysFromCivil.
CivilDate CivilFromDays(int64_t days);

// Midnight UTC of the date, in microseconds since the epoch.
Micros MicrosFromCivil(int year, int month, int day);
// The date containing `t` (floor division, so times before 1970 work too).
CivilDate CivilFromMicros(Micros t);
// Midnight UTC of the day containing `t`.
Micros DayStart(Micros t);
// Midnight of the first day of the month `months` after the month containing `t` (may be negative).
Micros AddMonths(Micros month_start, int months);
// True when `t` is midnight UTC on the first of a month.
bool IsMonthStart(Micros t);
// 0 = Monday ... 6 = Sunday.
int DayOfWeek(Micros t);
// "2022-04-01T00:00:00Z" (whole seconds; sub-second part dropped).
std::string FormatRfc3339(Micros t);
// "20220401".
std::string FormatYmd(Micros t);

}  // namespace probity::generate
