// The anomaly kinds the generator injects, one class each, registered in AnomalyKinds() at the
// end. docs/generator.md ("Anomalies and ground truth") describes them.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "services/generate/anomaly.h"
#include "services/rules/kinds.h"

namespace probity::generate::internal {
namespace {

// Magnitudes: a contract with services/rules (docs/generator.md).
constexpr double kCohortExcess = 1.3;
constexpr double kQofOverMax = 1.5;
constexpr int kLateDays = 200;
constexpr double kResubmitUplift = 1.25;
constexpr double kPaymentOutlierFactor = 2.5;
constexpr double kReferralOutlierFactor = 4.0;
constexpr double kContactOutlierFactor = 4.0;
constexpr double kValueShiftFactor = 1.8;
constexpr int kValueShiftMonths = 3;
constexpr double kListInflationFactor = 1.15;
constexpr int kOverdueDays = 913;  // 30 months

// Graded scenarios (docs/generator.md, "Graded anomalies"): the magnitudes of each kind, dealt
// round-robin by Practice::grade. The fixed scenario uses the single constant above.
constexpr double kCohortGrades[] = {1.05, 1.1, 1.3, 1.5};
constexpr double kPaymentGrades[] = {1.1, 1.25, 1.5, 2.0, 2.5, 3.0};
constexpr double kReferralGrades[] = {1.25, 1.5, 2.0, 3.0, 4.0};
constexpr double kContactGrades[] = {1.5, 2.0, 3.0, 4.0};
constexpr double kShiftGrades[] = {1.1, 1.25, 1.5, 2.0};
constexpr double kListGrades[] = {1.05, 1.10, 1.15, 1.25};
// What the default rules cannot judge by design (deploy/rules/default.yaml; docs/rules.md).
constexpr int64_t kRuleMinList = 1000;         // list_inflation
constexpr int64_t kPaymentRuleMinList = 1500;  // payment_per_patient_outlier (version 5)
constexpr double kRuleListThreshold = 0.10;    // list_inflation: growth must exceed 10%
constexpr double kRuleMinExpected = 20;        // funnels: expected count in the 90-day window

template <size_t N>
double Graded(const GeneratorParams& params, const Practice& p, const double (&grades)[N],
              double fixed) {
  return params.graded ? grades[static_cast<size_t>(p.grade) % N] : fixed;
}

std::string Factor(double f) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.2fx", f);
  return b;
}

bool InRange(const GeneratorParams& params, const ClaimSpec& s) {
  return s.period_start >= params.start && s.period_end <= params.end;
}

// The first claim of `fp` (in period-end order) that satisfies `pred`, or nullptr.
template <typename Pred>
const ClaimSpec* FindClaim(const FyPlan& fp, Pred pred) {
  for (const auto& v : fp.by_end_month) {
    for (const auto& s : v) {
      if (pred(s)) return &s;
    }
  }
  return nullptr;
}

// The claims of the financial year of the range's first whole month.
FyPlan FirstYearPlan(const GeneratorParams& params, const Practice& p) {
  return PlanFy(p, FyStart(FirstWholeMonth(params.start)), params.seed);
}

// ---- duplicate_item_of_service ----

// An LDHC claim of the first year whose repeat three months later is still in the range and
// the same financial year.
bool RepeatableLdhc(const GeneratorParams& params, const FyPlan& fp, const ClaimSpec& s) {
  return s.service_code == "LDHC" && !s.patient_ref.empty() && InRange(params, s) &&
         AddMonths(s.period_start, 4) <= params.end &&
         FyStart(AddMonths(s.period_start, 3)) == fp.fy_start;
}

class DuplicateInjection final : public Injection {
 public:
  DuplicateInjection(std::string code, Micros orig_period, int64_t patient, Micros dup_period)
      : code_(std::move(code)),
        orig_period_(orig_period),
        patient_suffix_("-" + std::to_string(patient)),
        dup_period_(dup_period) {}
  void QueueClaim(Rng& rng, ClaimDraft draft, const ClaimQueue& queue) const override {
    const bool repeat = draft.spec.service_code == "LDHC" &&
                        draft.spec.period_start == orig_period_ &&
                        draft.spec.id_suffix == patient_suffix_;
    ClaimSpec d = draft.spec;
    queue(std::move(draft));
    if (!repeat) return;
    d.period_start = dup_period_;
    d.period_end = AddMonths(dup_period_, 1);
    ClaimDraft again;
    again.submitted = UniformTime(rng, d.period_end + kHour, d.period_end + 30 * kDay - kHour);
    again.status = v1::CLAIM_STATUS_PAID;
    again.claim_id = "CLM-" + code_ + "-LDHC-" + Yyyymm(d.period_start) + d.id_suffix;
    again.spec = std::move(d);
    queue(std::move(again));
  }

 private:
  std::string code_;
  Micros orig_period_;
  std::string patient_suffix_;
  Micros dup_period_;
};

class DuplicateItemOfService final : public AnomalyKind {
 public:
  DuplicateItemOfService() : AnomalyKind(rules::kDuplicateItemOfService) {}
  bool Eligible(const GeneratorParams& params, const Practice& p, int variant) const override {
    FyPlan fp = FirstYearPlan(params, p);
    return FindClaim(fp, [&](const ClaimSpec& s) { return RepeatableLdhc(params, fp, s); }) !=
           nullptr;
  }
  std::unique_ptr<Injection> Plan(const GeneratorParams& params, Rng& rng, Practice& p,
                                  TruthEntry* t) const override {
    const std::string& code = p.rec.practice_code;
    FyPlan fp = FirstYearPlan(params, p);
    const ClaimSpec& s =
        *FindClaim(fp, [&](const ClaimSpec& c) { return RepeatableLdhc(params, fp, c); });
    const Micros dup_period = AddMonths(s.period_start, 3);
    t->detail = "LDHC claim CLM-" + code + "-LDHC-" + Yyyymm(s.period_start) + s.id_suffix +
                " for patient " + s.patient_ref + " repeated as CLM-" + code + "-LDHC-" +
                Yyyymm(dup_period) + s.id_suffix + " three months later";
    t->window_start = s.period_start;
    t->window_end = AddMonths(dup_period, 1) + 30 * kDay;
    if (params.graded) {
      t->magnitude = 1;  // duplicates
      t->pattern = "one-off";
    }
    return std::make_unique<DuplicateInjection>(code, s.period_start,
                                                std::stoll(s.id_suffix.substr(1)), dup_period);
  }
};

// ---- claim_exceeds_cohort ----

bool CohortItem(const GeneratorParams& params, const ClaimSpec& s) {
  return s.cohort > 0 && s.service_code != "LDHC" && s.id_suffix.empty() && InRange(params, s);
}

class CohortInjection final : public Injection {
 public:
  CohortInjection(std::string service, Micros period, double excess)
      : service_(std::move(service)), period_(period), excess_(excess) {}
  void QueueClaim(Rng& rng, ClaimDraft draft, const ClaimQueue& queue) const override {
    ClaimSpec& s = draft.spec;
    if (s.service_code == service_ && s.period_start == period_ && s.id_suffix.empty()) {
      s.quantity = static_cast<int64_t>(std::ceil(excess_ * s.cohort));
    }
    queue(std::move(draft));
  }

 private:
  std::string service_;
  Micros period_;
  double excess_;
};

class ClaimExceedsCohort final : public AnomalyKind {
 public:
  ClaimExceedsCohort() : AnomalyKind(rules::kClaimExceedsCohort) {}
  bool Eligible(const GeneratorParams& params, const Practice& p, int variant) const override {
    return FindClaim(FirstYearPlan(params, p),
                     [&](const ClaimSpec& s) { return CohortItem(params, s); }) != nullptr;
  }
  std::unique_ptr<Injection> Plan(const GeneratorParams& params, Rng& rng, Practice& p,
                                  TruthEntry* t) const override {
    const std::string& code = p.rec.practice_code;
    FyPlan fp = FirstYearPlan(params, p);
    // Prefer flu (October), else the first item claim in range.
    const ClaimSpec* pick = nullptr;
    for (const auto& v : fp.by_end_month) {
      for (const auto& s : v) {
        if (CohortItem(params, s)) {
          if (pick == nullptr || (s.service_code == "FLU" && pick->service_code != "FLU"))
            pick = &s;
        }
      }
    }
    const double excess = Graded(params, p, kCohortGrades, kCohortExcess);
    const int64_t q = static_cast<int64_t>(std::ceil(excess * pick->cohort));
    t->detail = "claim CLM-" + code + "-" + pick->service_code + "-" + Yyyymm(pick->period_start) +
                " quantity " + std::to_string(q) + " against an eligible cohort of " +
                std::to_string(pick->cohort) + " (" +
                (params.graded ? Factor(excess) : std::string("1.3x")) + ")";
    if (params.graded) {
      t->magnitude = excess;
      t->pattern = "one-off";
    }
    t->window_start = pick->period_start;
    t->window_end = pick->period_end;
    return std::make_unique<CohortInjection>(pick->service_code, pick->period_start, excess);
  }
};

// ---- qof_points_over_maximum ----

class QofInjection final : public Injection {
 public:
  explicit QofInjection(std::string indicator) : indicator_(std::move(indicator)) {}
  void QueueClaim(Rng& rng, ClaimDraft draft, const ClaimQueue& queue) const override {
    ClaimSpec& s = draft.spec;
    if (!s.indicator.empty() && s.indicator == indicator_) s.points = kQofOverMax * s.points_max;
    queue(std::move(draft));
  }

 private:
  std::string indicator_;
};

class QofPointsOverMaximum final : public AnomalyKind {
 public:
  QofPointsOverMaximum() : AnomalyKind(rules::kQofPointsOverMaximum) {}
  bool Eligible(const GeneratorParams& params, const Practice& p, int variant) const override {
    FyPlan fp = FirstYearPlan(params, p);
    for (const auto& s : fp.by_end_month[11]) {
      if (!s.indicator.empty() && InRange(params, s)) return true;
    }
    return false;
  }
  std::unique_ptr<Injection> Plan(const GeneratorParams& params, Rng& rng, Practice& p,
                                  TruthEntry* t) const override {
    FyPlan fp = FirstYearPlan(params, p);
    std::vector<const ClaimSpec*> cands;
    for (const auto& s : fp.by_end_month[11]) {
      if (!s.indicator.empty() && InRange(params, s)) cands.push_back(&s);
    }
    const ClaimSpec* s = cands[rng.UniformInt(0, static_cast<int64_t>(cands.size()) - 1)];
    char points[64];
    std::snprintf(points, sizeof(points), "%.2f points against a maximum of %.2f",
                  kQofOverMax * s->points_max, s->points_max);
    t->detail = "QOF indicator " + s->indicator + " claimed at " + points + " (1.5x), claim CLM-" +
                p.rec.practice_code + "-QOF-" + Yyyymm(fp.fy_start) + s->id_suffix;
    t->window_start = s->period_start;
    t->window_end = s->period_end;
    if (params.graded) {
      t->magnitude = kQofOverMax;  // points claimed / maximum
      t->pattern = "one-off";
    }
    return std::make_unique<QofInjection>(s->indicator);
  }
};

// ---- late_or_resubmitted_claim ----

// Variant 0: the first month's lump claim submitted 200 days late. Variant 1: the second
// month's PAID lump claim resubmitted with a new event id and +25%.
Micros LateMonth(const GeneratorParams& params, int variant) {
  return AddMonths(FirstWholeMonth(params.start), variant);
}

// The first monthly lump claim of `month`, or nullptr.
const ClaimSpec* FirstLumpOf(const FyPlan& fp, Micros month) {
  return FindClaim(fp,
                   [&](const ClaimSpec& s) { return IsMonthlyLump(s) && s.period_start == month; });
}

class LateInjection final : public Injection {
 public:
  LateInjection(int variant, std::string service, Micros period)
      : variant_(variant), service_(std::move(service)), period_(period) {}
  void QueueClaim(Rng& rng, ClaimDraft draft, const ClaimQueue& queue) const override {
    const ClaimSpec& s = draft.spec;
    if (s.service_code != service_ || s.period_start != period_ || !IsMonthlyLump(s)) {
      queue(std::move(draft));
      return;
    }
    if (variant_ == 0) {
      draft.submitted = UniformTime(rng, s.period_end + kLateDays * kDay,
                                    s.period_end + kLateDays * kDay + 12 * kHour);
      queue(std::move(draft));
      return;
    }
    ClaimDraft again;
    again.spec = s;
    again.spec.unit_price = ScaleRound(s.unit_price, kResubmitUplift);
    again.submitted = UniformTime(rng, draft.submitted + 20 * kDay, draft.submitted + 40 * kDay);
    again.status = v1::CLAIM_STATUS_SUBMITTED;
    again.claim_id = draft.claim_id;
    again.supersedes = draft.claim_id;
    queue(std::move(again));
    draft.status = v1::CLAIM_STATUS_PAID;
    draft.remember_as = draft.claim_id;
    queue(std::move(draft));
  }

 private:
  int variant_;
  std::string service_;
  Micros period_;
};

class LateOrResubmittedClaim final : public AnomalyKind {
 public:
  LateOrResubmittedClaim() : AnomalyKind(rules::kLateOrResubmittedClaim) {}
  bool Eligible(const GeneratorParams& params, const Practice& p, int variant) const override {
    const Micros month = LateMonth(params, variant);
    if (AddMonths(month, 1) > params.end) return false;
    return FirstLumpOf(PlanFy(p, FyStart(month), params.seed), month) != nullptr;
  }
  std::unique_ptr<Injection> Plan(const GeneratorParams& params, Rng& rng, Practice& p,
                                  TruthEntry* t) const override {
    const Micros month = LateMonth(params, p.variant);
    FyPlan fp = PlanFy(p, FyStart(month), params.seed);
    const ClaimSpec* pick = FirstLumpOf(fp, month);
    const std::string id =
        "CLM-" + p.rec.practice_code + "-" + pick->service_code + "-" + Yyyymm(month);
    t->window_start = pick->period_start;
    if (p.variant == 0) {
      t->detail = "claim " + id + " submitted 200 days after its period ended";
      t->window_end = pick->period_end + (kLateDays + 1) * kDay;
    } else {
      t->detail = "PAID claim " + id + " resubmitted with a new event id and amount +25%";
      t->window_end = pick->period_end + 75 * kDay;
    }
    if (params.graded) {
      t->magnitude = p.variant == 0 ? kLateDays : kResubmitUplift;  // days late; amount factor
      t->pattern = p.variant == 0 ? "late" : "resubmitted";
    }
    return std::make_unique<LateInjection>(p.variant, pick->service_code, month);
  }
};

// ---- payment_per_patient_outlier ----

class PaymentInjection final : public Injection {
 public:
  // stream_only: only the global-sum columns (global sum, MPIG, PMS balance).
  PaymentInjection(double factor, bool stream_only) : factor_(factor), stream_only_(stream_only) {}
  int64_t ColumnTotal(int column, int64_t total) const override {
    if (stream_only_ && PaymentColumns()[column].stream != v1::PAYMENT_STREAM_GLOBAL_SUM)
      return total;
    return ScaleRound(total, factor_);
  }

 private:
  double factor_;
  bool stream_only_;
};

class PaymentPerPatientOutlier final : public AnomalyKind {
 public:
  PaymentPerPatientOutlier() : AnomalyKind(rules::kPaymentPerPatientOutlier) {}
  bool Eligible(const GeneratorParams& params, const Practice& p, int variant) const override {
    // Graded: every practice (those the rule cannot judge are recorded as such).
    return params.graded || p.rec.list_size >= kPaymentRuleMinList;
  }
  std::unique_ptr<Injection> Plan(const GeneratorParams& params, Rng& rng, Practice& p,
                                  TruthEntry* t) const override {
    if (!params.graded) {
      t->detail = "every payment stream claimed at 2.5x the practice's real 2022-23 figures";
      return std::make_unique<PaymentInjection>(kPaymentOutlierFactor, false);
    }
    const double f = Graded(params, p, kPaymentGrades, kPaymentOutlierFactor);
    const bool stream = p.variant == 1;
    t->magnitude = f;
    t->pattern = stream ? "stream" : "total";
    t->detail = (stream ? "the global sum (global sum, MPIG, PMS balance) claimed at "
                        : "every payment stream claimed at ") +
                Factor(f) + " the practice's real 2022-23 figures, all year";
    int64_t gs = 0;
    for (int c = 0; c < kNumPaymentColumns; ++c) {
      if (PaymentColumns()[c].stream == v1::PAYMENT_STREAM_GLOBAL_SUM)
        gs += std::max<int64_t>(0, p.rec.payments_pence[c]);
    }
    if (p.rec.list_size < kPaymentRuleMinList) {
      t->undetectable = "list of " + std::to_string(p.initial_list) +
                        " patients, below the rule's 1,500-patient minimum";
    } else if (stream && gs == 0) {
      t->undetectable = "no global-sum payments to overclaim";
    }
    return std::make_unique<PaymentInjection>(f, stream);
  }
};

// ---- referral_rate_outlier ----

class ReferralRateOutlier final : public AnomalyKind {
 public:
  ReferralRateOutlier() : AnomalyKind(rules::kReferralRateOutlier) {}
  std::unique_ptr<Injection> Plan(const GeneratorParams& params, Rng& rng, Practice& p,
                                  TruthEntry* t) const override {
    if (params.graded) {
      const double f = Graded(params, p, kReferralGrades, kReferralOutlierFactor);
      p.referral_factor *= f;
      t->magnitude = f;
      t->pattern = "sustained";
      t->detail = "referrals at " + Factor(f) + " the practice's own rate, all year";
      const double expected90 =
          params.referrals_per_day * params.volume_fraction * p.weighted_share * 90;
      if (expected90 < kRuleMinExpected) {
        t->undetectable = "about " + std::to_string(std::llround(expected90)) +
                          " referrals expected in 90 days, below the funnel's minimum of 20";
      }
      return std::make_unique<Injection>();
    }
    p.referral_factor = kReferralOutlierFactor;
    t->detail = "referrals at 4x the national rate per weighted patient (practice factor 4.0)";
    return std::make_unique<Injection>();  // the factor is the whole anomaly
  }
};

// ---- contact_rate_outlier ----

class ContactInjection final : public Injection {
 public:
  ContactInjection(int variant, double factor) : variant_(variant), factor_(factor) {}
  void AdjustContacts(std::array<double, 4>* shares, double* out_of_hours) const override {
    if (variant_ == 0) {  // home visits, taken from face-to-face
      const double before = (*shares)[3];
      (*shares)[3] *= factor_;
      (*shares)[0] -= (*shares)[3] - before;
    } else {
      *out_of_hours *= factor_;
    }
  }

 private:
  int variant_;
  double factor_;
};

class ContactRateOutlier final : public AnomalyKind {
 public:
  ContactRateOutlier() : AnomalyKind(rules::kContactRateOutlier) {}
  std::unique_ptr<Injection> Plan(const GeneratorParams& params, Rng& rng, Practice& p,
                                  TruthEntry* t) const override {
    if (params.graded) {
      const double f = Graded(params, p, kContactGrades, kContactOutlierFactor);
      t->magnitude = f;
      t->pattern = p.variant == 0 ? "home_visit" : "out_of_hours";
      t->detail = (p.variant == 0 ? "home visits at " : "out-of-hours contacts at ") + Factor(f) +
                  " the practice's own share, all year";
      const double share =
          p.variant == 0 ? 0.012 * p.home_visit_factor * (1 - 0.02) : 0.02 * p.out_of_hours_factor;
      const double expected90 = params.contacts_per_day * params.volume_fraction *
                                p.weighted_share * p.contact_factor * share * 90;
      if (expected90 < kRuleMinExpected) {
        t->undetectable = "about " + std::to_string(std::llround(expected90)) +
                          " contacts of that kind expected in 90 days, below the funnel's "
                          "minimum of 20";
      }
      return std::make_unique<ContactInjection>(p.variant, f);
    }
    t->detail = p.variant == 0 ? "home visits at 4x the national share (4.8% of contacts)"
                               : "out-of-hours contacts at 4x the national share (8% of contacts)";
    return std::make_unique<ContactInjection>(p.variant, kContactOutlierFactor);
  }
};

// ---- claimed_value_shift ----

class ShiftInjection final : public Injection {
 public:
  ShiftInjection(Micros from, double factor) : from_(from), factor_(factor) {}
  void QueueClaim(Rng& rng, ClaimDraft draft, const ClaimQueue& queue) const override {
    ClaimSpec& s = draft.spec;
    if (IsMonthlyLump(s) && s.period_start >= from_) {
      s.unit_price = ScaleRound(s.unit_price, factor_);
    }
    queue(std::move(draft));
  }

 private:
  Micros from_;  // periods starting at or after this
  double factor_;
};

class ClaimedValueShift final : public AnomalyKind {
 public:
  ClaimedValueShift() : AnomalyKind(rules::kClaimedValueShift) {}
  bool Eligible(const GeneratorParams& params, const Practice& p, int variant) const override {
    const Micros first_month = FirstWholeMonth(params.start);
    if (AddMonths(first_month, 3 + kValueShiftMonths) > MonthFloor(params.end)) return false;
    const Micros month = AddMonths(first_month, 0);
    return FirstLumpOf(PlanFy(p, FyStart(month), params.seed), month) != nullptr;
  }
  std::unique_ptr<Injection> Plan(const GeneratorParams& params, Rng& rng, Practice& p,
                                  TruthEntry* t) const override {
    const Micros last_month_end = MonthFloor(params.end);
    const Micros from = AddMonths(last_month_end, -kValueShiftMonths);
    t->detail =
        "monthly claims (global sum, PMS balance, premises, QOF aspiration...) +80% for "
        "the last 3 months of the range, from " +
        FormatRfc3339(from);
    t->window_start = from;
    t->window_end = last_month_end + 30 * kDay;
    const double f = Graded(params, p, kShiftGrades, kValueShiftFactor);
    if (params.graded) {
      t->magnitude = f;
      t->pattern = "sustained";
      t->detail = "monthly claims (global sum, PMS balance, premises, QOF aspiration...) at " +
                  Factor(f) + " for the last 3 months of the range, from " + FormatRfc3339(from);
    }
    return std::make_unique<ShiftInjection>(from, f);
  }
};

// ---- list_inflation ----

class ListInjection final : public Injection {
 public:
  ListInjection(double factor, bool graded) : factor_(factor), graded_(graded) {}
  bool ListAt(size_t i, const std::vector<Micros>& quarters, Micros end, int64_t list,
              int64_t* next, TruthEntry* t) const override {
    if (i != quarters.size() / 2) return false;  // the middle update
    *next = std::llround(list * factor_);
    char pct[16];
    std::snprintf(pct, sizeof(pct), "+%.0f%%", (factor_ - 1) * 100);
    t->detail = "registered list raised from " + std::to_string(list) + " to " +
                std::to_string(*next) + " (" + pct + ") at " + FormatRfc3339(quarters[i]) +
                " with no merger";
    if (graded_) {
      t->magnitude = factor_;
      t->pattern = "one-off";
      if (list < kRuleMinList) {
        t->undetectable =
            "list of " + std::to_string(list) + " patients, below the rule's 1,000-patient minimum";
      } else if (*next - list <= std::llround(list * kRuleListThreshold)) {
        t->undetectable = std::string(pct) + ", not above the rule's 10% threshold";
      }
    }
    t->window_start = quarters[i];
    t->window_end = i + 1 < quarters.size() ? quarters[i + 1] : end;
    return true;
  }

 private:
  double factor_;
  bool graded_;
};

class ListInflation final : public AnomalyKind {
 public:
  ListInflation() : AnomalyKind(rules::kListInflation) {}
  bool Eligible(const GeneratorParams& params, const Practice& p, int variant) const override {
    for (Micros m = AddMonths(FirstWholeMonth(params.start), 0); m < params.end;
         m = AddMonths(m, 1)) {
      if (m > params.start && FyMonth(m) % 3 == 0) return true;
    }
    return false;
  }
  std::unique_ptr<Injection> Plan(const GeneratorParams& params, Rng& rng, Practice& p,
                                  TruthEntry* t) const override {
    t->detail = "registered list +15% in one quarter with no merger";  // completed by ListAt
    return std::make_unique<ListInjection>(Graded(params, p, kListGrades, kListInflationFactor),
                                           params.graded);
  }
};

// ---- monitoring_visit_overdue ----

class OverdueInjection final : public Injection {
 public:
  bool PlanVisits(const GeneratorParams& params, Rng& rng, Practice& p,
                  TruthEntry* truth) const override {
    p.visits.push_back({AtTen(params.start - kOverdueDays * kDay),
                        v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW,
                        v1::MONITORING_OUTCOME_SATISFACTORY, 0, 0});
    return true;
  }
};

class MonitoringVisitOverdue final : public AnomalyKind {
 public:
  MonitoringVisitOverdue() : AnomalyKind(rules::kMonitoringVisitOverdue) {}
  std::unique_ptr<Injection> Plan(const GeneratorParams& params, Rng& rng, Practice& p,
                                  TruthEntry* t) const override {
    t->detail = "last contract-monitoring visit 30 months before the range start; none during it";
    t->window_start = params.start - kOverdueDays * kDay + 10 * kHour;
    if (params.graded) {
      // Months past the 24-month limit by the end of the range.
      t->magnitude =
          std::round(static_cast<double>(params.end - t->window_start) / kDay / 30.4375 - 24);
      t->pattern = "sustained";
    }
    return std::make_unique<OverdueInjection>();
  }
};

// ---- remedial_deadline_missed ----

class RemedialInjection final : public Injection {
 public:
  bool PlanVisits(const GeneratorParams& params, Rng& rng, Practice& p,
                  TruthEntry* t) const override {
    const Micros start = params.start, end = params.end;
    p.visits.push_back({AtTen(start - rng.UniformInt(1, 270) * kDay),
                        v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW,
                        v1::MONITORING_OUTCOME_SATISFACTORY, 0, 0});
    const int64_t range_days = (end - start) / kDay;
    const int64_t latest = std::max<int64_t>(31, range_days - 90);
    const Micros notice = AtTen(start + rng.UniformInt(30, latest) * kDay);
    const Micros due = std::min(notice + 60 * kDay, DayStart(end) - kDay);
    p.visits.push_back({notice, v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW,
                        v1::MONITORING_OUTCOME_REMEDIAL_NOTICE, notice, due});
    t->detail = "remedial notice issued at visit MV-" + p.rec.practice_code + "-" +
                FormatYmd(notice) + ", remedy due " + FormatRfc3339(due) +
                "; no follow-up visit by then";
    t->window_start = notice;
    t->window_end = due;
    if (params.graded) {
      t->magnitude = static_cast<double>((end - due) / kDay);  // days past the deadline by the end
      t->pattern = "one-off";
    }
    return true;
  }
};

class RemedialDeadlineMissed final : public AnomalyKind {
 public:
  RemedialDeadlineMissed() : AnomalyKind(rules::kRemedialDeadlineMissed) {}
  bool Eligible(const GeneratorParams& params, const Practice& p, int variant) const override {
    return params.end - params.start >= 120 * kDay;
  }
  std::unique_ptr<Injection> Plan(const GeneratorParams& params, Rng& rng, Practice& p,
                                  TruthEntry* t) const override {
    t->detail = "remedial notice issued with no follow-up visit by its due date";  // see above
    return std::make_unique<RemedialInjection>();
  }
};

}  // namespace

const std::vector<const AnomalyKind*>& AnomalyKinds() {
  static const auto* kinds = [] {
    auto* v = new std::vector<const AnomalyKind*>{
        new DuplicateItemOfService, new ClaimExceedsCohort,       new QofPointsOverMaximum,
        new LateOrResubmittedClaim, new PaymentPerPatientOutlier, new ReferralRateOutlier,
        new ContactRateOutlier,     new ClaimedValueShift,        new ListInflation,
        new MonitoringVisitOverdue, new RemedialDeadlineMissed,
    };
    std::stable_sort(v->begin(), v->end(), [](const AnomalyKind* a, const AnomalyKind* b) {
      return rules::RuleKindIndex(a->rule_kind()) < rules::RuleKindIndex(b->rule_kind());
    });
    return v;
  }();
  return *kinds;
}

}  // namespace probity::generate::internal
