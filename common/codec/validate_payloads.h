// The rules of each payload (docs/events.md, "Payloads"), one function a payload type, each in
// the validate_*.cc of its event family. Each returns the first failure in the order of the
// payload's table in docs/events.md, or nullopt. The envelope around the payload has already
// passed the envelope's rules (validate.cc) and CheckWholeMessage (hygiene.h).
#pragma once

#include <string_view>

#include "common/codec/codec.h"
#include "common/codec/rejection.h"
#include "probity/v1/events.pb.h"

namespace probity::codec::internal {

// validate_claims.cc
Result CheckClaim(const v1::Claim& c, const Policy& p, Micros now);
// validate_referrals.cc
Result CheckReferral(const v1::Referral& r);
// validate_visits.cc
Result CheckPatientContact(const v1::PatientContact& c, const Policy& p);
Result CheckMonitoringVisit(const v1::MonitoringVisit& v, const Policy& p, Micros now);
// validate_practices.cc; `practice_code` is the envelope's.
Result CheckPracticeUpdate(const v1::PracticeUpdate& u, std::string_view practice_code,
                           const Policy& p);
// validate_rule_sets.cc
Result CheckRuleSet(const v1::RuleSetPublished& r, const Policy& p);
// validate_flags.cc
Result CheckFlag(const v1::Flag& f, const Policy& p, Micros now);
// validate_decisions.cc
Result CheckFlagDecision(const v1::FlagDecision& d);
// validate_payment_instructions.cc
Result CheckPaymentInstruction(const v1::PaymentInstruction& i, const Policy& p);
Result CheckPaymentExport(const v1::PaymentExport& e);
// validate_access.cc
Result CheckAccessRecord(const v1::AccessRecord& a);
// validate_rule_sets.cc
Result CheckHoldPolicy(const v1::HoldPolicyPublished& h, const Policy& p);
// validate_baselines.cc
Result CheckBaseline(const v1::Baseline& b, const Policy& p, Micros now);
Result CheckEndOfData(const v1::EndOfData& e, const Policy& p, Micros now);

}  // namespace probity::codec::internal
