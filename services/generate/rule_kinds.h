// The catalogue of rule kinds the generator injects and the rules service detects
// (Flag.rule_kind). The strings are a contract with services/rules: change them together.
#pragma once

#include <array>
#include <string_view>

namespace probity::generate {

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

// In the order anomalies are dealt out (round-robin).
inline constexpr std::array<std::string_view, 11> kRuleKinds = {
    kDuplicateItemOfService, kClaimExceedsCohort,       kQofPointsOverMaximum,
    kLateOrResubmittedClaim, kPaymentPerPatientOutlier, kReferralRateOutlier,
    kContactRateOutlier,     kClaimedValueShift,        kListInflation,
    kMonitoringVisitOverdue, kRemedialDeadlineMissed,
};

}  // namespace probity::generate
