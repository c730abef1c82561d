// Power curves: per rule kind, pattern and magnitude of a graded scenario, the share of injected
// anomalies the rules found (recall at the rule's own clean-practice flag rate), beside the
// recall of a reference detector that knows the population model but not which practices were
// altered (the bound). docs/generator.md ("Power curves") defines both and shows the figures.
//
// The bound is computed from PracticeStats (what a practice's whole stream shows, tallied by
// Evaluate): for each measure a kind's rules judge, one statistic per practice (e.g. the log of
// its year's payments per weighted patient minus its contract stratum's median). The reference
// detector ranks each practice by its most extreme measure (the smallest share of clean
// practices at or above it, over the kind's measures) and flags the practices more extreme than
// the clean practices' own rank at the share of clean practices the kind's rules flagged. With
// one measure this is the clean quantile of the statistic. For the exact kinds (a duplicate, a
// claim above its cohort, points above a maximum, a late claim, a missing visit) no clean practice
// shows the pattern, so the bound is 1.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "probity/v1/events.pb.h"
#include "services/generate/truth.h"
#include "services/rules/rule_set.h"

namespace probity::score {

// What one practice's events show, tallied in stream order (Evaluate fills it).
struct PracticeStats {
  bool has_register = false;
  double weighted = 0;
  int64_t list_first = 0;
  bool dispensing = false;
  int32_t contract_type = 0;
  double max_list_growth = 0;  // largest rise between consecutive register updates, as a share
  int64_t last_list = 0;
  std::array<double, 9> stream_pence{};  // by PaymentStream, whole run
  std::map<int64_t, double>
      monthly_lumps;  // month index -> pence (GLOBAL_SUM, QOF_ASPIRATION, PREMISES)
  int64_t referrals = 0;
  int64_t home_visits = 0;
  int64_t out_of_hours = 0;
};

// Adds one generator envelope to `stats` (keyed by practice code).
void TallyEnvelope(const v1::Envelope& envelope, std::map<std::string, PracticeStats>* stats);

struct PowerRow {
  std::string rule_kind;
  std::string pattern;
  double magnitude = 0;
  int64_t injected = 0;      // detectable entries
  int64_t undetectable = 0;  // recorded as undetectable by design (not in `injected`)
  int64_t found = 0;
  double recall = 0, recall_lo = 0, recall_hi = 0;  // Wilson 95% interval
  double clean_flag_rate = 0;  // share of clean practices the kind's rules flagged
  // The bound: the reference detector of the kind, watching every measure the kind's rules judge
  // (payments: the total and the global sum; contacts: home visits and out of hours) at the
  // kind's clean flag rate, as the rules do. It does not know which measure was altered.
  int64_t bound_found = 0;
  double bound = 0, bound_lo = 0, bound_hi = 0;
  // The reference detector that also knows which measure was altered (the pattern's measure
  // alone, at the kind's whole clean flag rate): the bound until session 5, kept for comparison.
  // Equal to the bound for kinds with one measure.
  int64_t bound_pattern_found = 0;
  double bound_pattern = 0;
};

// Which practices the reference detector judges. The bound must use the same eligibility as the
// rule it is set beside: a practice the rule cannot judge must not be in the bound's clean
// quantile, nor one it judges left out. PowerOptionsFor takes the figures from the rule set.
struct PowerOptions {
  // Registered patients (the practice's first register update) below which a practice has no
  // payment statistic, and no list-growth statistic.
  double payment_min_list = 1000;
  double list_min_list = 1000;
};

// The eligibility of `rule_set`'s rules: the `min_list_size` of its payment_per_patient_outlier
// and list_inflation rules. When the set holds several rules of a kind (tuning variants side by
// side) the smallest, as a practice any of them judges can be flagged for the kind; a kind the
// set lacks keeps the default above.
PowerOptions PowerOptionsFor(const rules::RuleSet& rule_set);

// One row per (kind, pattern, magnitude) of `truth` entries with a magnitude, in catalogue, then
// pattern, then magnitude order. `flags` are FLAG envelopes; `practices` the run's practices.
std::vector<PowerRow> PowerCurves(const std::vector<generate::TruthEntry>& truth,
                                  const std::vector<v1::Envelope>& flags,
                                  const std::vector<std::string>& practices,
                                  const std::map<std::string, PracticeStats>& stats,
                                  const PowerOptions& options = {});

// Wilson score interval (95%) for k successes of n; [0, 1] when n is 0.
void Wilson(int64_t k, int64_t n, double* lo, double* hi);

// A fixed-width table; and CSV with a header line (the columns of PowerRow), for tools/.
std::string FormatPowerText(const std::vector<PowerRow>& rows);
std::string FormatPowerCsv(const std::vector<PowerRow>& rows);

}  // namespace probity::score
