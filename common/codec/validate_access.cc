#include <string>

#include "common/codec/field_checks.h"
#include "common/codec/reason_codes.h"
#include "common/codec/validate_payloads.h"

namespace probity::codec::internal {

Result CheckAccessRecord(const v1::AccessRecord& a) {
  CODEC_RETURN_IF_REJECTED(
      CheckText("access_record.principal", a.principal(), true, kMaxNameLength));
  CODEC_RETURN_IF_REJECTED(CheckId("access_record.role", a.role(), true));
  CODEC_RETURN_IF_REJECTED(CheckId("access_record.action", a.action(), true));
  CODEC_RETURN_IF_REJECTED(
      CheckText("access_record.request_path", a.request_path(), true, kMaxTextLength));
  for (int i = 0; i < a.practice_codes_size(); ++i) {
    CODEC_RETURN_IF_REJECTED(CheckOds("access_record.practice_codes[" + std::to_string(i) + "]",
                                      a.practice_codes(i), true));
  }
  CODEC_RETURN_IF_REJECTED(CheckId("access_record.request_id", a.request_id(), false));
  return std::nullopt;
}

}  // namespace probity::codec::internal
