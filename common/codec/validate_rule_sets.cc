#include <string>

#include "common/codec/escape.h"
#include "common/codec/field_checks.h"
#include "common/codec/reason_codes.h"
#include "common/codec/validate_payloads.h"
#include "common/crypto/sha256.h"

namespace probity::codec::internal {

Result CheckRuleSet(const v1::RuleSetPublished& r, const Policy& p) {
  CODEC_RETURN_IF_REJECTED(CheckText("rule_set.name", r.name(), true, kMaxIdLength));
  CODEC_RETURN_IF_REJECTED(CheckText("rule_set.version", r.version(), false, kMaxIdLength));
  CODEC_RETURN_IF_REJECTED(CheckRequired("rule_set.yaml_content", r.yaml_content()));
  CODEC_RETURN_IF_REJECTED(
      CheckLength("rule_set.yaml_content", r.yaml_content(), p.max_rule_set_bytes));
  CODEC_RETURN_IF_REJECTED(CheckHexDigest("rule_set.sha256_hex", r.sha256_hex(), true));
  std::string actual = crypto::Sha256Hex(r.yaml_content());
  if (actual != r.sha256_hex()) {
    return Reject(reason::kRuleSetHashMismatch,
                  "rule_set.sha256_hex " + Quote(r.sha256_hex(), 64) +
                      " is not the SHA-256 of yaml_content, which is '" + actual + "'");
  }
  return std::nullopt;
}

Result CheckHoldPolicy(const v1::HoldPolicyPublished& h, const Policy& p) {
  CODEC_RETURN_IF_REJECTED(CheckText("hold_policy.name", h.name(), true, kMaxIdLength));
  CODEC_RETURN_IF_REJECTED(CheckText("hold_policy.version", h.version(), false, kMaxIdLength));
  CODEC_RETURN_IF_REJECTED(CheckRequired("hold_policy.yaml_content", h.yaml_content()));
  CODEC_RETURN_IF_REJECTED(
      CheckLength("hold_policy.yaml_content", h.yaml_content(), p.max_rule_set_bytes));
  CODEC_RETURN_IF_REJECTED(CheckHexDigest("hold_policy.sha256_hex", h.sha256_hex(), true));
  std::string actual = crypto::Sha256Hex(h.yaml_content());
  if (actual != h.sha256_hex()) {
    return Reject(reason::kPolicyHashMismatch,
                  "hold_policy.sha256_hex " + Quote(h.sha256_hex(), 64) +
                      " is not the SHA-256 of yaml_content, which is '" + actual + "'");
  }
  return std::nullopt;
}

}  // namespace probity::codec::internal
