// Standard Webhooks signatures (docs/webhooks.md). The signed content is
//   webhook-id "." webhook-timestamp "." body
// and the webhook-signature header is a space-separated list of "<version>,<base64 signature>":
//   v1a  Ed25519, the default. The secret key is a signed-note signer key (common/note, the same
//        format and code as the log's checkpoint key, kept in DATA_DIR/keys/webhooks/); receivers
//        get the public key as "whpk_" base64(32-byte public key), published in
//        DATA_DIR/keys/webhooks.pub beside the log's verifier key.
//   v1   HMAC-SHA256 with a secret shared with one endpoint: "whsec_" base64(24..64 bytes).
// During a rotation the header carries one signature per configured key, newest first; a
// receiver accepts the webhook if any one of them verifies with a key it trusts.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/note/note.h"
#include "common/status/status.h"

namespace probity::webhooks {

// One signing key. Copyable; thread-safe.
class SigningKey {
 public:
  static SigningKey Ed25519(note::Signer signer);
  // "whsec_" base64(24..64 bytes). kInvalidArgument otherwise; the message never echoes it.
  static StatusOr<SigningKey> Hmac(std::string_view secret);
  // A fresh "whsec_" secret of 32 bytes from OpenSSL's DRBG.
  static StatusOr<std::string> GenerateHmacSecret();

  // "whpk_..." for an Ed25519 key; "" for an HMAC secret (never published).
  std::string public_key() const;
  // "v1a,<base64>" or "v1,<base64>" over id "." timestamp "." body.
  StatusOr<std::string> Sign(std::string_view id, int64_t timestamp, std::string_view body) const;

 private:
  std::optional<note::Signer> ed25519_;
  std::string hmac_key_;  // raw bytes
};

// The webhook-signature header value: one signature per key, in order, space-separated.
// kInvalidArgument if keys is empty or id holds a '.'.
StatusOr<std::string> SignatureHeader(const std::vector<SigningKey>& keys, std::string_view id,
                                      int64_t timestamp, std::string_view body);

}  // namespace probity::webhooks
