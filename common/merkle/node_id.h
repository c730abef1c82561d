// Addresses of perfect subtrees in an RFC 6962 tree.
#pragma once

#include <compare>
#include <cstdint>

namespace probity::merkle {

// The perfect subtree at `level` (0 = a leaf) covering leaves [index << level, (index + 1) <<
// level). A NodeId names a node that exists in every tree of size >= (index + 1) << level; the
// ephemeral nodes of a non-perfect tree's right edge have no NodeId (they are folds of several
// nodes). REQUIRES: level <= 63 and (index + 1) << level does not overflow, for the coverage
// helpers.
struct NodeId {
  uint32_t level = 0;
  uint64_t index = 0;

  // First leaf covered, and one past the last.
  uint64_t begin() const { return index << level; }
  uint64_t end() const { return (index + 1) << level; }
  NodeId Parent() const { return {level + 1, index >> 1}; }
  NodeId Sibling() const { return {level, index ^ 1}; }

  friend bool operator==(const NodeId&, const NodeId&) = default;
  // Orders by level, then index.
  friend auto operator<=>(const NodeId&, const NodeId&) = default;
};

}  // namespace probity::merkle
