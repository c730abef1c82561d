#include "common/merkle/hasher.h"

#include <gtest/gtest.h>

#include "tests/common/merkle/rfc6962_vectors.h"
#include "tests/common/merkle/test_util.h"

namespace probity::merkle {
namespace {

using testing::HexToBytes;

TEST(HasherTest, PublicVectors) {
  ASSERT_EQ(vectors::kHasherCases.size(), 4u);
  for (const auto& c : vectors::kHasherCases) {
    SCOPED_TRACE(c.desc);
    Hash got;
    if (c.kind == "empty_tree") {
      got = EmptyRoot();
    } else if (c.kind == "leaf") {
      got = HashLeaf(HexToBytes(c.input_hex));
    } else {
      ASSERT_EQ(c.kind, "node");
      got = HashChildrenBytes(HexToBytes(c.left_hex), HexToBytes(c.right_hex));
    }
    EXPECT_EQ(ToHex(got), c.want_hex);
  }
}

TEST(HasherTest, HashChildrenMatchesBytesForm) {
  Hash a = HashLeaf("a"), b = HashLeaf("b");
  EXPECT_EQ(HashChildren(a, b), HashChildrenBytes(AsBytes(a), AsBytes(b)));
  EXPECT_NE(HashChildren(a, b), HashChildren(b, a));
  // Domain separation: a leaf whose data is 2 hashes does not collide with the node.
  EXPECT_NE(HashLeaf(std::string(AsBytes(a)) + std::string(AsBytes(b))), HashChildren(a, b));
}

TEST(HasherTest, HexRoundTripAndRejections) {
  Hash h = HashLeaf("probity");
  auto back = HashFromHex(ToHex(h));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, h);
  std::string upper = ToHex(h);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ASSERT_TRUE(HashFromHex(upper).ok());
  EXPECT_EQ(*HashFromHex(upper), h);

  EXPECT_EQ(HashFromHex("").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(HashFromHex(ToHex(h).substr(1)).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(HashFromHex(ToHex(h) + "00").status().code(), Code::kInvalidArgument);
  std::string bad = ToHex(h);
  bad[17] = 'g';
  auto st = HashFromHex(bad).status();
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("offset 17"), std::string::npos) << st.message();
}

TEST(HasherTest, Base64) {
  // SHA-256("") in base64, as in any C2SP checkpoint of an empty log.
  EXPECT_EQ(ToBase64(EmptyRoot()), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  Hash zero{};
  EXPECT_EQ(ToBase64(zero), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  Hash ones;
  ones.fill(0xff);
  EXPECT_EQ(ToBase64(ones), "//////////////////////////////////////////8=");
}

TEST(HasherTest, FromBytes) {
  Hash h = HashLeaf("x");
  ASSERT_TRUE(HashFromBytes(AsBytes(h)).ok());
  EXPECT_EQ(*HashFromBytes(AsBytes(h)), h);
  EXPECT_EQ(HashFromBytes("short").status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace probity::merkle
