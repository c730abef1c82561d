// The compact range of a tree: the roots of the perfect subtrees that make up leaves [0, size),
// which is all the state needed to append leaves and compute the root (RFC 9162 §2.1.1, the
// "right border" of the tree).
#pragma once

#include <bit>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/merkle/hasher.h"
#include "common/merkle/node_id.h"
#include "common/status/status.h"

namespace probity::merkle {

class CompactRange {
 public:
  // The empty tree.
  CompactRange() = default;

  // A tree of `size` leaves from the hashes of RangeNodes(0, size), largest (leftmost) first.
  // kInvalidArgument unless hashes.size() == popcount(size).
  static StatusOr<CompactRange> Create(uint64_t size, std::vector<Hash> hashes);

  uint64_t size() const { return size_; }
  // The hashes of RangeNodes(0, size()), left to right.
  const std::vector<Hash>& hashes() const { return hashes_; }

  // Appends a leaf hash. Calls visit(NodeId, const Hash&) first for the new leaf node
  // (0, size()) and then for every perfect node the append completes, bottom-up, so a caller
  // that stores every visited node stores every perfect node of the tree exactly once and in
  // append order. O(log n) hashes. The visitor MUST NOT touch this CompactRange.
  // REQUIRES: size() < UINT64_MAX.
  template <typename Visitor>
  void Append(const Hash& leaf, Visitor&& visit) {
    uint64_t index = size_;
    uint32_t level = 0;
    Hash h = leaf;
    visit(NodeId{0, index}, static_cast<const Hash&>(h));
    while (index & 1) {
      h = HashChildren(hashes_.back(), h);
      hashes_.pop_back();
      index >>= 1;
      ++level;
      visit(NodeId{level, index}, static_cast<const Hash&>(h));
    }
    hashes_.push_back(h);
    ++size_;
  }
  void Append(const Hash& leaf) {
    Append(leaf, [](NodeId, const Hash&) {});
  }

  // The tree head of leaves [0, size()); EmptyRoot() when empty. O(log n) hashes.
  Hash Root() const;

  friend bool operator==(const CompactRange&, const CompactRange&) = default;

 private:
  uint64_t size_ = 0;
  std::vector<Hash> hashes_;  // invariant: hashes_.size() == popcount(size_)
};

// The minimal decomposition of leaves [begin, end) into perfect subtrees, left to right: sizes
// rise while the range's start is unaligned, then fall. Empty when begin >= end. Never
// overflows for any uint64 arguments.
std::vector<NodeId> RangeNodes(uint64_t begin, uint64_t end);

// The RFC 6962 hash of the leaves covered by a contiguous list of perfect subtree hashes whose
// sizes fall left to right (e.g. a compact range [0, n), or RangeNodes(b, n) for an aligned b):
// HashChildren(h[0], HashChildren(h[1], ... h[k-1])). EmptyRoot() for an empty list.
Hash FoldRight(const std::vector<Hash>& hashes);
// The same over hashes[begin, end). REQUIRES: begin <= end <= hashes.size().
Hash FoldRight(const std::vector<Hash>& hashes, size_t begin, size_t end);

}  // namespace probity::merkle
