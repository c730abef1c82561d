// Calendar arithmetic in UTC (proleptic Gregorian), shared by everything that reasons about
// event time: pure, constexpr where it can be, no time zone database and no global state.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "common/time/clock.h"

namespace probity::civil {

struct Civil {
  int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

// Floor division: correct for times before 1970 too. REQUIRES: b != 0.
constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// Days since 1970-01-01 of a civil date, and back (Howard Hinnant's algorithms).
constexpr int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

constexpr Civil CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

// "YYYY-MM-DDTHH:MM:SSZ" (whole seconds, UTC).
inline std::string FormatRfc3339(Micros t) {
  const int64_t day = FloorDiv(t, 86400LL * 1000000);
  const Civil c = CivilFromDays(day);
  const int64_t secs = FloorDiv(t - day * 86400LL * 1000000, 1000000);
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02d:%02d:%02dZ",
                static_cast<long long>(c.year), c.month, c.day, static_cast<int>(secs / 3600),
                static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60));
  return buf;
}

static_assert(DaysFromCivil(1970, 1, 1) == 0);
static_assert(DaysFromCivil(2022, 4, 1) == 19083);
static_assert(CivilFromDays(19083).year == 2022 && CivilFromDays(19083).month == 4);

}  // namespace probity::civil
