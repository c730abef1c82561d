#include <string>

#include "common/codec/field_checks.h"
#include "common/codec/reason_codes.h"
#include "common/codec/validate_payloads.h"

namespace probity::codec::internal {

Result CheckFlag(const v1::Flag& f, const Policy& p, Micros now) {
  CODEC_RETURN_IF_REJECTED(CheckHexDigest("flag.flag_id", f.flag_id(), true));
  CODEC_RETURN_IF_REJECTED(CheckId("flag.rule_id", f.rule_id(), true));
  CODEC_RETURN_IF_REJECTED(CheckHexDigest("flag.rule_set_hash", f.rule_set_hash(), false));
  CODEC_RETURN_IF_REJECTED(CheckOrgCode("flag.icb_code", f.icb_code()));
  CODEC_RETURN_IF_REJECTED(CheckEnumSet("flag.severity", f.severity(), v1::Severity_descriptor()));
  Micros start = 0, end = 0;
  CODEC_RETURN_IF_REJECTED(CheckTimestamp("flag.window_start", f.has_window_start(),
                                          f.window_start(), false, Future::kAllowed, p, now,
                                          &start));
  CODEC_RETURN_IF_REJECTED(CheckTimestamp("flag.window_end", f.has_window_end(), f.window_end(),
                                          false, Future::kAllowed, p, now, &end));
  if (f.has_window_start() && f.has_window_end()) {
    CODEC_RETURN_IF_REJECTED(CheckOrder("flag.window_start", start, "flag.window_end", end));
  }
  CODEC_RETURN_IF_REJECTED(CheckFinite("flag.observed", f.observed()));
  CODEC_RETURN_IF_REJECTED(CheckFinite("flag.expected", f.expected()));
  CODEC_RETURN_IF_REJECTED(CheckFinite("flag.lower_limit", f.lower_limit()));
  CODEC_RETURN_IF_REJECTED(CheckFinite("flag.upper_limit", f.upper_limit()));
  if (f.has_baseline()) {
    const v1::PeerBaseline& b = f.baseline();
    CODEC_RETURN_IF_REJECTED(CheckText("flag.baseline.group", b.group(), false, kMaxNameLength));
    CODEC_RETURN_IF_REJECTED(CheckFinite("flag.baseline.median", b.median()));
    CODEC_RETURN_IF_REJECTED(CheckFinite("flag.baseline.mad", b.mad()));
    CODEC_RETURN_IF_REJECTED(CheckFinite("flag.baseline.rate", b.rate()));
  }
  if (static_cast<size_t>(f.evidence_size()) > p.max_flag_evidence) {
    return Reject(reason::kValueOutOfRange,
                  "flag.evidence has " + std::to_string(f.evidence_size()) +
                      " entries, over the limit of " + std::to_string(p.max_flag_evidence));
  }
  for (int i = 0; i < f.evidence_size(); ++i) {
    CODEC_RETURN_IF_REJECTED(CheckId("flag.evidence[" + std::to_string(i) + "].event_id",
                                     f.evidence(i).event_id(), false));
  }
  CODEC_RETURN_IF_REJECTED(CheckText("flag.summary", f.summary(), false, kMaxTextLength));
  CODEC_RETURN_IF_REJECTED(CheckId("flag.claim_id", f.claim_id(), false));
  CODEC_RETURN_IF_REJECTED(CheckId("flag.rule_kind", f.rule_kind(), false));
  return std::nullopt;
}

}  // namespace probity::codec::internal
