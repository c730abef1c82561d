#include "common/merkle/compact_range.h"

#include <algorithm>
#include <string>

namespace probity::merkle {

StatusOr<CompactRange> CompactRange::Create(uint64_t size, std::vector<Hash> hashes) {
  const size_t want = static_cast<size_t>(std::popcount(size));
  if (hashes.size() != want) {
    return InvalidArgument("compact range of size " + std::to_string(size) + " has " +
                           std::to_string(hashes.size()) + " hashes, want " + std::to_string(want));
  }
  CompactRange range;
  range.size_ = size;
  range.hashes_ = std::move(hashes);
  return range;
}

Hash CompactRange::Root() const { return FoldRight(hashes_); }

std::vector<NodeId> RangeNodes(uint64_t begin, uint64_t end) {
  std::vector<NodeId> nodes;
  while (begin < end) {
    // The largest aligned block at `begin` that fits in [begin, end).
    const uint32_t fit = static_cast<uint32_t>(std::bit_width(end - begin)) - 1;
    const uint32_t align = begin == 0 ? 64u : static_cast<uint32_t>(std::countr_zero(begin));
    const uint32_t level = std::min(fit, align);
    nodes.push_back(NodeId{level, begin >> level});
    begin += uint64_t{1} << level;  // <= end, so no overflow
  }
  return nodes;
}

Hash FoldRight(const std::vector<Hash>& hashes) { return FoldRight(hashes, 0, hashes.size()); }

Hash FoldRight(const std::vector<Hash>& hashes, size_t begin, size_t end) {
  if (begin >= end) return EmptyRoot();
  Hash h = hashes[end - 1];
  for (size_t i = end - 1; i > begin; --i) h = HashChildren(hashes[i - 1], h);
  return h;
}

}  // namespace probity::merkle
