#include "common/note/checkpoint.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <string>
#include <vector>

#include "common/note/encoding.h"
#include "tests/common/note/golden.h"

namespace probity::note {
namespace {

Hash FilledHash(uint8_t v) {
  Hash h;
  h.fill(v);
  return h;
}

// The example in c2sp.org/tlog-checkpoint.
constexpr char kC2spExample[] =
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

TEST(CheckpointGolden, ParsesC2spExample) {
  auto c = ParseCheckpoint(kC2spExample);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->origin, "example.com/behind-the-sofa");
  EXPECT_EQ(c->size, 20852163u);
  EXPECT_EQ(c->root[0], 0x0A);
  EXPECT_TRUE(c->extensions.empty());
  EXPECT_EQ(FormatCheckpoint(*c), kC2spExample);
}

// Go's sumdb/tlog TestFormatTree: the root is RecordHash("hello world") = SHA-256(0x00 || data).
TEST(CheckpointGolden, ParsesGoTlogTreeAndRootIsRfc6962LeafHash) {
  const std::string text =
      "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n";
  auto c = ParseCheckpoint(text);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->origin, "go.sum database tree");
  EXPECT_EQ(c->size, 123456789012u);
  const std::string leaf = std::string(1, '\0') + "hello world";
  Hash want;
  SHA256(reinterpret_cast<const uint8_t*>(leaf.data()), leaf.size(), want.data());
  EXPECT_EQ(c->root, want);
  EXPECT_EQ(FormatCheckpoint(*c), text);
}

TEST(CheckpointGolden, RealSumGolangOrgCheckpointOpens) {
  auto v = Verifier::FromVerifierKey(golden::kSumGolangOrgKey);
  ASSERT_TRUE(v.ok());
  auto c = OpenCheckpoint(golden::kSumGolangOrgNote1, {*v}, "go.sum database tree");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->size, 15368405u);
}

// Keeps docs/checkpoints.md honest: its example key, leaf hashes, roots and signed checkpoints.
TEST(CheckpointGolden, DocsWorkedExample) {
  auto signer = Signer::FromSignerKey(golden::kDocSignerKey);
  auto verifier = Verifier::FromVerifierKey(golden::kDocVerifierKey);
  ASSERT_TRUE(signer.ok() && verifier.ok());
  EXPECT_EQ(signer->verifier_key(), golden::kDocVerifierKey);

  auto sha = [](const std::string& s) {
    Hash h;
    SHA256(reinterpret_cast<const uint8_t*>(s.data()), s.size(), h.data());
    return h;
  };
  auto str = [](const Hash& h) { return std::string(reinterpret_cast<const char*>(h.data()), 32); };
  const Hash l0 = sha(std::string(1, '\0') + "entry 0");
  const Hash l1 = sha(std::string(1, '\0') + "entry 1");
  const Hash l2 = sha(std::string(1, '\0') + "entry 2");
  const Hash r2 = sha("\x01" + str(l0) + str(l1));
  const Hash r3 = sha("\x01" + str(r2) + str(l2));
  EXPECT_EQ(internal::Base64Encode(str(l2)), "V8efTzGuApxdS9MLBzwnyU35NDiytGl+Hh7vW8A5SkE=");

  const struct {
    const char* msg;
    uint64_t size;
    Hash root;
  } cases[] = {{golden::kDocCheckpoint2, 2, r2}, {golden::kDocCheckpoint3, 3, r3}};
  for (const auto& tc : cases) {
    auto c = OpenCheckpoint(tc.msg, {*verifier}, "probity.example/log");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->size, tc.size);
    EXPECT_EQ(c->root, tc.root);
    auto again = SignCheckpoint(*c, *signer);  // Ed25519 is deterministic
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, tc.msg);
  }
}

TEST(Checkpoint, RoundTripWithExtensions) {
  Checkpoint c{"probity.example/log", 18446744073709551615u, FilledHash(0xAB), {"ext one", "x"}};
  ASSERT_TRUE(ValidateCheckpoint(c).ok());
  const std::string text = FormatCheckpoint(c);
  EXPECT_EQ(text,
            "probity.example/log\n18446744073709551615\n"
            "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\next one\nx\n");
  auto back = ParseCheckpoint(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, c);
  Checkpoint empty{"o", 0, FilledHash(0), {}};
  auto e = ParseCheckpoint(FormatCheckpoint(empty));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, empty);
}

TEST(Checkpoint, MalformedRejected) {
  const std::string root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
  const std::string root31 = internal::Base64Encode(std::string(31, 'x'));
  const std::string root33 = internal::Base64Encode(std::string(33, 'x'));
  const struct {
    std::string text;
    std::string why;
  } cases[] = {
      {"o\n01\n" + root + "\n", "leading zero"},
      {"o\n00\n" + root + "\n", "leading zero"},
      {"o\n-1\n" + root + "\n", "not decimal"},
      {"o\n+1\n" + root + "\n", "not decimal"},
      {"o\n 1\n" + root + "\n", "not decimal"},
      {"o\n1 \n" + root + "\n", "not decimal"},
      {"o\n0x10\n" + root + "\n", "not decimal"},
      {"o\n1e3\n" + root + "\n", "not decimal"},
      {"o\n\xD9\xA1\n" + root + "\n", "not decimal"},  // ARABIC-INDIC DIGIT ONE
      {"o\n18446744073709551616\n" + root + "\n", "does not fit"},
      {"o\n99999999999999999999999\n" + root + "\n", "does not fit"},
      {"o\n1\n" + root31 + "\n", "31 bytes"},
      {"o\n1\n" + root33 + "\n", "33 bytes"},
      {"o\n1\n" + root.substr(0, 43) + "\n", "not canonical base64"},
      {"o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n", "not canonical base64"},
      {"o\n1\n" + root + "=\n", "not canonical base64"},
      {"o\n1\n\n", "line 3 is empty"},
      {"o\n1\n", "at least 3 lines"},
      {"o\n", "at least 3 lines"},
      {"", "does not end in a newline"},
      {"o\n1\n" + root, "does not end in a newline"},
      {"\n1\n" + root + "\n", "line 1 is empty"},
      {"o\n\n" + root + "\n", "line 2 is empty"},
      {"o\n1\n" + root + "\n\n", "line 4 is empty"},
      {"o\n1\n" + root + "\next\n\n", "line 5 is empty"},
      {"o\r\n1\n" + root + "\n", "control character"},
      {"o\xff\n1\n" + root + "\n", "not valid UTF-8"},
  };
  for (const auto& tc : cases) {
    auto c = ParseCheckpoint(tc.text);
    ASSERT_FALSE(c.ok()) << tc.text;
    EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
    EXPECT_NE(c.status().message().find(tc.why), std::string::npos)
        << c.status().message() << " (wanted: " << tc.why << ")";
  }
}

TEST(Checkpoint, ValidateRejectsUnformattable) {
  EXPECT_FALSE(ValidateCheckpoint({"", 1, {}, {}}).ok());
  EXPECT_FALSE(ValidateCheckpoint({"a\nb", 1, {}, {}}).ok());
  EXPECT_FALSE(ValidateCheckpoint({"o", 1, {}, {""}}).ok());
  EXPECT_FALSE(ValidateCheckpoint({"o", 1, {}, {"a\tb"}}).ok());
  EXPECT_TRUE(ValidateCheckpoint({"o o", 1, {}, {"a b"}}).ok());
}

TEST(Checkpoint, SignAndOpen) {
  auto kp = GenerateKey("probity.example/log");
  ASSERT_TRUE(kp.ok());
  auto signer = Signer::FromSignerKey(kp->signer_key);
  auto verifier = Verifier::FromVerifierKey(kp->verifier_key);
  ASSERT_TRUE(signer.ok() && verifier.ok());
  const Checkpoint c{"probity.example/log", 42, FilledHash(7), {}};
  auto msg = SignCheckpoint(c, *signer);
  ASSERT_TRUE(msg.ok()) << msg.status().ToString();
  auto back = OpenCheckpoint(*msg, {*verifier}, "probity.example/log");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, c);

  auto wrong_origin = OpenCheckpoint(*msg, {*verifier}, "other.example/log");
  ASSERT_FALSE(wrong_origin.ok());
  EXPECT_EQ(wrong_origin.status().code(), Code::kFailedPrecondition);

  const Checkpoint other{"other.example/log", 42, FilledHash(7), {}};
  auto mismatch = SignCheckpoint(other, *signer);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.status().code(), Code::kFailedPrecondition);

  // A signed note whose text is not a checkpoint does not open as one.
  auto not_cp = signer->Sign("hello\n");
  ASSERT_TRUE(not_cp.ok());
  EXPECT_FALSE(OpenCheckpoint(*not_cp, {*verifier}, "probity.example/log").ok());
}

}  // namespace
}  // namespace probity::note
