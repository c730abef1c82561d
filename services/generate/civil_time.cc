#include "services/generate/civil_time.h"

#include <cstdio>

#include "common/time/civil.h"

namespace probity::generate {
using civil::FloorDiv;

int64_t DaysFromCivil(CivilDate date) {
  return civil::DaysFromCivil(date.year, static_cast<unsigned>(date.month),
                              static_cast<unsigned>(date.day));
}

CivilDate CivilFromDays(int64_t days) {
  const civil::Civil c = civil::CivilFromDays(days);
  return CivilDate{static_cast<int>(c.year), static_cast<int>(c.month), static_cast<int>(c.day)};
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

std::string FormatRfc3339(Micros t) { return civil::FormatRfc3339(t); }

std::string FormatYmd(Micros t) {
  CivilDate c = CivilFromMicros(t);
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d%02d%02d", c.year, c.month, c.day);
  return buf;
}

}  // namespace probity::generate
