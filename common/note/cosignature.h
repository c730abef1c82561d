// Witness cosignatures (c2sp.org/tlog-cosignature, the Ed25519 cosignature/v1 type, key type
// 0x04). A cosignature is a note signature line on a checkpoint:
//
//   — <witness name> base64(key hash (4) || timestamp (8, big-endian) || Ed25519 signature (64))
//
// where the key hash is KeyHash(name, 0x04 || public key) and the signature is over
//
//   "cosignature/v1\n" "time " <timestamp, decimal> "\n" <checkpoint text, with its final "\n">
//
// The timestamp is POSIX seconds, 0 < t <= 2^63 - 1. It states that at that time this was the
// largest tree the witness had seen consistent for the log. docs/checkpoints.md has the formats.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/note/note.h"
#include "common/status/status.h"

namespace probity::note {

// The message a cosignature/v1 signs.
std::string CosignedMessage(std::string_view checkpoint_text, uint64_t timestamp);

// The cosignature line (with its final "\n") by `cosigner` on the checkpoint text at
// `timestamp`. kFailedPrecondition unless cosigner.alg() == kAlgCosignatureV1;
// kInvalidArgument if timestamp is 0 or above 2^63 - 1.
StatusOr<std::string> Cosign(const Signer& cosigner, std::string_view checkpoint_text,
                             uint64_t timestamp);

// Checks one signature line of a note (as Open reports it) against a cosigner key: kNotFound if
// its name and key hash (as reported, and as encoded in its bytes) are not the key's (not this
// witness's line); kInvalidArgument if it is
// not 72 bytes or its timestamp is 0 or above 2^63 - 1; kDataLoss if the signature does not
// verify. Returns the timestamp. REQUIRES: cosigner.alg() == kAlgCosignatureV1 (else
// kFailedPrecondition).
StatusOr<uint64_t> VerifyCosignature(const Verifier& cosigner, std::string_view checkpoint_text,
                                     const Signature& line);

}  // namespace probity::note
