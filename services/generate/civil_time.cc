#include "services/generate/civil_time.h"

#include <cstdio>

namespace probity::generate {
namespace {

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

int64_t DaysFromCivil(CivilDate date) {
  int64_t y = date.year;
  const unsigned m = static_cast<unsigned>(date.month);
  const unsigned d = static_cast<unsigned>(date.day);
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

CivilDate CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return CivilDate{static_cast<int>(y + (m <= 2)), static_cast<int>(m), static_cast<int>(d)};
}

Micros MicrosFromCivil(int year, int month, int day) {
  return DaysFromCivil(CivilDate{year, month, day}) * kMicrosPerDay;
}

CivilDate CivilFromMicros(Micros t) { return CivilFromDays(FloorDiv(t, kMicrosPerDay)); }

Micros DayStart(Micros t) { return FloorDiv(t, kMicrosPerDay) * kMicrosPerDay; }

Micros AddMonths(Micros month_start, int months) {
  CivilDate c = CivilFromMicros(month_start);
  int64_t index = static_cast<int64_t>(c.year) * 12 + (c.month - 1) + months;
  int year = static_cast<int>(FloorDiv(index, 12));
  int month = static_cast<int>(index - static_cast<int64_t>(year) * 12) + 1;
  return MicrosFromCivil(year, month, 1);
}

bool IsMonthStart(Micros t) { return DayStart(t) == t && CivilFromMicros(t).day == 1; }

int DayOfWeek(Micros t) {
  // 1970-01-01 was a Thursday (3 when Monday is 0).
  int64_t days = FloorDiv(t, kMicrosPerDay);
  int64_t w = (days + 3) % 7;
  if (w < 0) w += 7;
  return static_cast<int>(w);
}

std::string FormatRfc3339(Micros t) {
  CivilDate c = CivilFromMicros(t);
  int64_t secs = FloorDiv(t - DayStart(t), kMicrosPerSecond);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day,
                static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                static_cast<int>(secs % 60));
  return buf;
}

std::string FormatYmd(Micros t) {
  CivilDate c = CivilFromMicros(t);
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d%02d%02d", c.year, c.month, c.day);
  return buf;
}

}  // namespace probity::generate
