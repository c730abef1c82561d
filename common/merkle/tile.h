// Tiles: the storage grouping of tree nodes. A tile is a perfect subtree of height kTileHeight
// with its top node cut off; tile (t, k) holds the nodes at levels [8t, 8t + 8) below node
// (8t + 8, k). Row r (0..7) of the tile holds nodes (8t + r, k * (256 >> r) + j) for
// j in [0, 256 >> r). The cut-off top node is a row-0 node of tile (t + 1, k >> 8).
//
// Serialized form (the value the log store keeps for a tile; see docs for the key):
//   uint16 big-endian width w (0..256) = number of row-0 nodes present
//   rows 0..7 concatenated; row r is the w >> r hashes of that row, 32 bytes each, left to right
// so a serialized tile is exactly 2 + 32 * sum_{r<8} (w >> r) bytes long.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/merkle/hasher.h"
#include "common/merkle/node_id.h"
#include "common/status/status.h"

namespace probity::merkle {

inline constexpr uint32_t kTileHeight = 8;
inline constexpr uint32_t kTileWidth = 256;  // 1 << kTileHeight

struct TileId {
  uint32_t level = 0;  // tile level t: holds tree levels [8t, 8t + 8)
  uint64_t index = 0;  // k: the tile sits under node (8t + 8, k)

  friend bool operator==(const TileId&, const TileId&) = default;
  friend auto operator<=>(const TileId&, const TileId&) = default;
};

// The tile holding `node`, the node's row in it (0..7) and its offset in the row
// (0 .. (256 >> row) - 1).
TileId TileOf(NodeId node);
inline uint32_t TileRow(NodeId node) { return node.level % kTileHeight; }
inline uint32_t TileOffset(NodeId node) {
  return static_cast<uint32_t>(node.index & ((kTileWidth >> TileRow(node)) - 1));
}
// The node at (row, offset) of tile `id`. REQUIRES: row < 8, offset < 256 >> row.
NodeId TileNode(TileId id, uint32_t row, uint32_t offset);

// A tile, possibly partial. Nodes are added in the order a CompactRange visits them, so a tile
// of width w (row-0 nodes present) holds, once all completed parents are set, w >> r nodes in
// row r. Not thread-safe; a value type.
class Tile {
 public:
  explicit Tile(TileId id) : id_(id) {}

  TileId id() const { return id_; }
  // Number of row-0 nodes present (0..256).
  uint32_t width() const { return static_cast<uint32_t>(rows_[0].size()); }
  // True once all 256 row-0 nodes and all their parents are present.
  bool full() const { return rows_[kTileHeight - 1].size() == 2; }

  // Adds `node` with hash `h`. The node MUST be in this tile and MUST be the next one in append
  // order: a row-0 node at offset width(), or a row-r node (r > 0) at offset rows_[r].size()
  // whose two children are present. kInvalidArgument otherwise, and the tile is unchanged.
  // Hashes are not checked against the children (see Verify).
  Status Set(NodeId node, const Hash& h);

  // The hash of `node` if this tile holds it; nullopt if the node is not in this tile or not
  // set yet.
  std::optional<Hash> Get(NodeId node) const;

  // The serialized form (see top of file). If a row-0 node was set but not yet all parents it
  // completes, the tile is written at the widest width whose rows are all present, so the
  // output always parses.
  std::string Serialize() const;

  // Parses a serialized tile. Strict: kInvalidArgument (DataLoss would be the store's call) if
  // the length is not exactly that of its width or the width exceeds 256. Does not check the
  // hashes (see Verify).
  static StatusOr<Tile> Parse(TileId id, std::string_view bytes);

  // Reads the hash of `node` straight out of a serialized tile `bytes` of tile `id`, without
  // parsing the rest (a proof needs one or two hashes of a 16 KB tile). Checks exactly what Parse
  // checks about the header and length, so it accepts and rejects the same byte strings:
  // kInvalidArgument if `bytes` is not a well-formed serialized tile, kNotFound if `node` is not
  // in tile `id` or the tile is not wide enough to hold it. Does not check hashes (see Verify).
  static StatusOr<Hash> GetFromSerialized(TileId id, std::string_view bytes, NodeId node);

  // Checks every node in rows 1..7 equals HashChildren of its two children. kDataLoss naming
  // the first bad node otherwise.
  Status Verify() const;

  friend bool operator==(const Tile&, const Tile&) = default;

 private:
  TileId id_;
  std::array<std::vector<Hash>, kTileHeight> rows_;
};

}  // namespace probity::merkle
