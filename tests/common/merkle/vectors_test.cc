// The public RFC 6962 vectors (tests/testdata/rfc6962_public_vectors.json, see its README).
#include <gtest/gtest.h>

#include "common/merkle/compact_range.h"
#include "common/merkle/in_memory_tree.h"
#include "common/merkle/proof.h"
#include "tests/common/merkle/rfc6962_vectors.h"
#include "tests/common/merkle/test_util.h"

namespace probity::merkle {
namespace {

using testing::HexToBytes;
using testing::TiledTree;

std::vector<Hash> Hashes(const std::vector<std::string>& hex) {
  std::vector<Hash> out;
  for (const auto& h : hex) out.push_back(HashFromHex(h).value());
  return out;
}

class ReferenceTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& in : vectors::kLeafInputsHex) {
      Hash leaf = HashLeaf(HexToBytes(in));
      ref_.AppendHash(leaf);
      tiled_.AppendHash(leaf);
    }
  }
  InMemoryTree ref_;
  TiledTree tiled_;
};

TEST_F(ReferenceTreeTest, RootsAtEverySize) {
  ASSERT_EQ(vectors::kRoots.size(), 9u);
  CompactRange range;
  for (const auto& c : vectors::kRoots) {
    SCOPED_TRACE(c.size);
    while (range.size() < c.size) range.Append(ref_.LeafHash(range.size()));
    EXPECT_EQ(ToHex(range.Root()), c.root_hex);
    EXPECT_EQ(ToHex(ref_.RootAt(c.size).value()), c.root_hex);
    EXPECT_EQ(ToHex(tiled_.RootAt(c.size).value()), c.root_hex);
  }
}

TEST_F(ReferenceTreeTest, InclusionPaths) {
  ASSERT_EQ(vectors::kInclusionPaths.size(), 5u);
  for (const auto& c : vectors::kInclusionPaths) {
    SCOPED_TRACE(::testing::Message() << "index " << c.a << " size " << c.b);
    const std::vector<Hash> want = Hashes(c.path_hex);
    auto built = tiled_.Inclusion(c.a, c.b);
    ASSERT_TRUE(built.ok()) << built.status().ToString();
    EXPECT_EQ(*built, want);
    EXPECT_EQ(ref_.InclusionProof(c.a, c.b).value(), want);
    EXPECT_EQ(InclusionProofSize(c.a, c.b), want.size());
    Status st = VerifyInclusion(c.a, c.b, ref_.LeafHash(c.a), want, ref_.RootAt(c.b).value());
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
}

TEST_F(ReferenceTreeTest, ConsistencyPaths) {
  ASSERT_EQ(vectors::kConsistencyPaths.size(), 5u);
  for (const auto& c : vectors::kConsistencyPaths) {
    SCOPED_TRACE(::testing::Message() << "from " << c.a << " to " << c.b);
    const std::vector<Hash> want = Hashes(c.path_hex);
    auto built = tiled_.Consistency(c.a, c.b);
    ASSERT_TRUE(built.ok()) << built.status().ToString();
    EXPECT_EQ(*built, want);
    EXPECT_EQ(ref_.ConsistencyProof(c.a, c.b).value(), want);
    EXPECT_EQ(ConsistencyProofSize(c.a, c.b), want.size());
    Status st =
        VerifyConsistency(c.a, c.b, want, ref_.RootAt(c.a).value(), ref_.RootAt(c.b).value());
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
}

bool All32(const std::vector<std::string>& values) {
  for (const auto& v : values) {
    if (v.size() != kHashSize) return false;
  }
  return true;
}

TEST(VerifierVectorsTest, EveryInclusionCase) {
  ASSERT_EQ(vectors::kInclusionCases.size(), 98u);
  int valid = 0;
  for (const auto& c : vectors::kInclusionCases) {
    SCOPED_TRACE(c.source + " (" + c.desc + ")");
    std::vector<std::string> proof;
    for (const auto& h : c.proof_hex) proof.push_back(HexToBytes(h));
    const std::string leaf = HexToBytes(c.leaf_hex), root = HexToBytes(c.root_hex);
    Status st = VerifyInclusionBytes(c.index, c.size, leaf, proof, root);
    EXPECT_EQ(st.ok(), c.want_valid) << st.ToString();
    if (!st.ok()) {
      EXPECT_TRUE(st.code() == Code::kInvalidArgument || st.code() == Code::kDataLoss);
      EXPECT_FALSE(st.message().empty());
    }
    valid += c.want_valid;
    if (All32(proof) && leaf.size() == kHashSize && root.size() == kHashSize) {
      std::vector<Hash> typed;
      for (const auto& p : proof) typed.push_back(HashFromBytes(p).value());
      Status typed_st = VerifyInclusion(c.index, c.size, HashFromBytes(leaf).value(), typed,
                                        HashFromBytes(root).value());
      EXPECT_EQ(typed_st.ok(), c.want_valid) << typed_st.ToString();
    }
  }
  EXPECT_EQ(valid, 6);
}

TEST(VerifierVectorsTest, EveryConsistencyCase) {
  ASSERT_EQ(vectors::kConsistencyCases.size(), 98u + 4u);  // + legacy_policy_cases
  int valid = 0;
  for (const auto& c : vectors::kConsistencyCases) {
    SCOPED_TRACE(c.source + " (" + c.desc + ")");
    std::vector<std::string> proof;
    for (const auto& h : c.proof_hex) proof.push_back(HexToBytes(h));
    const std::string r1 = HexToBytes(c.root1_hex), r2 = HexToBytes(c.root2_hex);
    Status st = VerifyConsistencyBytes(c.size1, c.size2, proof, r1, r2);
    EXPECT_EQ(st.ok(), c.want_valid) << st.ToString();
    if (!st.ok()) {
      EXPECT_TRUE(st.code() == Code::kInvalidArgument || st.code() == Code::kDataLoss);
    }
    valid += c.want_valid;
    if (All32(proof) && r1.size() == kHashSize && r2.size() == kHashSize) {
      std::vector<Hash> typed;
      for (const auto& p : proof) typed.push_back(HashFromBytes(p).value());
      Status typed_st = VerifyConsistency(c.size1, c.size2, typed, HashFromBytes(r1).value(),
                                          HashFromBytes(r2).value());
      EXPECT_EQ(typed_st.ok(), c.want_valid) << typed_st.ToString();
    }
  }
  EXPECT_EQ(valid, 6);
}

}  // namespace
}  // namespace probity::merkle
