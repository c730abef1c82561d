#include "common/merkle/in_memory_tree.h"

#include <string>

namespace probity::merkle {
namespace {

// The largest power of two strictly less than n. REQUIRES: n >= 2.
uint64_t SplitPoint(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

}  // namespace

Hash InMemoryTree::Mth(uint64_t begin, uint64_t end) const {
  const uint64_t n = end - begin;
  if (n == 0) return EmptyRoot();
  if (n == 1) return leaves_[begin];
  const uint64_t k = SplitPoint(n);
  return HashChildren(Mth(begin, begin + k), Mth(begin + k, end));
}

StatusOr<Hash> InMemoryTree::RootAt(uint64_t size) const {
  if (size > leaves_.size()) {
    return InvalidArgument("size " + std::to_string(size) + " beyond tree of " +
                           std::to_string(leaves_.size()));
  }
  return Mth(0, size);
}

void InMemoryTree::Path(uint64_t index, uint64_t begin, uint64_t end,
                        std::vector<Hash>& out) const {
  const uint64_t n = end - begin;
  if (n <= 1) return;
  const uint64_t k = SplitPoint(n);
  if (index < k) {
    Path(index, begin, begin + k, out);
    out.push_back(Mth(begin + k, end));
  } else {
    Path(index - k, begin + k, end, out);
    out.push_back(Mth(begin, begin + k));
  }
}

StatusOr<std::vector<Hash>> InMemoryTree::InclusionProof(uint64_t index, uint64_t size) const {
  if (index >= size || size > leaves_.size()) {
    return InvalidArgument("no inclusion proof for index " + std::to_string(index) + " in size " +
                           std::to_string(size) + " of tree of " + std::to_string(leaves_.size()));
  }
  std::vector<Hash> out;
  Path(index, 0, size, out);
  return out;
}

void InMemoryTree::SubProof(uint64_t m, uint64_t begin, uint64_t end, bool whole,
                            std::vector<Hash>& out) const {
  const uint64_t n = end - begin;
  if (m == n) {
    if (!whole) out.push_back(Mth(begin, end));
    return;
  }
  const uint64_t k = SplitPoint(n);
  if (m <= k) {
    SubProof(m, begin, begin + k, whole, out);
    out.push_back(Mth(begin + k, end));
  } else {
    SubProof(m - k, begin + k, end, false, out);
    out.push_back(Mth(begin, begin + k));
  }
}

StatusOr<std::vector<Hash>> InMemoryTree::ConsistencyProof(uint64_t size1, uint64_t size2) const {
  if (size1 > size2 || size2 > leaves_.size()) {
    return InvalidArgument("no consistency proof from " + std::to_string(size1) + " to " +
                           std::to_string(size2) + " in tree of " + std::to_string(leaves_.size()));
  }
  std::vector<Hash> out;
  if (size1 == 0 || size1 == size2) return out;
  SubProof(size1, 0, size2, true, out);
  return out;
}

}  // namespace probity::merkle
