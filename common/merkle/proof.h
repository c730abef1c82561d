// RFC 6962 / RFC 9162 inclusion and consistency proofs: planning them over stored perfect nodes
// (the prover side, used by the log store) and verifying them (the client side). Pure maths.
//
// Policy for edge cases, following transparency-dev/merkle (see tests/testdata/README.md):
//  - inclusion: index < size is required; a tree of size 0 has no inclusion proofs.
//  - consistency from size 0 is rejected by the verifiers (RFC 9162 §2.1.4 defines proofs only
//    for 0 < m); a holder of an empty checkpoint has nothing to check. The planner returns an
//    empty plan for it so a server can still answer.
//  - size1 == size2: valid iff the proof is empty and the roots are equal.
// Every size and index is a full uint64; no input overflows or shifts out of range.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/merkle/hasher.h"
#include "common/merkle/node_id.h"
#include "common/status/status.h"

namespace probity::merkle {

// Which perfect nodes a proof is made of and how to combine them. Proof entry i is the fold
// (FoldRight) of the hashes of nodes[entry_ends[i-1] .. entry_ends[i]) (entry_ends[-1] = 0):
// usually one node, several for the "ephemeral" node at the right edge of a non-perfect tree.
// Every node named exists (is perfect) in the tree the plan was made for, so the caller can read
// it from storage.
struct ProofPlan {
  std::vector<NodeId> nodes;
  std::vector<uint32_t> entry_ends;

  // Number of hashes in the assembled proof.
  size_t proof_size() const { return entry_ends.size(); }

  // Builds the proof from the fetched hashes, fetched[i] being the hash of nodes[i].
  // kInvalidArgument if fetched.size() != nodes.size().
  StatusOr<std::vector<Hash>> Assemble(const std::vector<Hash>& fetched) const;
};

// The audit path (RFC 9162 §2.1.3) for leaf `index` in the tree of `size` leaves.
// kInvalidArgument if index >= size.
StatusOr<ProofPlan> InclusionPlan(uint64_t index, uint64_t size);

// The consistency proof (RFC 9162 §2.1.4) between trees of size1 and size2 leaves.
// kInvalidArgument if size1 > size2; an empty plan when size1 == 0 or size1 == size2.
StatusOr<ProofPlan> ConsistencyPlan(uint64_t size1, uint64_t size2);

// The number of hashes in a correct proof (0 for the empty-plan cases). REQUIRES: the same
// argument conditions as the plans; returns 0 where they would fail.
size_t InclusionProofSize(uint64_t index, uint64_t size);
size_t ConsistencyProofSize(uint64_t size1, uint64_t size2);

// The root that `proof` implies for `leaf_hash` at `index` in a tree of `size`.
// kInvalidArgument if index >= size or the proof has the wrong number of hashes.
StatusOr<Hash> RootFromInclusionProof(uint64_t index, uint64_t size, const Hash& leaf_hash,
                                      const std::vector<Hash>& proof);

// OK iff `proof` proves `leaf_hash` is leaf `index` of the tree of `size` with head `root`.
// kInvalidArgument for malformed input (index >= size, wrong proof length), kDataLoss if the
// proof leads to a different root.
Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf_hash,
                       const std::vector<Hash>& proof, const Hash& root);

// OK iff `proof` proves the tree of size2 with head root2 extends the tree of size1 with head
// root1. kInvalidArgument for malformed input (size1 > size2, size1 == 0, wrong proof length),
// kDataLoss if the proof does not lead to root1 and root2.
Status VerifyConsistency(uint64_t size1, uint64_t size2, const std::vector<Hash>& proof,
                         const Hash& root1, const Hash& root2);

// The same verifiers over untrusted byte strings of any length (as decoded from a request).
// A hash that has to enter a computation MUST be exactly 32 bytes (kInvalidArgument otherwise);
// for size1 == size2 with an empty proof the roots are compared bytewise.
Status VerifyInclusionBytes(uint64_t index, uint64_t size, std::string_view leaf_hash,
                            const std::vector<std::string>& proof, std::string_view root);
Status VerifyConsistencyBytes(uint64_t size1, uint64_t size2, const std::vector<std::string>& proof,
                              std::string_view root1, std::string_view root2);

}  // namespace probity::merkle
