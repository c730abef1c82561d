#include "common/merkle/hasher.h"

// Why the low-level SHA256_Init/Update/Final and not EVP: the tree hashes tiny messages (65 bytes
// for a node, ~200 for a typical leaf), where the per-call setup is a large share of the cost.
// Measured with tests/common/merkle/merkle_bench.cc on the 2-core development VM (OpenSSL 3.0.19,
// CPU time per 65-byte node hash, median of 3):
//   EVP_Digest one-shot with EVP_sha256() (implicit fetch per call) ... 346 ns
//   pre-fetched EVP_MD + one reused EVP_MD_CTX (EVP_DigestInit_ex2) ... 125 ns
//   SHA256_Init/Update/Final on a stack SHA256_CTX (used here) ........ 113 ns
// All run the same assembly compression function; the difference is provider dispatch and
// context bookkeeping. The low-level path is ~10% faster than the best EVP use, needs no
// thread_local context (so no per-thread setup or teardown and no allocation), and cannot fail.
// It is deprecated in OpenSSL 3.0 but still exported by libcrypto.so.3; the warning is silenced
// for this file only. If it is ever removed, switch to a thread_local EVP_MD_CTX with an EVP_MD
// fetched once (the second line above).
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>

#include <cstring>

#include "common/encoding/hex.h"

namespace probity::merkle {
namespace {

constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;

}  // namespace

Hash HashLeaf(std::string_view data) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, &kLeafPrefix, 1);
  SHA256_Update(&ctx, data.data(), data.size());
  Hash out;
  SHA256_Final(out.data(), &ctx);
  return out;
}

Hash HashChildren(const Hash& left, const Hash& right) {
  // One contiguous buffer so the compression function sees a single Update.
  uint8_t buf[1 + 2 * kHashSize];
  buf[0] = kNodePrefix;
  std::memcpy(buf + 1, left.data(), kHashSize);
  std::memcpy(buf + 1 + kHashSize, right.data(), kHashSize);
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, buf, sizeof(buf));
  Hash out;
  SHA256_Final(out.data(), &ctx);
  return out;
}

Hash HashChildrenBytes(std::string_view left, std::string_view right) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, &kNodePrefix, 1);
  SHA256_Update(&ctx, left.data(), left.size());
  SHA256_Update(&ctx, right.data(), right.size());
  Hash out;
  SHA256_Final(out.data(), &ctx);
  return out;
}

Hash Sha256(std::string_view data) {
  Hash h;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), h.data());
  return h;
}

Hash EmptyRoot() {
  static const Hash kEmpty = [] {
    Hash h;
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Final(h.data(), &ctx);
    return h;
  }();
  return kEmpty;
}

std::string ToHex(const Hash& hash) { return encoding::HexLower(AsBytes(hash)); }

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

StatusOr<Hash> HashFromHex(std::string_view hex) {
  if (hex.size() != 2 * kHashSize) {
    return InvalidArgument("hex hash has " + std::to_string(hex.size()) + " characters, want " +
                           std::to_string(2 * kHashSize));
  }
  Hash out;
  for (size_t i = 0; i < kHashSize; ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return InvalidArgument("hex hash has a non-hex character at offset " +
                             std::to_string(hi < 0 ? 2 * i : 2 * i + 1));
    }
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string ToBase64(const Hash& hash) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((kHashSize + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= kHashSize; i += 3) {
    uint32_t v = uint32_t{hash[i]} << 16 | uint32_t{hash[i + 1]} << 8 | hash[i + 2];
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  size_t rest = kHashSize - i;  // 32 % 3 == 2
  if (rest > 0) {
    uint32_t v = uint32_t{hash[i]} << 16 | (rest == 2 ? uint32_t{hash[i + 1]} << 8 : 0);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

StatusOr<Hash> HashFromBase64(std::string_view text) {
  // 32 bytes: ten 3-byte groups (40 symbols), then 2 bytes in 3 symbols and one '='.
  if (text.size() != 44 || text[43] != '=') {
    return InvalidArgument("base64 hash is not 44 characters ending in one '='");
  }
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  uint64_t bits = 0;
  int nbits = 0;
  size_t n = 0;
  Hash out;
  for (size_t i = 0; i < 43; ++i) {
    const int v = value(text[i]);
    if (v < 0) return InvalidArgument("base64 hash has a character outside the alphabet");
    bits = bits << 6 | static_cast<uint64_t>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out[n++] = static_cast<uint8_t>(bits >> nbits);
    }
  }
  if ((bits & ((uint64_t{1} << nbits) - 1)) != 0) {
    return InvalidArgument("base64 hash is not canonical (non-zero unused bits)");
  }
  return out;
}

StatusOr<Hash> HashFromBytes(std::string_view bytes) {
  if (bytes.size() != kHashSize) {
    return InvalidArgument("hash has " + std::to_string(bytes.size()) + " bytes, want " +
                           std::to_string(kHashSize));
  }
  Hash out;
  std::memcpy(out.data(), bytes.data(), kHashSize);
  return out;
}

}  // namespace probity::merkle
