#include <string>

#include "common/codec/escape.h"
#include "common/codec/field_checks.h"
#include "common/codec/reason_codes.h"
#include "common/codec/validate_payloads.h"

namespace probity::codec::internal {

Result CheckPracticeUpdate(const v1::PracticeUpdate& u, std::string_view practice_code,
                           const Policy& p) {
  CODEC_RETURN_IF_REJECTED(
      CheckText("practice_update.practice_name", u.practice_name(), false, kMaxNameLength));
  CODEC_RETURN_IF_REJECTED(
      CheckRange("practice_update.list_size", u.list_size(), 0, p.max_list_size));
  CODEC_RETURN_IF_REJECTED(CheckDoubleRange("practice_update.weighted_list_size",
                                            u.weighted_list_size(), 0.0, p.max_weighted_list_size));
  CODEC_RETURN_IF_REJECTED(CheckOrgCode("practice_update.region_code", u.region_code()));
  CODEC_RETURN_IF_REJECTED(CheckOrgCode("practice_update.icb_code", u.icb_code()));
  CODEC_RETURN_IF_REJECTED(CheckOrgCode("practice_update.sub_icb_code", u.sub_icb_code()));
  CODEC_RETURN_IF_REJECTED(
      CheckOds("practice_update.merged_from_practice_code", u.merged_from_practice_code(), false));
  if (!u.merged_from_practice_code().empty() && u.merged_from_practice_code() == practice_code) {
    return Reject(reason::kMergedFromSelf,
                  "practice_update.merged_from_practice_code " +
                      Quote(u.merged_from_practice_code()) +
                      " is the practice itself; a practice cannot merge into itself");
  }
  return std::nullopt;
}

}  // namespace probity::codec::internal
