// Calendar arithmetic in UTC (proleptic Gregorian), shared by everything that reasons about
// event time: pure, constexpr where it can be, no time zone database and no global state.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

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

// "YYYY-MM-DD" of the day containing t (UTC).
inline std::string FormatDate(Micros t) { return FormatRfc3339(t).substr(0, 10); }

// The one date parser of every command line: exactly "YYYY-MM-DD" (ten characters, digits and
// two dashes) naming a real day of the proleptic Gregorian calendar. Returns 00:00 UTC of that
// day in µs since the epoch; nullopt for anything else ("2023-02-30", "2023-2-3", " 2023-02-03",
// "2023-02-03x").
constexpr std::optional<Micros> ParseDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  int64_t field[3] = {0, 0, 0};
  const size_t begin[3] = {0, 5, 8}, end[3] = {4, 7, 10};
  for (int f = 0; f < 3; ++f) {
    for (size_t i = begin[f]; i < end[f]; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      field[f] = field[f] * 10 + (s[i] - '0');
    }
  }
  if (field[1] < 1 || field[1] > 12 || field[2] < 1 || field[2] > 31) return std::nullopt;
  const auto m = static_cast<unsigned>(field[1]), d = static_cast<unsigned>(field[2]);
  const int64_t days = DaysFromCivil(field[0], m, d);
  const Civil back = CivilFromDays(days);  // 2023-02-30 comes back as 2023-03-02
  if (back.year != field[0] || back.month != m || back.day != d) return std::nullopt;
  return days * 86400LL * 1000000;
}

static_assert(DaysFromCivil(1970, 1, 1) == 0);
static_assert(DaysFromCivil(2022, 4, 1) == 19083);
static_assert(CivilFromDays(19083).year == 2022 && CivilFromDays(19083).month == 4);
static_assert(ParseDate("2022-04-01") == 19083 * 86400LL * 1000000);
static_assert(!ParseDate("2023-02-30") && !ParseDate("2023-2-03") && ParseDate("2024-02-29"));

}  // namespace probity::civil
