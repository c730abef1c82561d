#include "common/merkle/compact_range.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>

#include "common/merkle/in_memory_tree.h"

namespace probity::merkle {
namespace {

TEST(RangeNodesTest, SmallRangesAreMinimalAndContiguous) {
  for (uint64_t begin = 0; begin < 70; ++begin) {
    for (uint64_t end = begin; end < 140; ++end) {
      auto nodes = RangeNodes(begin, end);
      uint64_t at = begin;
      for (size_t i = 0; i < nodes.size(); ++i) {
        ASSERT_EQ(nodes[i].begin(), at) << begin << ".." << end;
        at = nodes[i].end();
        // Minimal: no two adjacent nodes are siblings that could merge.
        if (i > 0 && nodes[i - 1].level == nodes[i].level) {
          ASSERT_NE(nodes[i - 1].index ^ 1, nodes[i].index) << begin << ".." << end;
        }
      }
      ASSERT_EQ(at, end);
    }
  }
  EXPECT_TRUE(RangeNodes(5, 5).empty());
  EXPECT_TRUE(RangeNodes(9, 5).empty());
  EXPECT_EQ(RangeNodes(0, 8), (std::vector<NodeId>{{3, 0}}));
  EXPECT_EQ(RangeNodes(0, 7), (std::vector<NodeId>{{2, 0}, {1, 2}, {0, 6}}));
  EXPECT_EQ(RangeNodes(3, 9), (std::vector<NodeId>{{0, 3}, {2, 1}, {0, 8}}));
}

TEST(RangeNodesTest, HugeRangesDoNotOverflow) {
  const uint64_t kMax = UINT64_MAX;
  auto all = RangeNodes(0, kMax);
  ASSERT_EQ(all.size(), 64u);
  EXPECT_EQ(all.front(), (NodeId{63, 0}));
  EXPECT_EQ(all.back(), (NodeId{0, kMax - 1}));
  auto tail = RangeNodes(kMax - 1, kMax);
  EXPECT_EQ(tail, (std::vector<NodeId>{{0, kMax - 1}}));
  auto mid = RangeNodes(uint64_t{1} << 63, kMax);
  EXPECT_EQ(mid.size(), 63u);
}

TEST(CompactRangeTest, EmptyRootIsEmptyHash) {
  CompactRange r;
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.Root(), EmptyRoot());
  EXPECT_EQ(FoldRight({}), EmptyRoot());
}

TEST(CompactRangeTest, AppendMatchesReferenceAndVisitsEveryPerfectNodeOnce) {
  InMemoryTree ref;
  CompactRange range;
  std::set<NodeId> visited;
  for (uint64_t i = 0; i < 300; ++i) {
    Hash leaf = HashLeaf("leaf " + std::to_string(i));
    ref.AppendHash(leaf);
    std::vector<NodeId> order;
    range.Append(leaf, [&](NodeId n, const Hash& h) {
      EXPECT_TRUE(visited.insert(n).second) << "visited twice";
      // A visited node's hash is the reference root of the range it covers.
      std::vector<Hash> sub;
      InMemoryTree part;
      for (uint64_t j = n.begin(); j < n.end(); ++j) part.AppendHash(ref.LeafHash(j));
      EXPECT_EQ(h, part.Root());
      order.push_back(n);
    });
    ASSERT_FALSE(order.empty());
    EXPECT_EQ(order.front(), (NodeId{0, i}));
    for (size_t k = 1; k < order.size(); ++k) EXPECT_EQ(order[k], order[k - 1].Parent());
    ASSERT_EQ(range.size(), i + 1);
    ASSERT_EQ(range.hashes().size(), static_cast<size_t>(std::popcount(i + 1)));
    ASSERT_EQ(range.Root(), ref.Root()) << "size " << i + 1;
  }
  // Every perfect node of the 300-leaf tree was visited.
  size_t perfect = 0;
  for (uint32_t level = 0; level < 9; ++level) perfect += 300 >> level;
  EXPECT_EQ(visited.size(), perfect);
}

TEST(CompactRangeTest, CreateChecksHashCount) {
  CompactRange grown;
  for (int i = 0; i < 11; ++i) grown.Append(HashLeaf(std::to_string(i)));
  auto made = CompactRange::Create(11, grown.hashes());
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ(*made, grown);
  EXPECT_EQ(made->Root(), grown.Root());
  // Continuing from a restored range gives the same tree as never stopping.
  made->Append(HashLeaf("11"));
  grown.Append(HashLeaf("11"));
  EXPECT_EQ(made->Root(), grown.Root());

  auto bad = CompactRange::Create(11, {HashLeaf("x")});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "compact range of size 11 has 1 hashes, want 3");
  EXPECT_TRUE(CompactRange::Create(0, {}).ok());
  EXPECT_FALSE(CompactRange::Create(0, {HashLeaf("x")}).ok());
  EXPECT_FALSE(CompactRange::Create(UINT64_MAX, {}).ok());
}

}  // namespace
}  // namespace probity::merkle
