#include <cstdlib>
#include <string>

#include "common/codec/field_checks.h"
#include "common/codec/reason_codes.h"
#include "common/codec/validate_payloads.h"

namespace probity::codec::internal {

Result CheckClaim(const v1::Claim& c, const Policy& p, Micros now) {
  CODEC_RETURN_IF_REJECTED(CheckId("claim.claim_id", c.claim_id(), true));
  CODEC_RETURN_IF_REJECTED(
      CheckEnumSet("claim.stream", c.stream(), v1::PaymentStream_descriptor()));
  CODEC_RETURN_IF_REJECTED(CheckId("claim.service_code", c.service_code(), false, kMaxCodeLength));
  // Achievement is claimed per indicator; aspiration is a monthly payment on account of the
  // year's expected points and carries no indicator.
  CODEC_RETURN_IF_REJECTED(CheckId("claim.indicator_code", c.indicator_code(),
                                   c.stream() == v1::PAYMENT_STREAM_QOF_ACHIEVEMENT,
                                   kMaxCodeLength));
  Micros start = 0, end = 0;
  CODEC_RETURN_IF_REJECTED(CheckTimestamp("claim.period_start", c.has_period_start(),
                                          c.period_start(), true, Future::kAllowed, p, now,
                                          &start));
  CODEC_RETURN_IF_REJECTED(CheckTimestamp("claim.period_end", c.has_period_end(), c.period_end(),
                                          true, Future::kAllowed, p, now, &end));
  CODEC_RETURN_IF_REJECTED(CheckOrder("claim.period_start", start, "claim.period_end", end));
  CODEC_RETURN_IF_REJECTED(CheckRange("claim.quantity", c.quantity(), 0, p.max_quantity));
  CODEC_RETURN_IF_REJECTED(
      CheckRange("claim.unit_price_pence", c.unit_price_pence(), 0, p.max_amount_pence));
  CODEC_RETURN_IF_REJECTED(
      CheckRange("claim.amount_pence", c.amount_pence(), 0, p.max_amount_pence));
  if (c.quantity() != 0 && c.unit_price_pence() != 0) {
    // Both are bounded above, so the product fits in 64 bits (<= 1e7 * 1e9 by default; the
    // builtin catches a policy that raises the caps further).
    int64_t expected;
    if (__builtin_mul_overflow(c.quantity(), c.unit_price_pence(), &expected) ||
        std::llabs(c.amount_pence() - expected) > c.quantity()) {
      return Reject(reason::kAmountMismatch,
                    "claim.amount_pence " + std::to_string(c.amount_pence()) +
                        " differs from quantity " + std::to_string(c.quantity()) +
                        " x unit_price_pence " + std::to_string(c.unit_price_pence()) +
                        " by more than 1p per unit");
    }
  }
  CODEC_RETURN_IF_REJECTED(CheckDoubleRange("claim.points_claimed", c.points_claimed(), 0.0, 1e6));
  CODEC_RETURN_IF_REJECTED(
      CheckDoubleRange("claim.points_maximum", c.points_maximum(), 0.0, 1e6,
                       /*lo_exclusive=*/c.stream() == v1::PAYMENT_STREAM_QOF_ACHIEVEMENT));
  CODEC_RETURN_IF_REJECTED(
      CheckRange("claim.eligible_cohort", c.eligible_cohort(), 0, p.max_quantity));
  CODEC_RETURN_IF_REJECTED(CheckId("claim.patient_ref", c.patient_ref(), false));
  return std::nullopt;
}

}  // namespace probity::codec::internal
