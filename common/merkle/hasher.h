// RFC 6962 / RFC 9162 hashing (SHA-256) and the textual encodings of a hash. Pure functions: no
// I/O, no global state beyond a per-thread scratch context, safe to call from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status/status.h"

namespace probity::merkle {

inline constexpr size_t kHashSize = 32;
using Hash = std::array<uint8_t, kHashSize>;

// SHA-256(0x00 || data): the hash of a leaf entry (RFC 6962 §2.1).
Hash HashLeaf(std::string_view data);

// SHA-256(0x01 || left || right): the hash of an interior node.
Hash HashChildren(const Hash& left, const Hash& right);

// SHA-256(0x01 || left || right) for children of any length. Only for test vectors and tools that
// handle untrusted bytes; tree code MUST use HashChildren.
Hash HashChildrenBytes(std::string_view left, std::string_view right);

// Plain SHA-256(data), no prefix: for content digests (dead-letter originals, files), not tree
// nodes.
Hash Sha256(std::string_view data);

// SHA-256(""): the root of the empty tree.
Hash EmptyRoot();

// Lower-case hex, 64 characters.
std::string ToHex(const Hash& hash);
// Parses exactly 64 hex digits (either case). kInvalidArgument otherwise.
StatusOr<Hash> HashFromHex(std::string_view hex);

// Standard base64 (RFC 4648 §4) with padding, 44 characters; the encoding C2SP checkpoints use.
std::string ToBase64(const Hash& hash);
// Parses what ToBase64 prints: exactly 44 characters of the canonical encoding.
// kInvalidArgument otherwise.
StatusOr<Hash> HashFromBase64(std::string_view text);

// Views a hash as bytes (no copy; valid while `hash` lives).
inline std::string_view AsBytes(const Hash& hash) {
  return {reinterpret_cast<const char*>(hash.data()), hash.size()};
}
// Copies 32 bytes into a Hash. kInvalidArgument if `bytes` is not exactly 32 bytes long.
StatusOr<Hash> HashFromBytes(std::string_view bytes);

}  // namespace probity::merkle
