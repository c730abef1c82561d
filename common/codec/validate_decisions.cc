#include "common/codec/field_checks.h"
#include "common/codec/reason_codes.h"
#include "common/codec/validate_payloads.h"

namespace probity::codec::internal {

Result CheckFlagDecision(const v1::FlagDecision& d) {
  CODEC_RETURN_IF_REJECTED(CheckHexDigest("flag_decision.flag_id", d.flag_id(), true));
  CODEC_RETURN_IF_REJECTED(
      CheckEnumSet("flag_decision.outcome", d.outcome(), v1::DecisionOutcome_descriptor()));
  CODEC_RETURN_IF_REJECTED(CheckText("flag_decision.reason", d.reason(), true, kMaxTextLength));
  CODEC_RETURN_IF_REJECTED(
      CheckText("flag_decision.decided_by", d.decided_by(), false, kMaxNameLength));
  return std::nullopt;
}

}  // namespace probity::codec::internal
