#include "common/crypto/sha256.h"

#include <openssl/sha.h>

#include "common/encoding/hex.h"

namespace probity::crypto {

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return encoding::HexLower(
      std::string_view(reinterpret_cast<const char*>(digest), SHA256_DIGEST_LENGTH));
}

}  // namespace probity::crypto
