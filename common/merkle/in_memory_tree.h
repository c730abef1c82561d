// A naive reference Merkle tree: all leaf hashes in memory, roots and proofs computed by the
// recursive definitions of RFC 9162 §2.1 (MTH, PATH, PROOF/SUBPROOF). O(n) per call. For tests
// and as an oracle for the tiled implementation; MUST NOT be used on a serving path.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/merkle/hasher.h"
#include "common/status/status.h"

namespace probity::merkle {

class InMemoryTree {
 public:
  InMemoryTree() = default;

  // Appends HashLeaf(data) / a ready leaf hash.
  void Append(std::string_view data) { leaves_.push_back(HashLeaf(data)); }
  void AppendHash(const Hash& leaf_hash) { leaves_.push_back(leaf_hash); }

  uint64_t size() const { return leaves_.size(); }
  // REQUIRES: index < size().
  const Hash& LeafHash(uint64_t index) const { return leaves_[index]; }

  // MTH(D[0:size]); kInvalidArgument if size > size().
  StatusOr<Hash> RootAt(uint64_t size) const;
  Hash Root() const { return Mth(0, leaves_.size()); }

  // PATH(index, D[0:size]); kInvalidArgument unless index < size <= size().
  StatusOr<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size) const;

  // PROOF(size1, D[0:size2]); empty when size1 == 0 or size1 == size2.
  // kInvalidArgument unless size1 <= size2 <= size().
  StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t size1, uint64_t size2) const;

 private:
  Hash Mth(uint64_t begin, uint64_t end) const;
  void Path(uint64_t index, uint64_t begin, uint64_t end, std::vector<Hash>& out) const;
  void SubProof(uint64_t m, uint64_t begin, uint64_t end, bool whole, std::vector<Hash>& out) const;

  std::vector<Hash> leaves_;
};

}  // namespace probity::merkle
