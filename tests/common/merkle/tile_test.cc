#include "common/merkle/tile.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "common/merkle/compact_range.h"
#include "tests/common/merkle/test_util.h"

namespace probity::merkle {
namespace {

// Feeds `n` leaves through a CompactRange and keeps only the nodes of tile `id`.
Tile Grow(TileId id, uint64_t n) {
  Tile tile(id);
  CompactRange range;
  for (uint64_t i = 0; i < n; ++i) {
    range.Append(HashLeaf(std::to_string(i)), [&](NodeId node, const Hash& h) {
      if (TileOf(node) == id) {
        Status st = tile.Set(node, h);
        EXPECT_TRUE(st.ok()) << st.ToString();
      }
    });
  }
  return tile;
}

TEST(TileTest, Addressing) {
  EXPECT_EQ(TileOf({0, 0}), (TileId{0, 0}));
  EXPECT_EQ(TileOf({0, 255}), (TileId{0, 0}));
  EXPECT_EQ(TileOf({0, 256}), (TileId{0, 1}));
  EXPECT_EQ(TileOf({7, 1}), (TileId{0, 0}));
  EXPECT_EQ(TileOf({7, 2}), (TileId{0, 1}));
  EXPECT_EQ(TileOf({8, 0}), (TileId{1, 0}));
  EXPECT_EQ(TileOf({9, 130}), (TileId{1, 1}));
  EXPECT_EQ(TileRow({9, 130}), 1u);
  EXPECT_EQ(TileOffset({9, 130}), 2u);
  for (uint32_t level = 0; level < 24; ++level) {
    for (uint64_t index : {uint64_t{0}, uint64_t{1}, uint64_t{77}, uint64_t{1000003}}) {
      NodeId n{level, index};
      EXPECT_EQ(TileNode(TileOf(n), TileRow(n), TileOffset(n)), n);
    }
  }
  NodeId big{63, 1};
  EXPECT_EQ(TileOf(big), (TileId{7, 0}));
  EXPECT_EQ(TileOf(NodeId{0, UINT64_MAX}), (TileId{0, UINT64_MAX >> 8}));
}

TEST(TileTest, SetGetAndRoundTripAtEveryWidth) {
  const TileId id{0, 1};
  for (uint64_t n : {256u, 257u, 300u, 383u, 384u, 511u, 512u, 600u}) {
    SCOPED_TRACE(n);
    Tile tile = Grow(id, n);
    const uint32_t want_width = static_cast<uint32_t>(std::min<uint64_t>(n - 256, 256));
    EXPECT_EQ(tile.width(), want_width);
    EXPECT_EQ(tile.full(), want_width == 256);
    EXPECT_TRUE(tile.Verify().ok());
    for (uint32_t r = 0; r < kTileHeight; ++r) {
      for (uint32_t j = 0; j < (kTileWidth >> r); ++j) {
        NodeId node = TileNode(id, r, j);
        EXPECT_EQ(tile.Get(node).has_value(), j < (want_width >> r)) << r << "/" << j;
      }
    }
    const std::string bytes = tile.Serialize();
    size_t cells = 0;
    for (uint32_t r = 0; r < kTileHeight; ++r) cells += want_width >> r;
    EXPECT_EQ(bytes.size(), 2 + 32 * cells);
    auto parsed = Tile::Parse(id, bytes);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(*parsed, tile);
    EXPECT_EQ(parsed->Serialize(), bytes);
  }
  EXPECT_FALSE(Tile(id).Get(TileNode(id, 0, 0)).has_value());
  EXPECT_EQ(Tile(id).Serialize(), std::string("\0\0", 2));
}

TEST(TileTest, HigherTileHoldsPerfectNodesOfLevelsEightUp) {
  // 2^16 + 3 leaves: tile (1, 0) is full and its nodes are the level 8..15 perfect nodes.
  testing::TiledTree tree;
  for (uint64_t i = 0; i < (1u << 16) + 3; ++i) tree.AppendHash(HashLeaf(std::to_string(i)));
  const Tile& t = tree.tiles().at(TileId{1, 0});
  EXPECT_TRUE(t.full());
  EXPECT_TRUE(t.Verify().ok());
  EXPECT_EQ(tree.tiles().count(TileId{1, 1}), 0u);  // no level-8 node past 2^16 yet
  CompactRange first;
  for (uint64_t i = 0; i < (1u << 16); ++i) first.Append(HashLeaf(std::to_string(i)));
  EXPECT_EQ(*tree.tiles().at(TileId{2, 0}).Get(NodeId{16, 0}), first.Root());
}

TEST(TileTest, SetRejectsOutOfOrderAndForeignNodes) {
  const TileId id{0, 0};
  Tile tile(id);
  Hash h = HashLeaf("x");
  EXPECT_EQ(tile.Set({0, 1}, h).code(), Code::kInvalidArgument);    // skips offset 0
  EXPECT_EQ(tile.Set({1, 0}, h).code(), Code::kInvalidArgument);    // parent before children
  EXPECT_EQ(tile.Set({0, 256}, h).code(), Code::kInvalidArgument);  // tile (0, 1)
  EXPECT_EQ(tile.Set({8, 0}, h).code(), Code::kInvalidArgument);    // tile (1, 0)
  ASSERT_TRUE(tile.Set({0, 0}, h).ok());
  EXPECT_EQ(tile.Set({0, 0}, h).code(), Code::kInvalidArgument);  // twice
  EXPECT_EQ(tile.Set({1, 0}, h).code(), Code::kInvalidArgument);  // one child only
  ASSERT_TRUE(tile.Set({0, 1}, h).ok());
  ASSERT_TRUE(tile.Set({1, 0}, HashChildren(h, h)).ok());
  EXPECT_EQ(tile.width(), 2u);
  EXPECT_TRUE(tile.Verify().ok());
  EXPECT_EQ(*tile.Get({1, 0}), HashChildren(h, h));
  // A wrong parent hash is accepted by Set but caught by Verify.
  ASSERT_TRUE(tile.Set({0, 2}, h).ok());
  ASSERT_TRUE(tile.Set({0, 3}, h).ok());
  ASSERT_TRUE(tile.Set({1, 1}, h).ok());
  Status st = tile.Verify();
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("(1,1)"), std::string::npos) << st.message();
}

TEST(TileTest, SerializeOfPartlySetTileDropsTheUnfinishedRow0Node) {
  const TileId id{0, 0};
  Tile tile(id);
  Hash h = HashLeaf("x");
  ASSERT_TRUE(tile.Set({0, 0}, h).ok());
  ASSERT_TRUE(tile.Set({0, 1}, h).ok());  // parent (1, 0) not set yet
  auto parsed = Tile::Parse(id, tile.Serialize());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->width(), 1u);
}

TEST(TileTest, ParseIsStrict) {
  const TileId id{0, 3};
  Tile tile = Grow(id, 3 * 256 + 10);
  const std::string good = tile.Serialize();
  ASSERT_TRUE(Tile::Parse(id, good).ok());
  EXPECT_EQ(Tile::Parse(id, "").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Tile::Parse(id, std::string(1, '\0')).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(Tile::Parse(id, std::string(2, '\0')).ok());  // width 0
  EXPECT_FALSE(Tile::Parse(id, good.substr(0, good.size() - 1)).ok());
  EXPECT_FALSE(Tile::Parse(id, good + "x").ok());
  EXPECT_FALSE(Tile::Parse(id, good.substr(0, good.size() - 32)).ok());
  std::string wide = good;
  wide[1] = static_cast<char>(wide[1] + 1);  // claims 11 row-0 nodes, holds 10
  auto st = Tile::Parse(id, wide).status();
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_EQ(st.message(), "tile(0,3) of width 11 is 578 bytes, want 610");
  std::string too_wide(2 + 32 * 511, '\0');  // the length width 257 would have
  too_wide[0] = 1;
  too_wide[1] = 1;  // 257
  EXPECT_FALSE(Tile::Parse(id, too_wide).ok());
  std::string full(2 + 32 * 510, '\0');  // 256 + 128 + ... + 2 hashes
  full[0] = 1;                           // 256
  EXPECT_TRUE(Tile::Parse(id, full).ok());
}

// GetFromSerialized reads one hash in place: it must agree with Parse + Get on every node of every
// width, and accept and reject exactly the byte strings Parse does.
TEST(TileTest, GetFromSerializedAgreesWithParseAndGet) {
  const TileId id{1, 2};  // a higher tile, so levels and indexes are not trivially small
  for (uint32_t w : {0u, 1u, 2u, 3u, 127u, 128u, 200u, 255u, 256u}) {
    SCOPED_TRACE(w);
    Tile tile(id);
    // Fill row 0 with w distinct hashes and every parent they complete, in append order.
    for (uint32_t j = 0; j < w; ++j) {
      ASSERT_TRUE(tile.Set(TileNode(id, 0, j), HashLeaf("n" + std::to_string(j))).ok());
      for (uint32_t r = 1, k = j; r < kTileHeight && (k & 1); ++r, k >>= 1) {
        ASSERT_TRUE(tile.Set(TileNode(id, r, k >> 1),
                             HashLeaf(std::to_string(r) + "/" + std::to_string(k >> 1)))
                        .ok());
      }
    }
    const std::string bytes = tile.Serialize();
    auto parsed = Tile::Parse(id, bytes);
    ASSERT_TRUE(parsed.ok());
    for (uint32_t r = 0; r < kTileHeight; ++r) {
      for (uint32_t j = 0; j < (kTileWidth >> r); ++j) {
        const NodeId node = TileNode(id, r, j);
        auto got = Tile::GetFromSerialized(id, bytes, node);
        std::optional<Hash> want = parsed->Get(node);
        ASSERT_EQ(got.ok(), want.has_value()) << r << "/" << j;
        if (want) {
          EXPECT_EQ(*got, *want) << r << "/" << j;
        } else {
          EXPECT_EQ(got.status().code(), Code::kNotFound) << r << "/" << j;
        }
      }
    }
    // A node of another tile, even at the same row and offset, is not found.
    EXPECT_EQ(Tile::GetFromSerialized(id, bytes, TileNode({1, 3}, 0, 0)).status().code(),
              Code::kNotFound);
    EXPECT_EQ(Tile::GetFromSerialized(id, bytes, TileNode({0, 2}, 0, 0)).status().code(),
              Code::kNotFound);
  }
  // Malformed bytes: rejected with Parse's own error, whatever node is asked for.
  const Tile tile = Grow(TileId{0, 3}, 3 * 256 + 10);
  const std::string good = tile.Serialize();
  const NodeId first = TileNode({0, 3}, 0, 0);
  EXPECT_EQ(*Tile::GetFromSerialized({0, 3}, good, first), *tile.Get(first));
  for (const std::string& bad :
       {std::string(), std::string(1, '\0'), good.substr(0, good.size() - 1), good + "x",
        good.substr(0, good.size() - 32)}) {
    auto st = Tile::GetFromSerialized({0, 3}, bad, first).status();
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << bad.size();
    EXPECT_EQ(st.message(), Tile::Parse({0, 3}, bad).status().message()) << bad.size();
  }
}

}  // namespace
}  // namespace probity::merkle
