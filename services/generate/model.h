// Internal to probity_generate: the model of one practice that the generator plans and the
// anomaly kinds (anomaly.h) change: its claims plan per financial year, its monitoring visits,
// its register updates, and the calendar helpers they share. docs/generator.md describes it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/time/clock.h"
#include "probity/v1/events.pb.h"
#include "services/generate/civil_time.h"
#include "services/generate/random.h"
#include "services/generate/reference.h"

namespace probity::generate::internal {

class AnomalyKind;
class Injection;

inline constexpr Micros kDay = kMicrosPerDay;
inline constexpr Micros kHour = kMicrosPerHour;
inline constexpr Micros kSecond = kMicrosPerSecond;

// ---- Calendar helpers ----

// "YYYYMM" of the month containing t.
inline std::string Yyyymm(Micros t) { return FormatYmd(t).substr(0, 6); }
// Whole seconds in [lo, hi) (lo when the interval holds no whole second).
Micros UniformTime(Rng& rng, Micros lo, Micros hi);
// round(v * f).
int64_t ScaleRound(int64_t v, double f);
// Midnight of the first day of t's month.
Micros MonthFloor(Micros t);
// 1 April of the financial year containing t.
Micros FyStart(Micros t);
// Month index within the financial year (April = 0).
int FyMonth(Micros month_start);
// The first month start at or after `start`.
Micros FirstWholeMonth(Micros start);
// 10:00 UTC on t's day (the time of every monitoring visit).
inline Micros AtTen(Micros t) { return DayStart(t) + 10 * kHour; }
// Lower-case 16-digit hex.
std::string Hex16(uint64_t v);

// ---- Per-practice plans ----

// One claim to build. Period [start, end).
struct ClaimSpec {
  int column = -1;  // PaymentColumns index
  v1::PaymentStream stream = v1::PAYMENT_STREAM_UNSPECIFIED;
  std::string service_code;
  std::string indicator;
  std::string id_suffix;  // appended to "CLM-<practice>-<service>-<yyyymm>"
  Micros period_start = 0;
  Micros period_end = 0;
  int64_t quantity = 1;
  int64_t unit_price = 0;
  int64_t cohort = 0;
  double points = 0;
  double points_max = 0;
  std::string patient_ref;
};

// A financial year's payments for one practice, by FY month of the period END (0 = the period
// ending 1 May, ..., 11 = the period ending 1 April next year).
struct FyPlan {
  Micros fy_start = 0;
  std::array<std::vector<ClaimSpec>, 12> by_end_month;
};

struct PlannedVisit {
  Micros at = 0;
  v1::MonitoringVisitType type = v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW;
  v1::MonitoringOutcome outcome = v1::MONITORING_OUTCOME_SATISFACTORY;
  Micros notice = 0;
  Micros due = 0;
};

struct ListUpdate {
  Micros at = 0;
  int64_t list = 0;
  double weighted = 0;
};

struct Practice {
  Practice();
  ~Practice();
  Practice(Practice&&) noexcept;
  Practice& operator=(Practice&&) noexcept;

  PracticeRecord rec;
  double weighted_share = 0;  // of the national weighted list (all active practices)
  double referral_factor = 1;
  double contact_factor = 1;
  // Graded scenarios: the practice's own home-visit and out-of-hours shares relative to the
  // national shares (1 in the fixed scenario).
  double home_visit_factor = 1;
  double out_of_hours_factor = 1;
  // The injected anomaly: none (clean) while `anomaly` is null. `injection` is set once the
  // anomaly is planned; truth_index is its entry in the generator's truth.
  const AnomalyKind* anomaly = nullptr;
  int variant = 0;
  int grade = 0;  // graded scenarios: which magnitude of the kind (dealt round-robin)
  std::unique_ptr<Injection> injection;
  size_t truth_index = 0;
  std::vector<PlannedVisit> visits;  // sorted; those before params.start are historical
  std::vector<ListUpdate> list_updates;
  int64_t initial_list = 0;
};

// The claims of financial year `fy` (its 1 April) for practice p, from its reference payments
// (after p.injection's ColumnTotal, when it has one). Deterministic in (p, fy, seed).
FyPlan PlanFy(const Practice& p, Micros fy, uint64_t seed);

// A monthly lump-sum claim (global sum, PMS balance, premises, QOF aspiration...): one a month,
// no item price, not an adjustment.
bool IsMonthlyLump(const ClaimSpec& s);

}  // namespace probity::generate::internal
