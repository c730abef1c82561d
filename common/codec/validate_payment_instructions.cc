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
  CODEC_RETURN_IF_REJECTED(CheckId("payment_instruction.paycode", i.paycode(), false));
  CODEC_RETURN_IF_REJECTED(CheckId("payment_instruction.supersedes_instruction_id",
                                   i.supersedes_instruction_id(), false));
  CODEC_RETURN_IF_REJECTED(
      CheckId("payment_instruction.decision_event_id", i.decision_event_id(), false));
  CODEC_RETURN_IF_REJECTED(CheckId("payment_instruction.payment_date", i.payment_date(), false));
  CODEC_RETURN_IF_REJECTED(
      CheckText("payment_instruction.policy_version", i.policy_version(), false, kMaxIdLength));
  CODEC_RETURN_IF_REJECTED(
      CheckHexDigest("payment_instruction.policy_sha256_hex", i.policy_sha256_hex(), false));
  CODEC_RETURN_IF_REJECTED(CheckOrgCode("payment_instruction.icb_code", i.icb_code()));
  return std::nullopt;
}

Result CheckPaymentExport(const v1::PaymentExport& e) {
  CODEC_RETURN_IF_REJECTED(CheckId("payment_export.export_date", e.export_date(), true));
  CODEC_RETURN_IF_REJECTED(CheckId("payment_export.format", e.format(), true));
  CODEC_RETURN_IF_REJECTED(
      CheckText("payment_export.file_name", e.file_name(), false, kMaxNameLength));
  CODEC_RETURN_IF_REJECTED(CheckHexDigest("payment_export.sha256_hex", e.sha256_hex(), true));
  CODEC_RETURN_IF_REJECTED(
      CheckText("payment_export.policy_version", e.policy_version(), false, kMaxIdLength));
  return std::nullopt;
}

}  // namespace probity::codec::internal
