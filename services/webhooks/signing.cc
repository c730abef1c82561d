#include "services/webhooks/signing.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/note/encoding.h"

namespace probity::webhooks {
namespace {

constexpr std::string_view kHmacPrefix = "whsec_";
constexpr std::string_view kPublicPrefix = "whpk_";

std::string SignedContent(std::string_view id, int64_t timestamp, std::string_view body) {
  std::string s(id);
  s += ".";
  s += std::to_string(timestamp);
  s += ".";
  s += body;
  return s;
}

}  // namespace

SigningKey SigningKey::Ed25519(note::Signer signer) {
  SigningKey k;
  k.ed25519_ = std::move(signer);
  return k;
}

StatusOr<SigningKey> SigningKey::Hmac(std::string_view secret) {
  if (secret.substr(0, kHmacPrefix.size()) != kHmacPrefix) {
    return InvalidArgument("an HMAC webhook secret starts with whsec_");
  }
  auto raw = note::internal::Base64DecodeStrict(secret.substr(kHmacPrefix.size()));
  if (!raw || raw->size() < 24 || raw->size() > 64) {
    return InvalidArgument("an HMAC webhook secret is whsec_ and the base64 of 24 to 64 bytes");
  }
  SigningKey k;
  k.hmac_key_ = std::move(*raw);
  return k;
}

StatusOr<std::string> SigningKey::GenerateHmacSecret() {
  unsigned char buf[32];
  if (RAND_priv_bytes(buf, sizeof(buf)) != 1) return Internal("RAND_priv_bytes failed");
  std::string s(kHmacPrefix);
  s += note::internal::Base64Encode(std::string_view(reinterpret_cast<char*>(buf), sizeof(buf)));
  OPENSSL_cleanse(buf, sizeof(buf));
  return s;
}

std::string SigningKey::public_key() const {
  if (!ed25519_) return "";
  // The verifier key is name "+" hash "+" base64(0x01 || 32-byte public key).
  // The name has no '+', the hash is 8 hex digits; the base64 key may hold '+'.
  const std::string vkey = ed25519_->verifier_key();
  const size_t hash_at = vkey.find('+');
  if (hash_at == std::string::npos || hash_at + 10 > vkey.size()) return "";
  auto raw = note::internal::Base64DecodeStrict(std::string_view(vkey).substr(hash_at + 10));
  if (!raw || raw->size() != 33) return "";
  return std::string(kPublicPrefix) + note::internal::Base64Encode(raw->substr(1));
}

StatusOr<std::string> SigningKey::Sign(std::string_view id, int64_t timestamp,
                                       std::string_view body) const {
  const std::string content = SignedContent(id, timestamp, body);
  if (ed25519_) {
    PROBITY_ASSIGN_OR_RETURN(std::string sig, ed25519_->SignRaw(content));
    return "v1a," + note::internal::Base64Encode(sig);
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), hmac_key_.data(), static_cast<int>(hmac_key_.size()),
            reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &len)) {
    return Internal("HMAC-SHA256 failed");
  }
  return "v1," + note::internal::Base64Encode(std::string_view(reinterpret_cast<char*>(mac), len));
}

StatusOr<std::string> SignatureHeader(const std::vector<SigningKey>& keys, std::string_view id,
                                      int64_t timestamp, std::string_view body) {
  if (keys.empty()) return InvalidArgument("no webhook signing key");
  if (id.find('.') != std::string_view::npos) return InvalidArgument("webhook-id holds a '.'");
  std::string header;
  for (const SigningKey& k : keys) {
    PROBITY_ASSIGN_OR_RETURN(std::string sig, k.Sign(id, timestamp, body));
    if (!header.empty()) header += " ";
    header += sig;
  }
  return header;
}

}  // namespace probity::webhooks
