// The rule kinds the generator injects: the catalogue of services/rules/kinds.h, named in this
// namespace for the generator's callers.
#pragma once

#include "services/rules/kinds.h"

namespace probity::generate {

using rules::kClaimedValueShift;
using rules::kClaimExceedsCohort;
using rules::kContactRateOutlier;
using rules::kDuplicateItemOfService;
using rules::kLateOrResubmittedClaim;
using rules::kListInflation;
using rules::kMonitoringVisitOverdue;
using rules::kPaymentPerPatientOutlier;
using rules::kQofPointsOverMaximum;
using rules::kReferralRateOutlier;
using rules::kRemedialDeadlineMissed;
using rules::kRuleKinds;

}  // namespace probity::generate
