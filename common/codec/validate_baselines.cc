#include <string>

#include "common/codec/field_checks.h"
#include "common/codec/reason_codes.h"
#include "common/codec/validate_payloads.h"

namespace probity::codec::internal {

Result CheckBaseline(const v1::Baseline& b, const Policy& p, Micros now) {
  CODEC_RETURN_IF_REJECTED(CheckHexDigest("baseline.baseline_id", b.baseline_id(), true));
  CODEC_RETURN_IF_REJECTED(CheckId("baseline.rule_id", b.rule_id(), true));
  CODEC_RETURN_IF_REJECTED(CheckHexDigest("baseline.rule_set_hash", b.rule_set_hash(), false));
  CODEC_RETURN_IF_REJECTED(CheckText("baseline.group", b.group(), true, kMaxNameLength));
  Micros start = 0, end = 0;
  CODEC_RETURN_IF_REJECTED(CheckTimestamp("baseline.window_start", b.has_window_start(),
                                          b.window_start(), false, Future::kAllowed, p, now,
                                          &start));
  CODEC_RETURN_IF_REJECTED(CheckTimestamp("baseline.window_end", b.has_window_end(), b.window_end(),
                                          false, Future::kAllowed, p, now, &end));
  if (b.has_window_start() && b.has_window_end()) {
    CODEC_RETURN_IF_REJECTED(
        CheckOrder("baseline.window_start", start, "baseline.window_end", end));
  }
  for (int i = 0; i < b.values_size(); ++i) {
    const v1::PeerValue& v = b.values(i);
    const std::string at = "baseline.values[" + std::to_string(i) + "]";
    CODEC_RETURN_IF_REJECTED(CheckOds(at + ".practice_code", v.practice_code(), true));
    CODEC_RETURN_IF_REJECTED(CheckFinite(at + ".value", v.value()));
    CODEC_RETURN_IF_REJECTED(CheckFinite(at + ".numerator", v.numerator()));
    CODEC_RETURN_IF_REJECTED(CheckFinite(at + ".denominator", v.denominator()));
  }
  CODEC_RETURN_IF_REJECTED(CheckFinite("baseline.median", b.median()));
  CODEC_RETURN_IF_REJECTED(CheckFinite("baseline.mad", b.mad()));
  CODEC_RETURN_IF_REJECTED(CheckFinite("baseline.lower_limit", b.lower_limit()));
  CODEC_RETURN_IF_REJECTED(CheckFinite("baseline.upper_limit", b.upper_limit()));
  CODEC_RETURN_IF_REJECTED(CheckFinite("baseline.rate", b.rate()));
  CODEC_RETURN_IF_REJECTED(CheckText("baseline.method", b.method(), false, kMaxTextLength));
  return std::nullopt;
}

Result CheckEndOfData(const v1::EndOfData& e, const Policy& p, Micros now) {
  CODEC_RETURN_IF_REJECTED(CheckId("end_of_data.feed", e.feed(), true));
  Micros until = 0;
  CODEC_RETURN_IF_REJECTED(CheckTimestamp("end_of_data.data_complete_until",
                                          e.has_data_complete_until(), e.data_complete_until(),
                                          true, Future::kAllowed, p, now, &until));
  CODEC_RETURN_IF_REJECTED(CheckText("end_of_data.reason", e.reason(), false, kMaxTextLength));
  return std::nullopt;
}

}  // namespace probity::codec::internal
