// Helpers shared by the merkle tests and fuzz target: a tile-backed node store fed by
// CompactRange::Append, the way the log store keeps nodes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/merkle/compact_range.h"
#include "common/merkle/proof.h"
#include "common/merkle/tile.h"

namespace probity::merkle::testing {

// Decodes hex of any even length (test vectors hold non-32-byte values on purpose). Aborts on
// malformed hex: the vectors are fixed data.
inline std::string HexToBytes(std::string_view hex) {
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    __builtin_trap();
  };
  if (hex.size() % 2 != 0) __builtin_trap();
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<char>(nib(hex[2 * i]) << 4 | nib(hex[2 * i + 1]));
  }
  return out;
}

// Every perfect node of a growing tree, kept in tiles; the tree head in a CompactRange.
class TiledTree {
 public:
  void AppendHash(const Hash& leaf) {
    range_.Append(leaf, [this](NodeId node, const Hash& h) {
      auto it = tiles_.try_emplace(TileOf(node), TileOf(node)).first;
      Status st = it->second.Set(node, h);
      if (!st.ok()) __builtin_trap();  // CompactRange visits in append order
    });
  }
  const CompactRange& range() const { return range_; }
  const std::map<TileId, Tile>& tiles() const { return tiles_; }

  std::optional<Hash> Get(NodeId node) const {
    auto it = tiles_.find(TileOf(node));
    if (it == tiles_.end()) return std::nullopt;
    return it->second.Get(node);
  }

  // Fetches a plan's nodes and assembles the proof; kNotFound if a planned node is not stored.
  StatusOr<std::vector<Hash>> Build(const ProofPlan& plan) const {
    std::vector<Hash> fetched;
    fetched.reserve(plan.nodes.size());
    for (const NodeId& n : plan.nodes) {
      auto h = Get(n);
      if (!h) {
        return NotFound("node (" + std::to_string(n.level) + "," + std::to_string(n.index) +
                        ") not stored");
      }
      fetched.push_back(*h);
    }
    return plan.Assemble(fetched);
  }
  StatusOr<std::vector<Hash>> Inclusion(uint64_t index, uint64_t size) const {
    PROBITY_ASSIGN_OR_RETURN(ProofPlan plan, InclusionPlan(index, size));
    return Build(plan);
  }
  StatusOr<std::vector<Hash>> Consistency(uint64_t size1, uint64_t size2) const {
    PROBITY_ASSIGN_OR_RETURN(ProofPlan plan, ConsistencyPlan(size1, size2));
    return Build(plan);
  }
  // The root at any size <= range().size(), from stored nodes only.
  StatusOr<Hash> RootAt(uint64_t size) const {
    std::vector<Hash> hashes;
    for (const NodeId& n : RangeNodes(0, size)) {
      auto h = Get(n);
      if (!h) return NotFound("node not stored");
      hashes.push_back(*h);
    }
    return FoldRight(hashes);
  }

 private:
  CompactRange range_;
  std::map<TileId, Tile> tiles_;
};

}  // namespace probity::merkle::testing
