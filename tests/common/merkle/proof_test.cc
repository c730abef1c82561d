#include "common/merkle/proof.h"

#include <gtest/gtest.h>

#include <random>

#include "common/merkle/in_memory_tree.h"
#include "tests/common/merkle/test_util.h"

namespace probity::merkle {
namespace {

using testing::TiledTree;

// One tree shared by the randomized tests: the tiled store and the naive oracle, same leaves.
class RandomTreeTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kMaxSize = 3000;
  static void SetUpTestSuite() {
    tiled_ = new TiledTree;
    ref_ = new InMemoryTree;
    roots_ = new std::vector<Hash>;
    roots_->push_back(EmptyRoot());
    for (uint64_t i = 0; i < kMaxSize; ++i) {
      Hash leaf = HashLeaf("entry " + std::to_string(i * 7919));
      tiled_->AppendHash(leaf);
      ref_->AppendHash(leaf);
      roots_->push_back(tiled_->range().Root());
    }
  }
  static void TearDownTestSuite() {
    delete tiled_;
    delete ref_;
    delete roots_;
  }
  static Hash RootAt(uint64_t size) { return (*roots_)[size]; }

  static TiledTree* tiled_;
  static InMemoryTree* ref_;
  static std::vector<Hash>* roots_;  // roots_[n] = root of the first n leaves, via CompactRange
  std::mt19937_64 rng_{42};
};
TiledTree* RandomTreeTest::tiled_ = nullptr;
InMemoryTree* RandomTreeTest::ref_ = nullptr;
std::vector<Hash>* RandomTreeTest::roots_ = nullptr;

TEST_F(RandomTreeTest, RootsMatchReference) {
  for (uint64_t n : {0u, 1u, 2u, 3u, 255u, 256u, 257u, 511u, 512u, 1000u, 2047u, 2048u, 3000u}) {
    EXPECT_EQ(RootAt(n), ref_->RootAt(n).value()) << n;
    EXPECT_EQ(tiled_->RootAt(n).value(), RootAt(n)) << n;
  }
  for (int i = 0; i < 100; ++i) {
    uint64_t n = rng_() % (kMaxSize + 1);
    EXPECT_EQ(RootAt(n), ref_->RootAt(n).value()) << n;
  }
}

TEST_F(RandomTreeTest, InclusionProofsMatchReferenceVerifyAndResistTampering) {
  for (int iter = 0; iter < 400; ++iter) {
    const uint64_t size = 1 + rng_() % kMaxSize;
    const uint64_t index = iter < 20 ? size - 1 : rng_() % size;
    SCOPED_TRACE(::testing::Message() << "index " << index << " size " << size);
    auto proof = tiled_->Inclusion(index, size);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    ASSERT_EQ(*proof, ref_->InclusionProof(index, size).value());
    ASSERT_EQ(proof->size(), InclusionProofSize(index, size));
    const Hash leaf = ref_->LeafHash(index);
    const Hash root = RootAt(size);
    Status ok = VerifyInclusion(index, size, leaf, *proof, root);
    ASSERT_TRUE(ok.ok()) << ok.ToString();
    EXPECT_EQ(RootFromInclusionProof(index, size, leaf, *proof).value(), root);

    // One flipped bit anywhere in the proof.
    if (!proof->empty()) {
      auto bad = *proof;
      bad[rng_() % bad.size()][rng_() % kHashSize] ^= static_cast<uint8_t>(1u << (rng_() % 8));
      EXPECT_EQ(VerifyInclusion(index, size, leaf, bad, root).code(), Code::kDataLoss);
    }
    // Wrong leaf, wrong root.
    Hash other = leaf;
    other[0] ^= 1;
    EXPECT_FALSE(VerifyInclusion(index, size, other, *proof, root).ok());
    EXPECT_FALSE(VerifyInclusion(index, size, leaf, *proof, other).ok());
    // Wrong index: every other index in the tree.
    const uint64_t wrong_index = (index + 1 + rng_() % (size > 1 ? size - 1 : 1)) % size;
    if (wrong_index != index) {
      EXPECT_FALSE(VerifyInclusion(wrong_index, size, leaf, *proof, root).ok()) << wrong_index;
    }
    // Wrong size, with the root of that size (a truthful head for a different tree).
    const uint64_t wrong_size = index + 1 + rng_() % (kMaxSize - index);
    if (wrong_size != size) {
      EXPECT_FALSE(VerifyInclusion(index, wrong_size, leaf, *proof, RootAt(wrong_size)).ok())
          << wrong_size;
    }
    // Truncated and extended proofs are rejected by their length, with a clear message.
    auto longer = *proof;
    longer.push_back(root);
    Status st = VerifyInclusion(index, size, leaf, longer, root);
    EXPECT_EQ(st.code(), Code::kInvalidArgument);
    EXPECT_EQ(st.message(), "inclusion proof has " + std::to_string(longer.size()) +
                                " hashes, want " + std::to_string(proof->size()) + " for index " +
                                std::to_string(index) + " in tree of " + std::to_string(size));
    if (!proof->empty()) {
      auto shorter = *proof;
      shorter.pop_back();
      EXPECT_EQ(VerifyInclusion(index, size, leaf, shorter, root).code(), Code::kInvalidArgument);
    }
  }
}

TEST_F(RandomTreeTest, ConsistencyProofsMatchReferenceVerifyAndResistTampering) {
  for (int iter = 0; iter < 400; ++iter) {
    uint64_t size2 = 1 + rng_() % kMaxSize;
    uint64_t size1 = 1 + rng_() % size2;
    if (iter < 10) size1 = size2;
    if (iter >= 10 && iter < 20) size1 = uint64_t{1} << (rng_() % 11);  // powers of two
    if (size1 > size2) std::swap(size1, size2);
    SCOPED_TRACE(::testing::Message() << "from " << size1 << " to " << size2);
    auto proof = tiled_->Consistency(size1, size2);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    ASSERT_EQ(*proof, ref_->ConsistencyProof(size1, size2).value());
    ASSERT_EQ(proof->size(), ConsistencyProofSize(size1, size2));
    const Hash r1 = RootAt(size1), r2 = RootAt(size2);
    Status ok = VerifyConsistency(size1, size2, *proof, r1, r2);
    ASSERT_TRUE(ok.ok()) << ok.ToString();

    if (!proof->empty()) {
      auto bad = *proof;
      bad[rng_() % bad.size()][rng_() % kHashSize] ^= static_cast<uint8_t>(1u << (rng_() % 8));
      EXPECT_EQ(VerifyConsistency(size1, size2, bad, r1, r2).code(), Code::kDataLoss);
    }
    EXPECT_FALSE(VerifyConsistency(size1, size2, *proof, r2, r1).ok() && r1 != r2);
    // Other sizes, each with its own truthful root.
    const uint64_t other1 = 1 + rng_() % size2;
    if (other1 != size1) {
      EXPECT_FALSE(VerifyConsistency(other1, size2, *proof, RootAt(other1), r2).ok()) << other1;
    }
    const uint64_t other2 = size1 + rng_() % (kMaxSize - size1 + 1);
    if (other2 != size2) {
      EXPECT_FALSE(VerifyConsistency(size1, other2, *proof, r1, RootAt(other2)).ok()) << other2;
    }
    auto longer = *proof;
    longer.push_back(r2);
    EXPECT_EQ(VerifyConsistency(size1, size2, longer, r1, r2).code(), Code::kInvalidArgument);
  }
}

TEST(ProofEdgeTest, ArgumentErrors) {
  EXPECT_EQ(InclusionPlan(0, 0).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(InclusionPlan(5, 5).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(InclusionPlan(UINT64_MAX, UINT64_MAX).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ConsistencyPlan(6, 5).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ConsistencyPlan(UINT64_MAX, 0).status().code(), Code::kInvalidArgument);
  for (auto [m, n] : {std::pair<uint64_t, uint64_t>{0, 0},
                      {0, 7},
                      {7, 7},
                      {0, UINT64_MAX},
                      {UINT64_MAX, UINT64_MAX}}) {
    auto plan = ConsistencyPlan(m, n);
    ASSERT_TRUE(plan.ok());
    EXPECT_TRUE(plan->nodes.empty());
    EXPECT_EQ(plan->proof_size(), 0u);
  }
  Hash h = HashLeaf("x");
  EXPECT_EQ(VerifyInclusion(0, 0, h, {}, h).code(), Code::kInvalidArgument);
  EXPECT_EQ(VerifyInclusion(UINT64_MAX, 1, h, {}, h).code(), Code::kInvalidArgument);
  EXPECT_TRUE(VerifyInclusion(0, 1, h, {}, h).ok());
  EXPECT_EQ(VerifyConsistency(2, 1, {}, h, h).code(), Code::kInvalidArgument);
  EXPECT_EQ(VerifyConsistency(0, 0, {}, h, h).code(), Code::kInvalidArgument);
  EXPECT_EQ(VerifyConsistency(0, 3, {}, h, h).code(), Code::kInvalidArgument);
  EXPECT_TRUE(VerifyConsistency(3, 3, {}, h, h).ok());
  EXPECT_EQ(VerifyConsistency(3, 3, {h}, h, h).code(), Code::kInvalidArgument);
  Hash other = HashLeaf("y");
  EXPECT_EQ(VerifyConsistency(3, 3, {}, h, other).code(), Code::kDataLoss);
  EXPECT_EQ(VerifyConsistency(1, 3, {}, h, other).code(), Code::kInvalidArgument);

  ProofPlan plan = InclusionPlan(3, 8).value();
  EXPECT_EQ(plan.Assemble({}).status().code(), Code::kInvalidArgument);
}

TEST(ProofEdgeTest, HugeTreesPlanAndVerifyWithoutOverflow) {
  // The largest possible tree: proofs are planned and their length agrees with the verifier;
  // a proof built from arbitrary "stored" hashes round-trips through RootFromInclusionProof.
  const uint64_t kMax = UINT64_MAX;
  for (auto [index, size] : {std::pair<uint64_t, uint64_t>{0, kMax},
                             {kMax - 1, kMax},
                             {kMax / 2, kMax},
                             {(uint64_t{1} << 63) - 1, uint64_t{1} << 63},
                             {uint64_t{1} << 63, kMax},
                             {12345, kMax}}) {
    SCOPED_TRACE(::testing::Message() << index << " / " << size);
    auto plan = InclusionPlan(index, size);
    ASSERT_TRUE(plan.ok());
    EXPECT_EQ(plan->proof_size(), InclusionProofSize(index, size));
    EXPECT_LE(plan->proof_size(), 64u);
    for (const NodeId& n : plan->nodes) {
      EXPECT_LE(n.level, 63u);
      EXPECT_LE(n.index, (size - 1) >> n.level);  // every planned node starts inside the tree
    }
    std::vector<Hash> fetched;
    for (size_t i = 0; i < plan->nodes.size(); ++i) fetched.push_back(HashLeaf(std::to_string(i)));
    auto proof = plan->Assemble(fetched);
    ASSERT_TRUE(proof.ok());
    Hash leaf = HashLeaf("leaf");
    auto root = RootFromInclusionProof(index, size, leaf, *proof);
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    EXPECT_TRUE(VerifyInclusion(index, size, leaf, *proof, *root).ok());
    EXPECT_FALSE(VerifyInclusion(index ^ 1, size, leaf, *proof, *root).ok());
  }
  for (auto [m, n] : {std::pair<uint64_t, uint64_t>{1, kMax},
                      {kMax - 1, kMax},
                      {uint64_t{1} << 63, kMax},
                      {3, kMax},
                      {kMax / 3, kMax / 2}}) {
    SCOPED_TRACE(::testing::Message() << m << " -> " << n);
    auto plan = ConsistencyPlan(m, n);
    ASSERT_TRUE(plan.ok());
    EXPECT_EQ(plan->proof_size(), ConsistencyProofSize(m, n));
    EXPECT_LE(plan->proof_size(), 65u);
    std::vector<Hash> wrong(ConsistencyProofSize(m, n) + 1, HashLeaf("z"));
    EXPECT_EQ(VerifyConsistency(m, n, wrong, HashLeaf("a"), HashLeaf("b")).code(),
              Code::kInvalidArgument);
  }
}

TEST(ProofEdgeTest, PlanNamesOnlyPerfectNodesAndFoldsTheEphemeralOne) {
  // Size 7, leaf 4: the path is leaf 5, the ephemeral [6, 7) = leaf 6 alone, then node (2, 0).
  ProofPlan p = InclusionPlan(4, 7).value();
  EXPECT_EQ(p.nodes, (std::vector<NodeId>{{0, 5}, {0, 6}, {2, 0}}));
  EXPECT_EQ(p.proof_size(), 3u);
  // Size 7, leaf 0: siblings leaf 1, node (1, 1), then the ephemeral [4, 7) = (1, 2) + (0, 6).
  ProofPlan q = InclusionPlan(0, 7).value();
  EXPECT_EQ(q.nodes, (std::vector<NodeId>{{0, 1}, {1, 1}, {1, 2}, {0, 6}}));
  EXPECT_EQ(q.entry_ends, (std::vector<uint32_t>{1, 2, 4}));
}

}  // namespace
}  // namespace probity::merkle
