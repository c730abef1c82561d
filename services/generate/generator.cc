#include "services/generate/generator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <set>
#include <string_view>
#include <unordered_map>

#include "common/bus/topics.h"
#include "common/time/proto_time.h"
#include "services/generate/random.h"
#include "services/generate/rule_kinds.h"

namespace probity::generate {
namespace {

constexpr Micros kDay = kMicrosPerDay;
constexpr Micros kHour = kMicrosPerHour;
constexpr Micros kSecond = kMicrosPerSecond;

// ---- Model constants (docs/generator.md explains each) ----
constexpr double kWeekdayWeight = 1.36;  // 5 * 1.36 + 2 * 0.1 = 7
constexpr double kWeekendWeight = 0.10;
// Patient-contact modes: face-to-face, telephone (25.2% + the 2.3% of unknown mode), video /
// online, home visit.
constexpr std::array<v1::ContactMode, 4> kModes = {
    v1::CONTACT_MODE_FACE_TO_FACE, v1::CONTACT_MODE_TELEPHONE, v1::CONTACT_MODE_VIDEO,
    v1::CONTACT_MODE_HOME_VISIT};
constexpr std::array<double, 4> kModeShares = {0.635, 0.252 + 0.023, 0.078, 0.012};
constexpr std::array<char, 4> kModeLetters = {'F', 'T', 'V', 'H'};
constexpr double kDnaShare = 0.041;        // of all contacts
constexpr double kOutOfHoursShare = 0.02;  // of all contacts
constexpr double kContactFactorSigma = 0.15;
// Referral practice factor: lognormal with p95/p5 = 2.5, clamped to [0.5, 2].
const double kReferralSigma = std::log(2.5) / (2 * 1.6448536);
constexpr double kTwoWeekWaitShare = 0.15;
constexpr double kUrgentShare = 0.10;
constexpr double kClaimPaidShare = 0.98;  // the rest APPROVED

// Anomaly magnitudes: a contract with services/rules (docs/generator.md).
constexpr double kCohortExcess = 1.3;
constexpr double kQofOverMax = 1.5;
constexpr int kLateDays = 200;
constexpr double kResubmitUplift = 1.25;
constexpr double kPaymentOutlierFactor = 2.5;
constexpr int64_t kPaymentOutlierMinList = 1000;
constexpr double kReferralOutlierFactor = 4.0;
constexpr double kContactOutlierFactor = 4.0;
constexpr double kValueShiftFactor = 1.8;
constexpr int kValueShiftMonths = 3;
constexpr double kListInflationFactor = 1.15;
constexpr int kOverdueDays = 913;  // 30 months
// Clean monitoring: gaps between visits 12..22 months; historical visit <= 18 months back.
constexpr int kVisitGapMinDays = 365;
constexpr int kVisitGapMaxDays = 670;
constexpr int kHistoricalMaxDays = 548;

struct QofIndicator {
  const char* code;
  double max_points;
};
constexpr QofIndicator kQofIndicators[] = {
    {"AF006", 12},   {"AF008", 12},  {"AST007", 20}, {"AST008", 15},  {"BP002", 15},
    {"CAN005", 2},   {"CHD005", 7},  {"CHD015", 10}, {"CHD016", 4},   {"CKD005", 9},
    {"COPD008", 2},  {"COPD010", 9}, {"CS005", 7},   {"DEM004", 16},  {"DM006", 3},
    {"DM012", 4},    {"DM014", 11},  {"DM020", 17},  {"DM021", 10},   {"DM022", 4},
    {"DM023", 2},    {"HF003", 10},  {"HF006", 9},   {"HF007", 6},    {"HYP003", 14},
    {"HYP007", 5},   {"LD004", 4},   {"MH002", 6},   {"MH003", 4},    {"MH006", 4},
    {"MH011", 4},    {"MH012", 4},   {"NDH002", 18}, {"SMOK002", 25}, {"SMOK004", 12},
    {"SMOK005", 25}, {"STIA007", 4}, {"STIA014", 2}, {"STIA015", 3},
};
constexpr int kNumQof = sizeof(kQofIndicators) / sizeof(kQofIndicators[0]);
constexpr double QofTotalMax() {
  double t = 0;
  for (const auto& q : kQofIndicators) t += q.max_points;
  return t;
}
static_assert(QofTotalMax() <= 635, "QOF maximum points exceed the 635-point framework");

struct Specialty {
  const char* name;
  const char* tfc;
  double weight;
};
constexpr Specialty kSpecialties[] = {
    {"GENERAL SURGERY", "100", 9},
    {"UROLOGY", "101", 6},
    {"TRAUMA AND ORTHOPAEDICS", "110", 12},
    {"ENT", "120", 7},
    {"OPHTHALMOLOGY", "130", 9},
    {"ORAL SURGERY", "140", 2},
    {"GASTROENTEROLOGY", "301", 8},
    {"CARDIOLOGY", "320", 7},
    {"DERMATOLOGY", "330", 8},
    {"RESPIRATORY MEDICINE", "340", 3},
    {"NEUROLOGY", "400", 4},
    {"RHEUMATOLOGY", "410", 3},
    {"PAEDIATRICS", "420", 4},
    {"GYNAECOLOGY", "502", 8},
    {"BREAST SURGERY", "103", 5},
    {"MENTAL HEALTH", "710", 3},
};
constexpr int kNumSpecialties = sizeof(kSpecialties) / sizeof(kSpecialties[0]);

enum Kind : int {
  kNone = -1,
  kDup = 0,
  kCohort,
  kQof,
  kLate,
  kPayOutlier,
  kReferral,
  kContact,
  kShift,
  kListInfl,
  kOverdue,
  kRemedial,
};
static_assert(kRemedial + 1 == static_cast<int>(kRuleKinds.size()));

// ---- Small helpers ----

std::string Hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string Yyyymm(Micros t) { return FormatYmd(t).substr(0, 6); }

// Whole seconds in [lo, hi).
Micros UniformTime(Rng& rng, Micros lo, Micros hi) {
  int64_t n = (hi - lo) / kSecond;
  if (n <= 0) return lo;
  return lo + rng.UniformInt(0, n - 1) * kSecond;
}

// Splits `total` into parts proportional to weights that sum exactly to total (largest
// remainder; ties to the lower index). REQUIRES: weights non-negative with a positive sum.
std::vector<int64_t> SplitExact(int64_t total, const std::vector<double>& weights) {
  const size_t n = weights.size();
  std::vector<int64_t> w(n);
  __int128 wsum = 0;
  for (size_t i = 0; i < n; ++i) {
    w[i] = static_cast<int64_t>(std::llround(weights[i] * 1e6));
    wsum += w[i];
  }
  std::vector<int64_t> out(n, 0);
  if (wsum == 0 || n == 0) {
    if (n > 0) out[0] = total;
    return out;
  }
  const bool neg = total < 0;
  const __int128 t = neg ? -static_cast<__int128>(total) : total;
  std::vector<std::pair<__int128, size_t>> rems(n);
  __int128 assigned = 0;
  for (size_t i = 0; i < n; ++i) {
    __int128 num = t * w[i];
    out[i] = static_cast<int64_t>(num / wsum);
    rems[i] = {num % wsum, i};
    assigned += out[i];
  }
  std::stable_sort(rems.begin(), rems.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t k = 0; assigned < t; ++k, ++assigned) out[rems[k % n].second] += 1;
  if (neg) {
    for (auto& v : out) v = -v;
  }
  return out;
}

int64_t ScaleRound(int64_t v, double f) {
  return static_cast<int64_t>(std::llround(static_cast<double>(v) * f));
}

Micros MonthFloor(Micros t) {
  CivilDate c = CivilFromMicros(t);
  return MicrosFromCivil(c.year, c.month, 1);
}

Micros FyStart(Micros t) {
  CivilDate c = CivilFromMicros(t);
  return MicrosFromCivil(c.month >= 4 ? c.year : c.year - 1, 4, 1);
}

// Month index within the financial year (April = 0).
int FyMonth(Micros month_start) {
  CivilDate c = CivilFromMicros(month_start);
  return (c.month + 8) % 12;
}

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
  PracticeRecord rec;
  double weighted_share = 0;  // of the national weighted list (all active practices)
  double referral_factor = 1;
  double contact_factor = 1;
  int kind = kNone;
  int variant = 0;
  // Anomaly specifics.
  Micros dup_orig_period = 0;  // duplicate: original LDHC claim's period start
  int64_t dup_patient = -1;    // duplicate: patient index in that FY
  Micros dup_period = 0;       // duplicate: the repeat's period start
  std::string cohort_service;  // exceeds cohort
  Micros cohort_period = 0;
  int qof_indicator = -1;  // qof over max
  Micros qof_fy = 0;
  std::string late_service;  // late / resubmitted
  Micros late_period = 0;
  Micros shift_from = 0;             // value shift: periods starting at or after this
  std::vector<PlannedVisit> visits;  // sorted; those before params.start are historical
  std::vector<ListUpdate> list_updates;
  int64_t initial_list = 0;
};

// Column totals after the payment-outlier scaling.
int64_t ColumnTotal(const Practice& p, int c) {
  int64_t v = p.rec.payments_pence[c];
  if (p.kind == kPayOutlier) v = ScaleRound(v, kPaymentOutlierFactor);
  return v;
}

std::string PatientRef(uint64_t seed, const std::string& practice, Micros fy, int64_t idx) {
  return "pt-" + Hex16(StableHash(practice + "/" + std::to_string(fy) + "/" + std::to_string(idx),
                                  seed ^ 0x70617469656e74ULL));
}

FyPlan PlanFy(const Practice& p, Micros fy, uint64_t seed) {
  FyPlan plan;
  plan.fy_start = fy;
  Rng rng = Rng::ForStream(seed, p.rec.practice_code, Mix64(static_cast<uint64_t>(fy) ^ 0xF7));
  const auto& cols = PaymentColumns();
  auto month_start = [&](int mi) { return AddMonths(fy, mi); };
  for (int c = 0; c < kNumPaymentColumns; ++c) {
    const PaymentColumn& col = cols[c];
    const int64_t total = ColumnTotal(p, c);
    if (total <= 0) continue;  // recoveries (negative annual figures) are not generated
    auto base = [&](Micros ps, Micros pe) {
      ClaimSpec s;
      s.column = c;
      s.stream = col.stream;
      s.service_code = col.service_code;
      s.period_start = ps;
      s.period_end = pe;
      return s;
    };
    auto add = [&](int end_month, ClaimSpec s) {
      plan.by_end_month[end_month].push_back(std::move(s));
    };
    // The pence an item price leaves over, claimed in March so that the year adds up exactly.
    auto add_adjustment = [&](int64_t rem) {
      if (rem <= 0) return;
      ClaimSpec s = base(month_start(11), month_start(12));
      s.id_suffix = "-ADJ";
      s.unit_price = rem;
      add(11, std::move(s));
    };
    switch (col.schedule) {
      case Schedule::kMonthly:
      case Schedule::kFluSeason: {
        const int first = col.schedule == Schedule::kFluSeason ? 5 : 0;  // September
        std::vector<double> w;
        static constexpr double kFlu[] = {0.10, 0.30, 0.25, 0.15, 0.08, 0.07, 0.05};
        for (int mi = first; mi < 12; ++mi) {
          w.push_back(col.schedule == Schedule::kFluSeason
                          ? kFlu[mi - first] * rng.Uniform(0.9, 1.1)
                      : col.unit_price_pence > 0 ? rng.Uniform(0.8, 1.2)
                                                 : rng.Uniform(0.97, 1.03));
        }
        if (col.unit_price_pence == 0) {
          auto parts = SplitExact(total, w);
          for (int mi = first; mi < 12; ++mi) {
            if (parts[mi - first] == 0) continue;
            ClaimSpec s = base(month_start(mi), month_start(mi + 1));
            s.unit_price = parts[mi - first];
            add(mi, std::move(s));
          }
        } else {
          const int64_t n = total / col.unit_price_pence;
          const int64_t rem = total % col.unit_price_pence;
          const double uptake = col.schedule == Schedule::kFluSeason ? rng.Uniform(0.70, 0.85)
                                                                     : rng.Uniform(0.75, 0.95);
          const int64_t cohort = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(n / uptake)));
          auto qty = SplitExact(n, w);
          for (int mi = first; mi < 12; ++mi) {
            if (qty[mi - first] == 0) continue;
            ClaimSpec s = base(month_start(mi), month_start(mi + 1));
            s.quantity = qty[mi - first];
            s.unit_price = col.unit_price_pence;
            s.cohort = cohort;
            add(mi, std::move(s));
          }
          add_adjustment(rem);
        }
        break;
      }
      case Schedule::kQuarterly: {
        std::vector<double> w;
        for (int q = 0; q < 4; ++q) w.push_back(rng.Uniform(0.9, 1.1));
        auto parts = SplitExact(total, w);
        for (int q = 0; q < 4; ++q) {
          if (parts[q] == 0) continue;
          ClaimSpec s = base(month_start(3 * q), month_start(3 * q + 3));
          s.unit_price = parts[q];
          add(3 * q + 2, std::move(s));
        }
        break;
      }
      case Schedule::kPerPatient: {
        const int64_t n = total / col.unit_price_pence;
        const int64_t rem = total % col.unit_price_pence;
        static constexpr double kLd[] = {0.05, 0.05, 0.05, 0.06, 0.06, 0.07,
                                         0.07, 0.08, 0.08, 0.13, 0.14, 0.16};
        std::vector<double> w(kLd, kLd + 12);
        auto qty = SplitExact(n, w);
        const int64_t cohort =
            std::max<int64_t>(1, static_cast<int64_t>(std::ceil(n / rng.Uniform(0.6, 0.85))));
        int64_t idx = 0;
        for (int mi = 0; mi < 12; ++mi) {
          for (int64_t k = 0; k < qty[mi]; ++k, ++idx) {
            ClaimSpec s = base(month_start(mi), month_start(mi + 1));
            s.id_suffix = "-" + std::to_string(idx);
            s.unit_price = col.unit_price_pence;
            s.cohort = cohort;
            s.patient_ref = PatientRef(seed, p.rec.practice_code, fy, idx);
            add(mi, std::move(s));
          }
        }
        add_adjustment(rem);
        break;
      }
      case Schedule::kQof: {
        const int64_t aspiration = total * 70 / 100;
        const int64_t achievement = total - aspiration;
        std::vector<double> w;
        for (int mi = 0; mi < 12; ++mi) w.push_back(rng.Uniform(0.97, 1.03));
        auto parts = SplitExact(aspiration, w);
        for (int mi = 0; mi < 12; ++mi) {
          if (parts[mi] == 0) continue;
          ClaimSpec s = base(month_start(mi), month_start(mi + 1));
          s.stream = v1::PAYMENT_STREAM_QOF_ASPIRATION;
          s.service_code = "QOFASP";
          s.unit_price = parts[mi];
          add(mi, std::move(s));
        }
        std::vector<double> points(kNumQof);
        for (int i = 0; i < kNumQof; ++i) {
          points[i] = std::floor(kQofIndicators[i].max_points * rng.Uniform(0.55, 1.0) * 100) / 100;
        }
        auto amounts = SplitExact(achievement, points);
        for (int i = 0; i < kNumQof; ++i) {
          if (amounts[i] == 0) continue;
          ClaimSpec s = base(fy, month_start(12));
          s.service_code = "QOF";
          s.indicator = kQofIndicators[i].code;
          s.id_suffix = std::string("-") + kQofIndicators[i].code;
          s.unit_price = amounts[i];
          s.points = points[i];
          s.points_max = kQofIndicators[i].max_points;
          add(11, std::move(s));
        }
        break;
      }
    }
  }
  return plan;
}

bool IsMonthlyLump(const ClaimSpec& s) {
  if (s.service_code == "QOFASP") return true;
  const PaymentColumn& col = PaymentColumns()[s.column];
  return col.schedule == Schedule::kMonthly && col.unit_price_pence == 0 && s.id_suffix.empty();
}

}  // namespace

// ---- The generator ----

struct Generator::Impl {
  GeneratorParams params;
  std::vector<Practice> practices;  // sorted by code
  std::vector<TruthEntry> truth;
  RunStats stats;

  // Run state.
  struct Pending {
    Micros t = 0;
    uint64_t seq = 0;
    std::string_view topic;
    v1::Envelope env;
    std::string remember_as;     // remember this event's id under this name
    std::string supersedes_ref;  // set supersedes_event_id to the id remembered under this name
  };
  Sink* sink = nullptr;
  uint64_t seq = 0;
  uint64_t ubrn_counter = 0;
  int64_t emitted = 0;
  std::unordered_map<std::string, std::string> remembered;
  std::map<std::pair<Micros, uint64_t>, Pending> pending_claims;
  std::vector<FyPlan> fy_plans;  // per practice, the FY last planned

  Status Plan(const std::vector<PracticeRecord>& reference);
  void PlanVisits(Practice& p);
  void PlanListUpdates(Practice& p);
  bool Eligible(const Practice& p, int kind, int variant) const;
  void PlanAnomaly(Practice& p, int ordinal);

  v1::Envelope Base(v1::EventKind kind, const Practice& p, Micros occurred, Micros recorded,
                    const char* source) const {
    v1::Envelope e;
    e.set_kind(kind);
    e.set_schema_version(1);
    e.set_practice_code(p.rec.practice_code);
    SetTimestamp(e.mutable_occurred_at(), occurred);
    SetTimestamp(e.mutable_recorded_at(), recorded);
    e.set_source_system(source);
    return e;
  }
  Pending Make(std::string_view topic, v1::Envelope env) {
    Pending pe;
    pe.t = FromTimestamp(env.occurred_at());
    pe.seq = seq++;
    pe.topic = topic;
    pe.env = std::move(env);
    return pe;
  }
  v1::Envelope RegisterEvent(const Practice& p, Micros at, int64_t list, double weighted) const;
  v1::Envelope VisitEvent(const Practice& p, const PlannedVisit& v) const;
  void ClaimsEndingAt(Practice& p, size_t pi, Micros boundary);
  void DayActivity(const Practice& p, Micros day, std::vector<Pending>* out);
  Status Emit(Pending& pe);
  Status RunAll(Sink* s, const ProgressFn& progress);
};

Status Generator::Impl::Plan(const std::vector<PracticeRecord>& reference) {
  const GeneratorParams& pr = params;
  if (pr.end <= pr.start || DayStart(pr.start) != pr.start || DayStart(pr.end) != pr.end) {
    return InvalidArgument("generator: start and end must be midnight UTC with end > start");
  }
  if (!(pr.practice_fraction > 0 && pr.practice_fraction <= 1)) {
    return InvalidArgument("generator: practice_fraction must be in (0, 1]");
  }
  if (!(pr.volume_fraction >= 0) || !(pr.referrals_per_day >= 0) || !(pr.contacts_per_day >= 0)) {
    return InvalidArgument("generator: volumes must be non-negative");
  }
  if (!(pr.anomaly_share >= 0 && pr.anomaly_share <= 0.5)) {
    return InvalidArgument("generator: anomaly_share must be in [0, 0.5]");
  }
  double national_weighted = 0;
  std::map<std::string, const PracticeRecord*> active;
  for (const auto& r : reference) {
    if (!IsActivePractice(r)) continue;
    national_weighted += r.weighted_list_size;
    active.emplace(r.practice_code, &r);
  }
  std::set<std::string> wanted(pr.practice_codes.begin(), pr.practice_codes.end());
  for (const auto& code : wanted) {
    if (!active.count(code)) {
      return InvalidArgument("generator: practice " + code +
                             " is not an active practice of the reference");
    }
  }
  for (const auto& [code, rec] : active) {
    bool take = wanted.empty()
                    ? static_cast<double>(StableHash(code, 0x73656c656374ULL) >> 11) * 0x1.0p-53 <
                          pr.practice_fraction
                    : wanted.count(code) > 0;
    if (!take) continue;
    Practice p;
    p.rec = *rec;
    p.weighted_share = rec->weighted_list_size / national_weighted;
    p.initial_list = std::llround(rec->list_size);
    Rng rng = Rng::ForStream(pr.seed, code, 0xFAC7);
    p.referral_factor =
        std::clamp(rng.LogNormal(-kReferralSigma * kReferralSigma / 2, kReferralSigma), 0.5, 2.0);
    p.contact_factor = std::clamp(
        rng.LogNormal(-kContactFactorSigma * kContactFactorSigma / 2, kContactFactorSigma), 0.6,
        1.6);
    practices.push_back(std::move(p));
  }
  if (practices.empty()) return InvalidArgument("generator: no practices selected");

  // Anomalies: dealt round-robin over the kinds to practices in a seeded shuffled order.
  const int64_t n = static_cast<int64_t>(practices.size());
  const int kinds = static_cast<int>(kRuleKinds.size());
  int64_t count = 0;
  if (pr.anomaly_share > 0) {
    const int64_t per_kind = n >= kinds * 3 * 10 ? 3 : 1;
    count = std::max<int64_t>(std::llround(pr.anomaly_share * n), kinds * per_kind);
    count = std::min<int64_t>(count, n / 2);
  }
  std::vector<size_t> order(practices.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::vector<uint64_t> keys(practices.size());
  for (size_t i = 0; i < practices.size(); ++i) {
    keys[i] = StableHash(practices[i].rec.practice_code, pr.seed ^ 0x616e6f6dULL);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
  std::array<int, 11> per_kind_count{};
  int64_t assigned = 0;
  int stalled = 0;
  for (int k = 0; assigned < count && stalled < kinds; k = (k + 1) % kinds) {
    bool found = false;
    for (size_t idx : order) {
      Practice& p = practices[idx];
      if (p.kind != kNone) continue;
      const int variant = per_kind_count[k] % 2;
      if (!Eligible(p, k, variant)) continue;
      p.kind = k;
      p.variant = variant;
      ++per_kind_count[k];
      ++assigned;
      found = true;
      break;
    }
    stalled = found ? 0 : stalled + 1;
  }
  // Truth in assignment order is hard to keep with the loop above; emit it in kind order, then
  // practice-code order, which is as deterministic and easier to read.
  for (int k = 0; k < kinds; ++k) {
    int ordinal = 0;
    for (auto& p : practices) {
      if (p.kind == k) PlanAnomaly(p, ordinal++);
    }
  }
  for (auto& p : practices) {
    PlanVisits(p);
    PlanListUpdates(p);
  }
  return Status::Ok();
}

bool Generator::Impl::Eligible(const Practice& p, int kind, int variant) const {
  const Micros start = params.start, end = params.end;
  const Micros first_month = IsMonthStart(start) ? start : AddMonths(DayStart(start), 1);
  auto in_range = [&](const ClaimSpec& s) {
    return s.period_start >= start && s.period_end <= end;
  };
  auto plan = [&]() { return PlanFy(p, FyStart(first_month), params.seed); };
  switch (kind) {
    case kDup: {
      FyPlan fp = plan();
      for (const auto& v : fp.by_end_month) {
        for (const auto& s : v) {
          if (s.service_code == "LDHC" && !s.patient_ref.empty() && in_range(s) &&
              AddMonths(s.period_start, 4) <= end &&
              FyStart(AddMonths(s.period_start, 3)) == fp.fy_start) {
            return true;
          }
        }
      }
      return false;
    }
    case kCohort: {
      FyPlan fp = plan();
      for (const auto& v : fp.by_end_month) {
        for (const auto& s : v) {
          if (s.cohort > 0 && s.service_code != "LDHC" && s.id_suffix.empty() && in_range(s))
            return true;
        }
      }
      return false;
    }
    case kQof: {
      FyPlan fp = plan();
      for (const auto& s : fp.by_end_month[11]) {
        if (!s.indicator.empty() && in_range(s)) return true;
      }
      return false;
    }
    case kLate:
    case kShift: {
      const Micros month =
          kind == kLate ? AddMonths(first_month, variant) : AddMonths(first_month, 0);
      if (kind == kShift && AddMonths(first_month, 3 + kValueShiftMonths) > MonthFloor(end))
        return false;
      if (kind == kLate && AddMonths(month, 1) > end) return false;
      FyPlan fp = PlanFy(p, FyStart(month), params.seed);
      for (const auto& v : fp.by_end_month) {
        for (const auto& s : v) {
          if (IsMonthlyLump(s) && s.period_start == month) return true;
        }
      }
      return false;
    }
    case kPayOutlier:
      return p.rec.list_size >= kPaymentOutlierMinList;
    case kListInfl: {
      for (Micros m = AddMonths(first_month, 0); m < end; m = AddMonths(m, 1)) {
        if (m > start && FyMonth(m) % 3 == 0) return true;
      }
      return false;
    }
    case kRemedial:
      return end - start >= 120 * kDay;
    default:
      return true;
  }
}

void Generator::Impl::PlanAnomaly(Practice& p, int ordinal) {
  const Micros start = params.start, end = params.end;
  const Micros first_month = IsMonthStart(start) ? start : AddMonths(DayStart(start), 1);
  Rng rng = Rng::ForStream(params.seed, p.rec.practice_code, 0xA40A);
  TruthEntry t;
  t.practice_code = p.rec.practice_code;
  t.rule_kind = std::string(kRuleKinds[p.kind]);
  t.window_start = start;
  t.window_end = end;
  const std::string& code = p.rec.practice_code;
  auto in_range = [&](const ClaimSpec& s) {
    return s.period_start >= start && s.period_end <= end;
  };
  switch (p.kind) {
    case kDup: {
      FyPlan fp = PlanFy(p, FyStart(first_month), params.seed);
      for (const auto& v : fp.by_end_month) {
        for (const auto& s : v) {
          if (p.dup_patient < 0 && s.service_code == "LDHC" && !s.patient_ref.empty() &&
              in_range(s) && AddMonths(s.period_start, 4) <= end &&
              FyStart(AddMonths(s.period_start, 3)) == fp.fy_start) {
            p.dup_orig_period = s.period_start;
            p.dup_patient = std::stoll(s.id_suffix.substr(1));
            p.dup_period = AddMonths(s.period_start, 3);
            t.detail = "LDHC claim CLM-" + code + "-LDHC-" + Yyyymm(s.period_start) + s.id_suffix +
                       " for patient " + s.patient_ref + " repeated as CLM-" + code + "-LDHC-" +
                       Yyyymm(p.dup_period) + s.id_suffix + " three months later";
            t.window_start = s.period_start;
            t.window_end = AddMonths(p.dup_period, 1) + 30 * kDay;
          }
        }
      }
      break;
    }
    case kCohort: {
      FyPlan fp = PlanFy(p, FyStart(first_month), params.seed);
      // Prefer flu (October), else the first item claim in range.
      const ClaimSpec* pick = nullptr;
      for (const auto& v : fp.by_end_month) {
        for (const auto& s : v) {
          if (s.cohort > 0 && s.service_code != "LDHC" && s.id_suffix.empty() && in_range(s)) {
            if (pick == nullptr || (s.service_code == "FLU" && pick->service_code != "FLU"))
              pick = &s;
          }
        }
      }
      p.cohort_service = pick->service_code;
      p.cohort_period = pick->period_start;
      const int64_t q = static_cast<int64_t>(std::ceil(kCohortExcess * pick->cohort));
      t.detail = "claim CLM-" + code + "-" + pick->service_code + "-" + Yyyymm(pick->period_start) +
                 " quantity " + std::to_string(q) + " against an eligible cohort of " +
                 std::to_string(pick->cohort) + " (1.3x)";
      t.window_start = pick->period_start;
      t.window_end = pick->period_end;
      break;
    }
    case kQof: {
      FyPlan fp = PlanFy(p, FyStart(first_month), params.seed);
      std::vector<const ClaimSpec*> cands;
      for (const auto& s : fp.by_end_month[11]) {
        if (!s.indicator.empty() && in_range(s)) cands.push_back(&s);
      }
      const ClaimSpec* s = cands[rng.UniformInt(0, static_cast<int64_t>(cands.size()) - 1)];
      p.qof_indicator = -1;
      for (int i = 0; i < kNumQof; ++i) {
        if (s->indicator == kQofIndicators[i].code) p.qof_indicator = i;
      }
      p.qof_fy = fp.fy_start;
      char points[64];
      std::snprintf(points, sizeof(points), "%.2f points against a maximum of %.2f",
                    kQofOverMax * s->points_max, s->points_max);
      t.detail = "QOF indicator " + s->indicator + " claimed at " + points + " (1.5x), claim CLM-" +
                 code + "-QOF-" + Yyyymm(fp.fy_start) + s->id_suffix;
      t.window_start = s->period_start;
      t.window_end = s->period_end;
      break;
    }
    case kLate: {
      const Micros month = AddMonths(first_month, p.variant);
      FyPlan fp = PlanFy(p, FyStart(month), params.seed);
      const ClaimSpec* pick = nullptr;
      for (const auto& v : fp.by_end_month) {
        for (const auto& s : v) {
          if (pick == nullptr && IsMonthlyLump(s) && s.period_start == month) pick = &s;
        }
      }
      p.late_service = pick->service_code;
      p.late_period = month;
      const std::string id = "CLM-" + code + "-" + pick->service_code + "-" + Yyyymm(month);
      if (p.variant == 0) {
        t.detail = "claim " + id + " submitted 200 days after its period ended";
        t.window_start = pick->period_start;
        t.window_end = pick->period_end + (kLateDays + 1) * kDay;
      } else {
        t.detail = "PAID claim " + id + " resubmitted with a new event id and amount +25%";
        t.window_start = pick->period_start;
        t.window_end = pick->period_end + 75 * kDay;
      }
      break;
    }
    case kPayOutlier:
      t.detail = "every payment stream claimed at 2.5x the practice's real 2022-23 figures";
      break;
    case kReferral:
      p.referral_factor = kReferralOutlierFactor;
      t.detail = "referrals at 4x the national rate per weighted patient (practice factor 4.0)";
      break;
    case kContact:
      t.detail = p.variant == 0 ? "home visits at 4x the national share (4.8% of contacts)"
                                : "out-of-hours contacts at 4x the national share (8% of contacts)";
      break;
    case kShift: {
      const Micros last_month_end = MonthFloor(end);
      p.shift_from = AddMonths(last_month_end, -kValueShiftMonths);
      t.detail =
          "monthly claims (global sum, PMS balance, premises, QOF aspiration...) +80% for "
          "the last 3 months of the range, from " +
          FormatRfc3339(p.shift_from);
      t.window_start = p.shift_from;
      t.window_end = last_month_end + 30 * kDay;
      break;
    }
    case kListInfl:
      t.detail = "registered list +15% in one quarter with no merger";
      break;  // window set in PlanListUpdates
    case kOverdue:
      t.detail = "last contract-monitoring visit 30 months before the range start; none during it";
      t.window_start = start - kOverdueDays * kDay + 10 * kHour;
      break;
    case kRemedial:
      t.detail = "remedial notice issued with no follow-up visit by its due date";
      break;  // window set in PlanVisits
  }
  (void)ordinal;
  truth.push_back(std::move(t));
}

void Generator::Impl::PlanVisits(Practice& p) {
  const Micros start = params.start, end = params.end;
  Rng rng = Rng::ForStream(params.seed, p.rec.practice_code, 0x7151);
  auto at_ten = [](Micros t) { return DayStart(t) + 10 * kHour; };
  auto days = [&](int lo, int hi) { return rng.UniformInt(lo, hi) * kDay; };
  TruthEntry* entry = nullptr;
  for (auto& t : truth) {
    if (t.practice_code == p.rec.practice_code) entry = &t;
  }
  if (p.kind == kOverdue) {
    p.visits.push_back({at_ten(start - kOverdueDays * kDay),
                        v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW,
                        v1::MONITORING_OUTCOME_SATISFACTORY, 0, 0});
    return;
  }
  if (p.kind == kRemedial) {
    p.visits.push_back({at_ten(start - days(1, 270)), v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW,
                        v1::MONITORING_OUTCOME_SATISFACTORY, 0, 0});
    const int64_t range_days = (end - start) / kDay;
    const int64_t latest = std::max<int64_t>(31, range_days - 90);
    const Micros notice = at_ten(start + rng.UniformInt(30, latest) * kDay);
    const Micros due = std::min(notice + 60 * kDay, DayStart(end) - kDay);
    p.visits.push_back({notice, v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW,
                        v1::MONITORING_OUTCOME_REMEDIAL_NOTICE, notice, due});
    entry->detail = "remedial notice issued at visit MV-" + p.rec.practice_code + "-" +
                    FormatYmd(notice) + ", remedy due " + FormatRfc3339(due) +
                    "; no follow-up visit by then";
    entry->window_start = notice;
    entry->window_end = due;
    return;
  }
  Micros last = at_ten(start - days(1, kHistoricalMaxDays));
  p.visits.push_back(
      {last, v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW, v1::MONITORING_OUTCOME_SATISFACTORY, 0, 0});
  Micros t = last + days(kVisitGapMinDays, kVisitGapMaxDays);
  if (t < start) t = at_ten(start + days(0, 30));
  while (t < end) {
    PlannedVisit v;
    v.at = t;
    v.type = rng.Bernoulli(0.25) ? v1::MONITORING_VISIT_TYPE_QOF_PPV
                                 : v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW;
    const double r = rng.Uniform01();
    if (t + 120 * kDay < end && r < 0.06) {
      v.outcome = v1::MONITORING_OUTCOME_REMEDIAL_NOTICE;
      v.notice = t;
      v.due = t + 90 * kDay;
      p.visits.push_back(v);
      PlannedVisit f;
      f.at = t + days(30, 80);
      f.type = v1::MONITORING_VISIT_TYPE_REMEDIAL_FOLLOW_UP;
      f.outcome = v1::MONITORING_OUTCOME_RESOLVED;
      p.visits.push_back(f);
      last = f.at;
    } else {
      v.outcome = r < 0.20 ? v1::MONITORING_OUTCOME_CONCERNS : v1::MONITORING_OUTCOME_SATISFACTORY;
      p.visits.push_back(v);
      last = t;
    }
    t = last + days(kVisitGapMinDays, kVisitGapMaxDays);
  }
}

void Generator::Impl::PlanListUpdates(Practice& p) {
  const Micros start = params.start, end = params.end;
  Rng rng = Rng::ForStream(params.seed, p.rec.practice_code, 0x1157);
  std::vector<Micros> quarters;
  Micros m = IsMonthStart(start) ? AddMonths(start, 1) : AddMonths(DayStart(start), 1);
  for (; m < end; m = AddMonths(m, 1)) {
    if (FyMonth(m) % 3 == 0) quarters.push_back(m);
  }
  int inflate = -1;
  if (p.kind == kListInfl && !quarters.empty()) inflate = static_cast<int>(quarters.size() / 2);
  int64_t list = p.initial_list;
  const double ratio = p.rec.weighted_list_size / p.rec.list_size;
  for (int i = 0; i < static_cast<int>(quarters.size()); ++i) {
    int64_t next;
    if (i == inflate) {
      next = std::llround(list * kListInflationFactor);
      for (auto& t : truth) {
        if (t.practice_code == p.rec.practice_code) {
          t.detail = "registered list raised from " + std::to_string(list) + " to " +
                     std::to_string(next) + " (+15%) at " + FormatRfc3339(quarters[i]) +
                     " with no merger";
          t.window_start = quarters[i];
          t.window_end = i + 1 < static_cast<int>(quarters.size()) ? quarters[i + 1] : end;
        }
      }
    } else {
      const double f = 1 + std::clamp(rng.Normal(0.003, 0.006), -0.019, 0.019);
      next = std::llround(list * f);
      if (std::llabs(next - list) * 50 >= list) next = list;  // keep clean drift under 2%
    }
    list = std::max<int64_t>(1, next);
    p.list_updates.push_back({quarters[i] + 6 * kHour, list, list * ratio});
  }
}

v1::Envelope Generator::Impl::RegisterEvent(const Practice& p, Micros at, int64_t list,
                                            double weighted) const {
  v1::Envelope e = Base(v1::EVENT_KIND_PRACTICE_UPDATE, p, at, at + 60 * kSecond, "register");
  auto* u = e.mutable_practice_update();
  u->set_practice_name(p.rec.practice_name);
  u->set_list_size(list);
  u->set_weighted_list_size(std::round(weighted * 100) / 100);
  u->set_region_code(p.rec.region_code);
  u->set_icb_code(p.rec.icb_code);
  u->set_sub_icb_code(p.rec.sub_icb_code);
  u->set_contract_type(p.rec.contract_type);
  u->set_dispensing(p.rec.dispensing);
  u->set_rurality(p.rec.rurality);
  return e;
}

v1::Envelope Generator::Impl::VisitEvent(const Practice& p, const PlannedVisit& v) const {
  v1::Envelope e =
      Base(v1::EVENT_KIND_MONITORING_VISIT, p, v.at, v.at + 2 * kDay, "contract-monitoring");
  auto* m = e.mutable_monitoring_visit();
  m->set_visit_id("MV-" + p.rec.practice_code + "-" + FormatYmd(v.at));
  m->set_type(v.type);
  m->set_outcome(v.outcome);
  if (v.notice != 0) SetTimestamp(m->mutable_notice_issued_at(), v.notice);
  if (v.due != 0) SetTimestamp(m->mutable_remedy_due_at(), v.due);
  return e;
}

// Builds the claims whose period ends at `boundary` (a month start) and queues them.
void Generator::Impl::ClaimsEndingAt(Practice& p, size_t pi, Micros boundary) {
  const Micros month = AddMonths(boundary, -1);
  const Micros fy = FyStart(month);
  if (fy_plans[pi].fy_start != fy) fy_plans[pi] = PlanFy(p, fy, params.seed);
  const auto& specs = fy_plans[pi].by_end_month[FyMonth(month)];
  Rng rng = Rng::ForStream(params.seed, p.rec.practice_code,
                           Mix64(static_cast<uint64_t>(boundary) ^ 0xC1A1));
  const std::string& code = p.rec.practice_code;
  auto queue = [&](ClaimSpec s, Micros occurred, v1::ClaimStatus status, std::string remember,
                   std::string supersedes, const std::string& claim_id) {
    v1::Envelope e = Base(v1::EVENT_KIND_CLAIM, p, occurred,
                          occurred + rng.UniformInt(1, 600) * kSecond, "cqrs");
    auto* c = e.mutable_claim();
    c->set_claim_id(claim_id);
    c->set_stream(s.stream);
    c->set_service_code(s.service_code);
    c->set_indicator_code(s.indicator);
    SetTimestamp(c->mutable_period_start(), s.period_start);
    SetTimestamp(c->mutable_period_end(), s.period_end);
    c->set_quantity(s.quantity);
    c->set_unit_price_pence(s.unit_price);
    c->set_amount_pence(s.quantity * s.unit_price);
    c->set_points_claimed(s.points);
    c->set_points_maximum(s.points_max);
    c->set_eligible_cohort(s.cohort);
    c->set_patient_ref(s.patient_ref);
    c->set_status(status);
    Pending pe = Make(bus::kClaimsTopic, std::move(e));
    pe.remember_as = std::move(remember);
    pe.supersedes_ref = std::move(supersedes);
    pending_claims.emplace(std::make_pair(pe.t, pe.seq), std::move(pe));
  };
  for (const ClaimSpec& spec : specs) {
    if (spec.period_start < params.start || spec.period_end > params.end) continue;
    ClaimSpec s = spec;
    Micros occurred = UniformTime(rng, s.period_end + kHour, s.period_end + 30 * kDay - kHour);
    const v1::ClaimStatus status =
        rng.Bernoulli(kClaimPaidShare) ? v1::CLAIM_STATUS_PAID : v1::CLAIM_STATUS_APPROVED;
    const std::string claim_id =
        "CLM-" + code + "-" + s.service_code + "-" + Yyyymm(s.period_start) + s.id_suffix;
    std::string remember;
    if (p.kind == kShift && IsMonthlyLump(s) && s.period_start >= p.shift_from) {
      s.unit_price = ScaleRound(s.unit_price, kValueShiftFactor);
    }
    if (p.kind == kCohort && s.service_code == p.cohort_service &&
        s.period_start == p.cohort_period && s.id_suffix.empty()) {
      s.quantity = static_cast<int64_t>(std::ceil(kCohortExcess * s.cohort));
    }
    if (p.kind == kQof && !s.indicator.empty() &&
        s.indicator == kQofIndicators[p.qof_indicator].code) {
      s.points = kQofOverMax * s.points_max;
    }
    if (p.kind == kLate && s.service_code == p.late_service && s.period_start == p.late_period &&
        IsMonthlyLump(s)) {
      if (p.variant == 0) {
        occurred = UniformTime(rng, s.period_end + kLateDays * kDay,
                               s.period_end + kLateDays * kDay + 12 * kHour);
      } else {
        remember = claim_id;
        ClaimSpec r = s;
        r.unit_price = ScaleRound(s.unit_price, kResubmitUplift);
        const Micros again = UniformTime(rng, occurred + 20 * kDay, occurred + 40 * kDay);
        queue(r, again, v1::CLAIM_STATUS_SUBMITTED, "", claim_id, claim_id);
      }
    }
    const v1::ClaimStatus st = remember.empty() ? status : v1::CLAIM_STATUS_PAID;
    queue(s, occurred, st, remember, "", claim_id);
    if (p.kind == kDup && s.service_code == "LDHC" && s.period_start == p.dup_orig_period &&
        s.id_suffix == "-" + std::to_string(p.dup_patient)) {
      ClaimSpec d = s;
      d.period_start = p.dup_period;
      d.period_end = AddMonths(p.dup_period, 1);
      const Micros when = UniformTime(rng, d.period_end + kHour, d.period_end + 30 * kDay - kHour);
      queue(d, when, v1::CLAIM_STATUS_PAID, "", "",
            "CLM-" + code + "-LDHC-" + Yyyymm(d.period_start) + d.id_suffix);
    }
  }
}

void Generator::Impl::DayActivity(const Practice& p, Micros day, std::vector<Pending>* out) {
  const std::string& code = p.rec.practice_code;
  const int dow = DayOfWeek(day);
  const double dow_w = dow < 5 ? kWeekdayWeight : kWeekendWeight;
  const uint64_t day_key = static_cast<uint64_t>(day / kDay);
  // Referrals.
  {
    Rng rng = Rng::ForStream(params.seed, code, Mix64(day_key ^ 0x5EF0000000ULL));
    const double mean = params.referrals_per_day * params.volume_fraction * p.weighted_share *
                        p.referral_factor * dow_w;
    const int64_t n = rng.Poisson(mean);
    double weights[kNumSpecialties];
    for (int i = 0; i < kNumSpecialties; ++i) weights[i] = kSpecialties[i].weight;
    for (int64_t i = 0; i < n; ++i) {
      const Micros t = UniformTime(rng, day + 8 * kHour, day + 18 * kHour + 30 * 60 * kSecond);
      v1::Envelope e =
          Base(v1::EVENT_KIND_REFERRAL, p, t, t + rng.UniformInt(5, 3600) * kSecond, "ers");
      auto* r = e.mutable_referral();
      const unsigned __int128 u =
          (static_cast<unsigned __int128>(ubrn_counter++) * 738'205'347'481ULL +
           Mix64(params.seed)) %
          1'000'000'000'000ULL;
      char ubrn[16];
      std::snprintf(ubrn, sizeof(ubrn), "%012llu", static_cast<unsigned long long>(u));
      r->set_ubrn(ubrn);
      const Specialty& sp = kSpecialties[rng.Categorical(weights, kNumSpecialties)];
      r->set_specialty_code(sp.name);
      r->set_treatment_function_code(sp.tfc);
      const double pr = rng.Uniform01();
      r->set_priority(pr < kTwoWeekWaitShare                  ? v1::REFERRAL_PRIORITY_TWO_WEEK_WAIT
                      : pr < kTwoWeekWaitShare + kUrgentShare ? v1::REFERRAL_PRIORITY_URGENT
                                                              : v1::REFERRAL_PRIORITY_ROUTINE);
      // Synthetic provider codes: three per ICB, "R" and two characters.
      static constexpr char kAlnum[] = "ABCDEFGHJKLMNPQRTVWXY0123456789";
      const uint64_t h = StableHash(p.rec.icb_code, static_cast<uint64_t>(rng.UniformInt(0, 2)));
      std::string provider = "R";
      provider.push_back(kAlnum[h % 31]);
      provider.push_back(kAlnum[(h / 31) % 31]);
      r->set_provider_code(provider);
      r->set_patient_ref("pt-" + Hex16(rng.Next()));
      out->push_back(Make(bus::kReferralsTopic, std::move(e)));
    }
  }
  // Patient contacts: aggregated daily returns, one event per (mode, attended / DNA / out of
  // hours) with a non-zero count.
  {
    Rng rng = Rng::ForStream(params.seed, code, Mix64(day_key ^ 0xC0C0000000ULL));
    const double total = params.contacts_per_day * params.volume_fraction * p.weighted_share *
                         p.contact_factor * dow_w;
    std::array<double, 4> shares = kModeShares;
    double ooh = kOutOfHoursShare;
    if (p.kind == kContact && p.variant == 0) {
      shares[3] *= kContactOutlierFactor;
      shares[0] -= shares[3] - kModeShares[3];
    }
    if (p.kind == kContact && p.variant == 1) ooh *= kContactOutlierFactor;
    const double dna = kDnaShare / (1 - ooh);
    for (int m = 0; m < 4; ++m) {
      const double mode_total = total * shares[m];
      const std::array<std::pair<double, char>, 3> parts = {
          {{mode_total * (1 - ooh) * (1 - dna), 'A'},
           {mode_total * (1 - ooh) * dna, 'D'},
           {mode_total * ooh, 'O'}}};
      for (const auto& [mean, tag] : parts) {
        const int64_t count = rng.Poisson(mean);
        if (count == 0) continue;
        const Micros t = day + (tag == 'O' ? 23 : 18) * kHour;
        v1::Envelope e = Base(v1::EVENT_KIND_PATIENT_CONTACT, p, t,
                              t + rng.UniformInt(600, 5 * 3600) * kSecond, "gpad");
        auto* c = e.mutable_patient_contact();
        c->set_contact_id("CT-" + code + "-" + FormatYmd(day) + "-" + kModeLetters[m] + tag);
        c->set_mode(kModes[m]);
        c->set_attendance(tag == 'D' ? v1::ATTENDANCE_DNA : v1::ATTENDANCE_ATTENDED);
        c->set_out_of_hours(tag == 'O');
        c->set_count(static_cast<uint32_t>(count));
        out->push_back(Make(bus::kVisitsTopic, std::move(e)));
      }
    }
  }
  // Monitoring visits and register updates on this day.
  for (const auto& v : p.visits) {
    if (v.at >= day && v.at < day + kDay) out->push_back(Make(bus::kVisitsTopic, VisitEvent(p, v)));
  }
  for (const auto& u : p.list_updates) {
    if (u.at >= day && u.at < day + kDay) {
      out->push_back(Make(bus::kPracticesTopic, RegisterEvent(p, u.at, u.list, u.weighted)));
    }
  }
}

Status Generator::Impl::Emit(Pending& pe) {
  ++emitted;
  pe.env.set_event_id("gen-" + std::to_string(params.seed) + "-" + std::to_string(emitted));
  if (!pe.supersedes_ref.empty()) {
    auto it = remembered.find(pe.supersedes_ref);
    if (it != remembered.end()) pe.env.set_supersedes_event_id(it->second);
  }
  if (!pe.remember_as.empty()) remembered[pe.remember_as] = pe.env.event_id();
  ++stats.events;
  ++stats.events_per_topic[std::string(pe.topic)];
  ++stats.events_per_kind[v1::EventKind_Name(pe.env.kind())];
  return sink->Emit(pe.topic, pe.env.practice_code(), pe.env);
}

Status Generator::Impl::RunAll(Sink* s, const ProgressFn& progress) {
  sink = s;
  seq = 0;
  ubrn_counter = 0;
  emitted = 0;
  remembered.clear();
  pending_claims.clear();
  stats = RunStats();
  fy_plans.assign(practices.size(), FyPlan{});
  for (auto& f : fy_plans) f.fy_start = INT64_MIN;

  // Preamble: register, then historical visits.
  for (const auto& p : practices) {
    Pending pe = Make(bus::kPracticesTopic,
                      RegisterEvent(p, params.start, p.initial_list, p.rec.weighted_list_size));
    PROBITY_RETURN_IF_ERROR(Emit(pe));
  }
  for (const auto& p : practices) {
    const PlannedVisit* last = nullptr;
    for (const auto& v : p.visits) {
      if (v.at < params.start) last = &v;
    }
    if (last != nullptr) {
      Pending pe = Make(bus::kVisitsTopic, VisitEvent(p, *last));
      PROBITY_RETURN_IF_ERROR(Emit(pe));
    }
  }

  const int64_t days_total = (params.end - params.start) / kDay;
  std::vector<Pending> today;
  auto drain = [&](Micros until) -> Status {
    while (!pending_claims.empty() && pending_claims.begin()->first.first < until) {
      auto node = pending_claims.extract(pending_claims.begin());
      today.push_back(std::move(node.mapped()));
    }
    std::sort(today.begin(), today.end(), [](const Pending& a, const Pending& b) {
      return a.t != b.t ? a.t < b.t : a.seq < b.seq;
    });
    for (auto& pe : today) PROBITY_RETURN_IF_ERROR(Emit(pe));
    today.clear();
    return Status::Ok();
  };
  int64_t day_index = 0;
  for (Micros day = params.start; day < params.end; day += kDay, ++day_index) {
    if (IsMonthStart(day) && day > params.start) {
      for (size_t i = 0; i < practices.size(); ++i) ClaimsEndingAt(practices[i], i, day);
    }
    for (const auto& p : practices) DayActivity(p, day, &today);
    PROBITY_RETURN_IF_ERROR(drain(day + kDay));
    if (progress) progress(Progress{day, day_index + 1, days_total, emitted});
  }
  if (IsMonthStart(params.end)) {
    for (size_t i = 0; i < practices.size(); ++i) ClaimsEndingAt(practices[i], i, params.end);
  }
  PROBITY_RETURN_IF_ERROR(drain(INT64_MAX));
  if (progress) progress(Progress{params.end, days_total, days_total, emitted});
  sink = nullptr;
  return Status::Ok();
}

Generator::Generator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Generator::~Generator() = default;

StatusOr<std::unique_ptr<Generator>> Generator::Create(const std::vector<PracticeRecord>& reference,
                                                       const GeneratorParams& params) {
  auto impl = std::make_unique<Impl>();
  impl->params = params;
  PROBITY_RETURN_IF_ERROR(impl->Plan(reference));
  return std::unique_ptr<Generator>(new Generator(std::move(impl)));
}

Status Generator::Run(Sink* sink, const ProgressFn& progress) {
  return impl_->RunAll(sink, progress);
}

const std::vector<TruthEntry>& Generator::truth() const { return impl_->truth; }

std::vector<std::string> Generator::practice_codes() const {
  std::vector<std::string> out;
  for (const auto& p : impl_->practices) out.push_back(p.rec.practice_code);
  return out;
}

const RunStats& Generator::stats() const { return impl_->stats; }

std::string Generator::DescribePractice(const std::string& code) const {
  auto it = std::lower_bound(
      impl_->practices.begin(), impl_->practices.end(), code,
      [](const Practice& p, const std::string& c) { return p.rec.practice_code < c; });
  if (it == impl_->practices.end() || it->rec.practice_code != code) return "";
  const Practice& p = *it;
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "list %lld weighted %.0f %s icb %s; referral factor %.2f contact factor %.2f",
                static_cast<long long>(p.initial_list), p.rec.weighted_list_size,
                p.rec.dispensing ? "dispensing" : "non-dispensing", p.rec.icb_code.c_str(),
                p.referral_factor, p.contact_factor);
  std::string out = buf;
  out += p.kind == kNone ? "; clean"
                         : "; anomaly " + std::string(kRuleKinds[p.kind]) + " variant " +
                               std::to_string(p.variant);
  out += "; visits:";
  for (const auto& v : p.visits) {
    out += " " + FormatYmd(v.at) + " " + v1::MonitoringVisitType_Name(v.type).substr(22) + "/" +
           v1::MonitoringOutcome_Name(v.outcome).substr(19);
    if (v.due != 0) out += " due " + FormatYmd(v.due);
  }
  out += "; list:";
  for (const auto& u : p.list_updates) out += " " + FormatYmd(u.at) + "=" + std::to_string(u.list);
  return out;
}

StatusOr<std::vector<TruthEntry>> GenerateFromCsv(const std::string& csv_path,
                                                  const GeneratorParams& params, Sink* sink,
                                                  const ProgressFn& progress) {
  PROBITY_ASSIGN_OR_RETURN(auto reference, LoadReference(csv_path));
  PROBITY_ASSIGN_OR_RETURN(auto gen, Generator::Create(reference, params));
  PROBITY_RETURN_IF_ERROR(gen->Run(sink, progress));
  return gen->truth();
}

}  // namespace probity::generate
