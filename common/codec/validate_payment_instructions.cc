#include "common/codec/field_checks.h"
#include "common/codec/reason_codes.h"
#include "common/codec/validate_payloads.h"

namespace probity::codec::internal {

Result CheckPaymentInstruction(const v1::PaymentInstruction& i, const Policy& p) {
  CODEC_RETURN_IF_REJECTED(CheckId("payment_instruction.instruction_id", i.instruction_id(), true));
  CODEC_RETURN_IF_REJECTED(CheckId("payment_instruction.claim_id", i.claim_id(), true));
  CODEC_RETURN_IF_REJECTED(
      CheckEnumSet("payment_instruction.action", i.action(), v1::PaymentAction_descriptor()));
  CODEC_RETURN_IF_REJECTED(CheckHexDigest("payment_instruction.flag_id", i.flag_id(), false));
  CODEC_RETURN_IF_REJECTED(
      CheckRange("payment_instruction.amount_pence", i.amount_pence(), 0, p.max_amount_pence));
  CODEC_RETURN_IF_REJECTED(
      CheckText("payment_instruction.reason", i.reason(), false, kMaxTextLength));
  return std::nullopt;
}

}  // namespace probity::codec::internal
