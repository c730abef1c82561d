#include "common/merkle/proof.h"

#include <bit>

#include "common/merkle/compact_range.h"

namespace probity::merkle {
namespace {

// x >> s for any s (a shift by >= 64 is undefined in C++).
constexpr uint64_t Shr(uint64_t x, uint32_t s) { return s >= 64 ? 0 : x >> s; }

// The shape of the path from node (level, index) to the root of a tree whose last node at that
// level has index `last` (REQUIRES index <= last). Below `inner` levels up, the path node has a
// sibling at every level (the highest of them possibly ephemeral); above, the path runs along
// the right border and has a (left) sibling only where `index` has a 1 bit.
struct PathShape {
  uint32_t inner;
  uint32_t border;
  size_t size() const { return size_t{inner} + border; }
};
PathShape ShapeOf(uint64_t index, uint64_t last) {
  const uint32_t inner = static_cast<uint32_t>(std::bit_width(index ^ last));
  return {inner, static_cast<uint32_t>(std::popcount(Shr(index, inner)))};
}

void AddEntry(ProofPlan& plan, NodeId node) {
  plan.nodes.push_back(node);
  plan.entry_ends.push_back(static_cast<uint32_t>(plan.nodes.size()));
}

// Appends to `plan` the path from the perfect node (level, index) to the root of the tree of
// `size` leaves. REQUIRES: (index + 1) << level <= size.
void AddPath(ProofPlan& plan, uint32_t level, uint64_t index, uint64_t size) {
  const uint64_t last = (size - 1) >> level;
  const PathShape shape = ShapeOf(index, last);
  for (uint32_t l = 0; l < shape.inner; ++l) {
    const uint32_t at = level + l;
    const uint64_t node = index >> l;
    const uint64_t sibling = node ^ 1;
    if (sibling < node || sibling < ((size - 1) >> at)) {
      AddEntry(plan, NodeId{at, sibling});  // complete: a later node starts before `size`
    } else {
      // The sibling is the last node of its level and may be partial: its hash in the tree of
      // `size` is the fold of the perfect nodes covering [sibling << at, size).
      for (const NodeId& n : RangeNodes(sibling << at, size)) plan.nodes.push_back(n);
      plan.entry_ends.push_back(static_cast<uint32_t>(plan.nodes.size()));
    }
  }
  for (uint32_t l = shape.inner; l < 64 && (index >> l) != 0; ++l) {
    if ((index >> l) & 1) AddEntry(plan, NodeId{level + l, (index >> l) ^ 1});
  }
}

std::string Hex(const Hash& h) { return ToHex(h); }

// Folds `proof[begin, end)` into `h` along the path of `index`: a 1 bit means the proof hash is
// the left sibling. With only_left, right siblings are skipped (used to rebuild an old root).
Hash ChainInner(Hash h, const std::vector<Hash>& proof, size_t begin, uint32_t inner,
                uint64_t index, bool only_left) {
  for (uint32_t l = 0; l < inner; ++l) {
    const Hash& p = proof[begin + l];
    if ((index >> l) & 1) {
      h = HashChildren(p, h);
    } else if (!only_left) {
      h = HashChildren(h, p);
    }
  }
  return h;
}
Hash ChainBorder(Hash h, const std::vector<Hash>& proof, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) h = HashChildren(proof[i], h);
  return h;
}

}  // namespace

StatusOr<std::vector<Hash>> ProofPlan::Assemble(const std::vector<Hash>& fetched) const {
  if (fetched.size() != nodes.size()) {
    return InvalidArgument("proof plan has " + std::to_string(nodes.size()) + " nodes, got " +
                           std::to_string(fetched.size()) + " hashes");
  }
  std::vector<Hash> proof;
  proof.reserve(entry_ends.size());
  size_t begin = 0;
  for (uint32_t end : entry_ends) {
    proof.push_back(end - begin == 1 ? fetched[begin] : FoldRight(fetched, begin, end));
    begin = end;
  }
  return proof;
}

StatusOr<ProofPlan> InclusionPlan(uint64_t index, uint64_t size) {
  if (index >= size) {
    return InvalidArgument("leaf index " + std::to_string(index) + " is not in a tree of size " +
                           std::to_string(size));
  }
  ProofPlan plan;
  AddPath(plan, 0, index, size);
  return plan;
}

StatusOr<ProofPlan> ConsistencyPlan(uint64_t size1, uint64_t size2) {
  if (size1 > size2) {
    return InvalidArgument("consistency from size " + std::to_string(size1) +
                           " to the smaller size " + std::to_string(size2));
  }
  ProofPlan plan;
  if (size1 == 0 || size1 == size2) return plan;
  // The largest perfect subtree ending at size1 is the seed; the proof is its hash (omitted when
  // it is the whole old tree, which the verifier knows as root1) and its path in the new tree.
  const uint32_t level = static_cast<uint32_t>(std::countr_zero(size1));
  const uint64_t index = (size1 - 1) >> level;
  if (index != 0) AddEntry(plan, NodeId{level, index});
  AddPath(plan, level, index, size2);
  return plan;
}

size_t InclusionProofSize(uint64_t index, uint64_t size) {
  if (index >= size) return 0;
  return ShapeOf(index, size - 1).size();
}

size_t ConsistencyProofSize(uint64_t size1, uint64_t size2) {
  if (size1 == 0 || size1 >= size2) return 0;
  const uint32_t level = static_cast<uint32_t>(std::countr_zero(size1));
  const uint64_t index = (size1 - 1) >> level;
  return (index != 0 ? 1 : 0) + ShapeOf(index, (size2 - 1) >> level).size();
}

StatusOr<Hash> RootFromInclusionProof(uint64_t index, uint64_t size, const Hash& leaf_hash,
                                      const std::vector<Hash>& proof) {
  if (index >= size) {
    return InvalidArgument("leaf index " + std::to_string(index) + " is not in a tree of size " +
                           std::to_string(size));
  }
  const PathShape shape = ShapeOf(index, size - 1);
  if (proof.size() != shape.size()) {
    return InvalidArgument("inclusion proof has " + std::to_string(proof.size()) +
                           " hashes, want " + std::to_string(shape.size()) + " for index " +
                           std::to_string(index) + " in tree of " + std::to_string(size));
  }
  Hash h = ChainInner(leaf_hash, proof, 0, shape.inner, index, /*only_left=*/false);
  return ChainBorder(h, proof, shape.inner, proof.size());
}

Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf_hash,
                       const std::vector<Hash>& proof, const Hash& root) {
  PROBITY_ASSIGN_OR_RETURN(Hash got, RootFromInclusionProof(index, size, leaf_hash, proof));
  if (got != root) {
    return DataLoss("inclusion proof for index " + std::to_string(index) + " in tree of " +
                    std::to_string(size) + " leads to root " + Hex(got) + ", want " + Hex(root));
  }
  return Status::Ok();
}

Status VerifyConsistency(uint64_t size1, uint64_t size2, const std::vector<Hash>& proof,
                         const Hash& root1, const Hash& root2) {
  if (size1 > size2) {
    return InvalidArgument("consistency from size " + std::to_string(size1) +
                           " to the smaller size " + std::to_string(size2));
  }
  if (size1 == 0) {
    return InvalidArgument("consistency proof from the empty tree is meaningless (size2 " +
                           std::to_string(size2) + ")");
  }
  if (size1 == size2) {
    if (!proof.empty()) {
      return InvalidArgument("consistency proof between equal sizes " + std::to_string(size1) +
                             " has " + std::to_string(proof.size()) + " hashes, want 0");
    }
    if (root1 != root2) {
      return DataLoss("trees of equal size " + std::to_string(size1) + " have different roots " +
                      Hex(root1) + " and " + Hex(root2));
    }
    return Status::Ok();
  }
  const uint32_t level = static_cast<uint32_t>(std::countr_zero(size1));
  const uint64_t index = (size1 - 1) >> level;
  const PathShape shape = ShapeOf(index, (size2 - 1) >> level);
  const size_t start = index != 0 ? 1 : 0;
  const size_t want = start + shape.size();
  if (proof.size() != want) {
    return InvalidArgument("consistency proof has " + std::to_string(proof.size()) +
                           " hashes, want " + std::to_string(want) + " from size " +
                           std::to_string(size1) + " to " + std::to_string(size2));
  }
  const Hash& seed = index != 0 ? proof[0] : root1;
  const size_t border_begin = start + shape.inner;
  Hash old_root = ChainInner(seed, proof, start, shape.inner, index, /*only_left=*/true);
  old_root = ChainBorder(old_root, proof, border_begin, proof.size());
  if (old_root != root1) {
    return DataLoss("consistency proof from size " + std::to_string(size1) + " to " +
                    std::to_string(size2) + " leads to old root " + Hex(old_root) + ", want " +
                    Hex(root1));
  }
  Hash new_root = ChainInner(seed, proof, start, shape.inner, index, /*only_left=*/false);
  new_root = ChainBorder(new_root, proof, border_begin, proof.size());
  if (new_root != root2) {
    return DataLoss("consistency proof from size " + std::to_string(size1) + " to " +
                    std::to_string(size2) + " leads to new root " + Hex(new_root) + ", want " +
                    Hex(root2));
  }
  return Status::Ok();
}

namespace {
Status ToHashes(const std::vector<std::string>& in, std::vector<Hash>& out) {
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i].size() != kHashSize) {
      return InvalidArgument("proof[" + std::to_string(i) + "] has " +
                             std::to_string(in[i].size()) + " bytes, want " +
                             std::to_string(kHashSize));
    }
    out.push_back(*HashFromBytes(in[i]));
  }
  return Status::Ok();
}
StatusOr<Hash> Named(std::string_view bytes, const char* name) {
  if (bytes.size() != kHashSize) {
    return InvalidArgument(std::string(name) + " has " + std::to_string(bytes.size()) +
                           " bytes, want " + std::to_string(kHashSize));
  }
  return HashFromBytes(bytes);
}
}  // namespace

Status VerifyInclusionBytes(uint64_t index, uint64_t size, std::string_view leaf_hash,
                            const std::vector<std::string>& proof, std::string_view root) {
  PROBITY_ASSIGN_OR_RETURN(Hash leaf, Named(leaf_hash, "leaf hash"));
  PROBITY_ASSIGN_OR_RETURN(Hash want, Named(root, "root"));
  std::vector<Hash> hashes;
  PROBITY_RETURN_IF_ERROR(ToHashes(proof, hashes));
  return VerifyInclusion(index, size, leaf, hashes, want);
}

Status VerifyConsistencyBytes(uint64_t size1, uint64_t size2, const std::vector<std::string>& proof,
                              std::string_view root1, std::string_view root2) {
  if (size1 > size2 || size1 == 0) {
    // The typed verifier rejects these sizes before it looks at the proof or the roots.
    return VerifyConsistency(size1, size2, {}, Hash{}, Hash{});
  }
  if (size1 == size2) {
    if (!proof.empty()) {
      return InvalidArgument("consistency proof between equal sizes " + std::to_string(size1) +
                             " has " + std::to_string(proof.size()) + " hashes, want 0");
    }
    if (root1 != root2) {
      return DataLoss("trees of equal size " + std::to_string(size1) + " have different roots");
    }
    return Status::Ok();
  }
  PROBITY_ASSIGN_OR_RETURN(Hash r1, Named(root1, "root1"));
  PROBITY_ASSIGN_OR_RETURN(Hash r2, Named(root2, "root2"));
  std::vector<Hash> hashes;
  PROBITY_RETURN_IF_ERROR(ToHashes(proof, hashes));
  return VerifyConsistency(size1, size2, hashes, r1, r2);
}

}  // namespace probity::merkle
