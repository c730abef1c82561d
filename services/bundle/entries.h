// Internal to probity_bundle: proving entries against one checkpoint (build) and checking them
// (verify), shared by a flag's bundle (build.cc, verify.cc) and a claim's (claim.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/logstore/reader.h"
#include "common/merkle/hasher.h"
#include "common/note/policy.h"
#include "common/status/status.h"
#include "probity/v1/bundle.pb.h"
#include "probity/v1/proofs.pb.h"
#include "services/bundle/reevaluate.h"

namespace probity::bundle::internal {

inline std::string AsString(const merkle::Hash& h) { return std::string(merkle::AsBytes(h)); }
inline std::string Str(uint64_t v) { return std::to_string(v); }

// ---- Build ----

// The latest stored checkpoint, opened under `trust`. FailedPrecondition when there is none or
// it does not meet the policy.
struct OpenedCheckpoint {
  v1::CheckpointRecord record;
  note::TrustedCheckpoint opened;
};
StatusOr<OpenedCheckpoint> LatestCheckpoint(const logstore::LogReader& reader,
                                            const note::TrustPolicy& trust);

// The Checkpoint message of a stored checkpoint that opened under the policy.
v1::Checkpoint CheckpointMessage(const v1::CheckpointRecord& rec,
                                 const note::TrustedCheckpoint& opened);

// Entry `index` with its inclusion proof in the tree of `size`.
StatusOr<v1::EntryProof> ProveEntry(const logstore::LogReader& reader, uint64_t index,
                                    uint64_t size);

// The flag's bundle against the checkpoint `cp` (Build's contract, without the consistency
// proof): every field but consistency, consistency_from.
StatusOr<v1::DisputeBundle> BuildFlag(const logstore::LogReader& reader, std::string_view flag_id,
                                      const note::TrustPolicy& trust, const OpenedCheckpoint& cp);

// Adds the consistency proof from the stored checkpoint of `old_size` to b.checkpoint.
Status AddConsistency(const logstore::LogReader& reader, const note::TrustPolicy& trust,
                      uint64_t old_size, v1::DisputeBundle* b);

// ---- Verify ----

// The root hash a checkpoint states (InvalidArgument unless 32 bytes); CheckCheckpoints checks it
// against the signed note.
StatusOr<merkle::Hash> StatedRoot(const v1::Checkpoint& c);

// Binds an entry to its proof and the checkpoint (size, root): the proof is there, is for this
// index and size, states the leaf hash computed here, and leads to the root. Then decodes it.
StatusOr<DecodedEntry> CheckEntry(const std::string& what, const v1::EntryProof& e, uint64_t size,
                                  const merkle::Hash& root);

// The bundle's checkpoint (its root hash, its signed note under `trust`, *cosigs the witness
// cosignatures), its consistency proof and old checkpoint when present, and the checkpoint the
// recipient holds (`held`). Returns the signed root.
StatusOr<merkle::Hash> CheckCheckpoints(const v1::DisputeBundle& b, const note::TrustPolicy& trust,
                                        std::optional<std::string_view> held, uint32_t* cosigs,
                                        v1::BundleVerification* out);

// A claim's bundle (claim.cc): every check of docs/bundle.md "Claim bundles", after Verify has
// checked the format, version and policy.
StatusOr<v1::BundleVerification> VerifyClaim(const v1::DisputeBundle& b,
                                             const note::TrustPolicy& trust,
                                             const v1::VerifierPolicy& trusted,
                                             std::optional<std::string_view> held);

}  // namespace probity::bundle::internal
