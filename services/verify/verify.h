// Outside verification: what `probity verify` checks, with no store and no service. Material
// comes as bytes (files a third party was handed): a signed checkpoint note, proofs as the JSON
// of proto/probity/v1/proofs.proto messages, an entry's exact leaf bytes. Trust comes from a
// note::TrustPolicy (a log key, or a policy file with witnesses and a quorum).
//
// Hash encoding (docs/checkpoints.md, "Encodings"): Probity prints every hash as standard base64
// with padding (the protobuf JSON mapping of `bytes`, and the encoding of checkpoint roots).
// Every hash input here accepts that, and also 64 hexadecimal digits (either case). The two
// cannot be confused: a 32-byte hash is 44 characters in base64.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/merkle/hasher.h"
#include "common/note/policy.h"
#include "common/status/status.h"
#include "probity/v1/proofs.pb.h"

namespace probity::verify {

// A 32-byte hash as base64 (44 characters) or hex (64 digits). kInvalidArgument otherwise.
StatusOr<merkle::Hash> ParseHash(std::string_view text);

// Parses the JSON of an InclusionProof / ConsistencyProof (field names as printed, or their
// lowerCamelCase forms; hash fields in base64 or hex). kInvalidArgument naming the problem.
// An EntryProof's JSON is accepted where an InclusionProof is expected: its `proof` is used.
StatusOr<v1::InclusionProof> ParseInclusionProof(std::string_view json);
StatusOr<v1::ConsistencyProof> ParseConsistencyProof(std::string_view json);

// Checks a checkpoint note under `policy` (note::TrustPolicy::Open).
StatusOr<note::TrustedCheckpoint> VerifyCheckpoint(const note::TrustPolicy& policy,
                                                   std::string_view signed_note);

// Checks that `proof` proves its leaf is in the tree of `checkpoint`: the proof MUST be for the
// checkpoint's size, and, when `leaf` (the entry's exact bytes) is given, its leaf hash MUST be
// SHA-256(0x00 || leaf). kInvalidArgument for a proof of the wrong shape (sizes, index, number
// of hashes), kDataLoss if the proof leads to another root or the leaf bytes do not match.
Status VerifyInclusion(const note::TrustedCheckpoint& checkpoint, const v1::InclusionProof& proof,
                       const std::optional<std::string>& leaf);

// Checks that `proof` proves `newer` extends `older`: its sizes MUST be the checkpoints', old
// size > 0 (RFC 9162 defines no proof from the empty tree). Errors as VerifyInclusion.
Status VerifyConsistency(const note::TrustedCheckpoint& older, const note::TrustedCheckpoint& newer,
                         const v1::ConsistencyProof& proof);

}  // namespace probity::verify
