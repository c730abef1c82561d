#include "common/merkle/tile.h"

#include <algorithm>
#include <cstring>

namespace probity::merkle {
namespace {

std::string NodeName(NodeId n) {
  return "(" + std::to_string(n.level) + "," + std::to_string(n.index) + ")";
}
std::string TileName(TileId t) {
  return "tile(" + std::to_string(t.level) + "," + std::to_string(t.index) + ")";
}

size_t SerializedSize(uint32_t width) {
  size_t n = 0;
  for (uint32_t r = 0; r < kTileHeight; ++r) n += width >> r;
  return 2 + n * kHashSize;
}

}  // namespace

TileId TileOf(NodeId node) {
  const uint32_t row = TileRow(node);
  return TileId{node.level / kTileHeight, node.index >> (kTileHeight - row)};
}

NodeId TileNode(TileId id, uint32_t row, uint32_t offset) {
  return NodeId{id.level * kTileHeight + row, (id.index << (kTileHeight - row)) + offset};
}

Status Tile::Set(NodeId node, const Hash& h) {
  if (TileOf(node) != id_) {
    return InvalidArgument("node " + NodeName(node) + " is not in " + TileName(id_));
  }
  const uint32_t row = TileRow(node);
  const uint32_t offset = TileOffset(node);
  auto& cells = rows_[row];
  if (offset != cells.size()) {
    return InvalidArgument("node " + NodeName(node) + " set out of order in " + TileName(id_) +
                           ": row " + std::to_string(row) + " has " + std::to_string(cells.size()) +
                           " nodes");
  }
  if (row > 0 && rows_[row - 1].size() < 2 * size_t{offset} + 2) {
    return InvalidArgument("node " + NodeName(node) + " set before its children in " +
                           TileName(id_));
  }
  cells.push_back(h);
  return Status::Ok();
}

std::optional<Hash> Tile::Get(NodeId node) const {
  if (TileOf(node) != id_) return std::nullopt;
  const auto& cells = rows_[TileRow(node)];
  const uint32_t offset = TileOffset(node);
  if (offset >= cells.size()) return std::nullopt;
  return cells[offset];
}

std::string Tile::Serialize() const {
  // Widest w such that every row r holds at least w >> r nodes.
  uint32_t w = width();
  for (uint32_t r = 1; r < kTileHeight; ++r) {
    const uint32_t limit = static_cast<uint32_t>(((rows_[r].size() + 1) << r) - 1);
    w = std::min(w, limit);
  }
  std::string out;
  out.reserve(SerializedSize(w));
  out.push_back(static_cast<char>(w >> 8));
  out.push_back(static_cast<char>(w & 0xff));
  for (uint32_t r = 0; r < kTileHeight; ++r) {
    for (uint32_t j = 0; j < (w >> r); ++j) out.append(AsBytes(rows_[r][j]));
  }
  return out;
}

namespace {

// The width of a serialized tile after checking its header and length as Parse does.
StatusOr<uint32_t> CheckedWidth(TileId id, std::string_view bytes) {
  if (bytes.size() < 2) {
    return InvalidArgument(TileName(id) + " is " + std::to_string(bytes.size()) +
                           " bytes, too short for its width");
  }
  const uint32_t w = uint32_t{static_cast<uint8_t>(bytes[0])} << 8 | static_cast<uint8_t>(bytes[1]);
  if (w > kTileWidth) {
    return InvalidArgument(TileName(id) + " has width " + std::to_string(w) + ", more than " +
                           std::to_string(kTileWidth));
  }
  if (bytes.size() != SerializedSize(w)) {
    return InvalidArgument(TileName(id) + " of width " + std::to_string(w) + " is " +
                           std::to_string(bytes.size()) + " bytes, want " +
                           std::to_string(SerializedSize(w)));
  }
  return w;
}

}  // namespace

StatusOr<Hash> Tile::GetFromSerialized(TileId id, std::string_view bytes, NodeId node) {
  PROBITY_ASSIGN_OR_RETURN(const uint32_t w, CheckedWidth(id, bytes));
  if (TileOf(node) != id) {
    return NotFound("node " + NodeName(node) + " is not in " + TileName(id));
  }
  const uint32_t row = TileRow(node);
  const uint32_t offset = TileOffset(node);
  if (offset >= (w >> row)) {
    return NotFound("node " + NodeName(node) + " is not set in " + TileName(id) + " of width " +
                    std::to_string(w));
  }
  size_t pos = 2;
  for (uint32_t r = 0; r < row; ++r) pos += size_t{w >> r} * kHashSize;
  pos += size_t{offset} * kHashSize;
  Hash h;
  std::memcpy(h.data(), bytes.data() + pos, kHashSize);
  return h;
}

StatusOr<Tile> Tile::Parse(TileId id, std::string_view bytes) {
  PROBITY_ASSIGN_OR_RETURN(const uint32_t w, CheckedWidth(id, bytes));
  Tile tile(id);
  size_t pos = 2;
  for (uint32_t r = 0; r < kTileHeight; ++r) {
    tile.rows_[r].resize(w >> r);
    for (auto& h : tile.rows_[r]) {
      std::memcpy(h.data(), bytes.data() + pos, kHashSize);
      pos += kHashSize;
    }
  }
  return tile;
}

Status Tile::Verify() const {
  for (uint32_t r = 1; r < kTileHeight; ++r) {
    for (size_t j = 0; j < rows_[r].size(); ++j) {
      if (rows_[r][j] != HashChildren(rows_[r - 1][2 * j], rows_[r - 1][2 * j + 1])) {
        return DataLoss("node " + NodeName(TileNode(id_, r, static_cast<uint32_t>(j))) + " in " +
                        TileName(id_) + " is not the hash of its children");
      }
    }
  }
  return Status::Ok();
}

}  // namespace probity::merkle
