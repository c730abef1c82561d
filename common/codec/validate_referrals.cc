#include <string>

#include "common/codec/ascii.h"
#include "common/codec/escape.h"
#include "common/codec/field_checks.h"
#include "common/codec/reason_codes.h"
#include "common/codec/validate_payloads.h"

namespace probity::codec::internal {

Result CheckReferral(const v1::Referral& r) {
  CODEC_RETURN_IF_REJECTED(CheckRequired("referral.ubrn", r.ubrn()));
  bool ubrn_ok = r.ubrn().size() == 12;
  for (char c : r.ubrn()) ubrn_ok = ubrn_ok && IsDigit(c);
  if (!ubrn_ok) {
    return Reject(reason::kInvalidUbrn,
                  "referral.ubrn " + Quote(r.ubrn()) + " is not an e-RS UBRN (12 digits)");
  }
  CODEC_RETURN_IF_REJECTED(
      CheckText("referral.specialty_code", r.specialty_code(), false, kMaxNameLength));
  const std::string& tfc = r.treatment_function_code();
  if (!tfc.empty() &&
      (tfc.size() != 3 || !IsDigit(tfc[0]) || !IsDigit(tfc[1]) || !IsDigit(tfc[2]))) {
    return Reject(reason::kInvalidTreatmentFunctionCode,
                  "referral.treatment_function_code " + Quote(tfc) +
                      " is not a treatment function code (3 digits, e.g. 320)");
  }
  CODEC_RETURN_IF_REJECTED(
      CheckEnumSet("referral.priority", r.priority(), v1::ReferralPriority_descriptor()));
  CODEC_RETURN_IF_REJECTED(CheckOrgCode("referral.provider_code", r.provider_code()));
  CODEC_RETURN_IF_REJECTED(CheckId("referral.patient_ref", r.patient_ref(), false));
  return std::nullopt;
}

}  // namespace probity::codec::internal
