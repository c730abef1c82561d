// SHA-256 as lower-case hex: the digest Probity prints and compares as text (rule-set hashes,
// flag ids). Merkle tree hashing has its own (common/merkle/hasher.h). Thread-safe, no state.
#pragma once

#include <string>
#include <string_view>

namespace probity::crypto {

// Lower-case hex SHA-256 of `data`: always 64 characters.
std::string Sha256Hex(std::string_view data);

}  // namespace probity::crypto
