// The catalogue of rule kinds: the names of Flag.rule_kind, of `kind:` in rule sets, of the
// anomalies the generator injects (TruthEntry.rule_kind) and of the rows of a detection score.
// Header-only (library probity_rule_kinds), so the generator and scoring share the names without
// linking the engine.
//
// A kind has behaviour in each layer, registered once per layer under its name: the rule that
// detects it (services/rules, RuleKind in rule.h), the anomaly that injects it
// (services/generate, AnomalyKind in anomaly.h). docs/architecture.md ("Where a new rule / a new
// anomaly kind goes") lists the steps.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace probity::rules {

inline constexpr std::string_view kDuplicateItemOfService = "duplicate_item_of_service";
inline constexpr std::string_view kClaimExceedsCohort = "claim_exceeds_cohort";
inline constexpr std::string_view kQofPointsOverMaximum = "qof_points_over_maximum";
inline constexpr std::string_view kLateOrResubmittedClaim = "late_or_resubmitted_claim";
inline constexpr std::string_view kPaymentPerPatientOutlier = "payment_per_patient_outlier";
inline constexpr std::string_view kReferralRateOutlier = "referral_rate_outlier";
inline constexpr std::string_view kContactRateOutlier = "contact_rate_outlier";
inline constexpr std::string_view kClaimedValueShift = "claimed_value_shift";
inline constexpr std::string_view kListInflation = "list_inflation";
inline constexpr std::string_view kMonitoringVisitOverdue = "monitoring_visit_overdue";
inline constexpr std::string_view kRemedialDeadlineMissed = "remedial_deadline_missed";

// Catalogue order: the order of docs/rules.md, of RuleKinds(), of score rows, and the order in
// which the generator deals anomalies out (round-robin).
inline constexpr std::array<std::string_view, 11> kRuleKinds = {
    kDuplicateItemOfService, kClaimExceedsCohort,       kQofPointsOverMaximum,
    kLateOrResubmittedClaim, kPaymentPerPatientOutlier, kReferralRateOutlier,
    kContactRateOutlier,     kClaimedValueShift,        kListInflation,
    kMonitoringVisitOverdue, kRemedialDeadlineMissed,
};

// Kinds over the payments ledger rather than over practices' activity: they judge the payment
// instructions in the log (docs/payments.md). Registered with the rules like every kind, but not
// in the detection catalogue above: the generator injects no anomaly of them and scoring has no
// row for them.
inline constexpr std::string_view kHoldEscalation = "hold_escalation";
inline constexpr std::array<std::string_view, 1> kLedgerRuleKinds = {kHoldEscalation};

// The position of `kind` in kRuleKinds; kRuleKinds.size() when it is not in the catalogue.
constexpr size_t RuleKindIndex(std::string_view kind) {
  for (size_t i = 0; i < kRuleKinds.size(); ++i) {
    if (kRuleKinds[i] == kind) return i;
  }
  return kRuleKinds.size();
}
static_assert(RuleKindIndex(kListInflation) == 8 && RuleKindIndex("no_such_kind") == 11);

}  // namespace probity::rules
