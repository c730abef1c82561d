#include "common/note/note.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/note/encoding.h"
#include "tests/common/note/golden.h"

namespace probity::note {
namespace {

const std::string kText = golden::kNeumannText;
const std::string kPeterSig = golden::kPeterSigLine;
const std::string kEnochSig = golden::kEnochSigLine;

Verifier MustVerifier(const std::string& vkey) {
  auto v = Verifier::FromVerifierKey(vkey);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return std::move(v).value();
}

Signer MustSigner(const std::string& skey) {
  auto s = Signer::FromSignerKey(skey);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(s).value();
}

const Signature kPeter{"PeterNeumann", 0xc74f20a3, golden::kPeterSigBase64};
const Signature kEnoch{"EnochRoot", 0xaf0cfe78, golden::kEnochSigBase64};

// --- Golden vectors from Go's sumdb/note -----------------------------------------------------

TEST(NoteGolden, GoExampleKeysParse) {
  Signer s = MustSigner(golden::kPeterSignerKey);
  EXPECT_EQ(s.name(), "PeterNeumann");
  EXPECT_EQ(s.key_hash(), 0xc74f20a3u);
  EXPECT_EQ(s.verifier_key(), golden::kPeterVerifierKey);
  Verifier v = MustVerifier(golden::kPeterVerifierKey);
  EXPECT_EQ(v.name(), "PeterNeumann");
  EXPECT_EQ(v.key_hash(), 0xc74f20a3u);
  Verifier e = MustVerifier(golden::kEnochVerifierKey);
  EXPECT_EQ(e.key_hash(), 0xaf0cfe78u);
}

TEST(NoteGolden, SignerReproducesGoSignatureByteForByte) {
  auto msg = MustSigner(golden::kPeterSignerKey).Sign(kText);
  ASSERT_TRUE(msg.ok()) << msg.status().ToString();
  EXPECT_EQ(*msg, kText + "\n" + kPeterSig);
}

TEST(NoteGolden, OpensGoSignedNote) {
  auto n = Open(kText + "\n" + kPeterSig, {MustVerifier(golden::kPeterVerifierKey)});
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->text, kText);
  EXPECT_EQ(n->verified, std::vector<Signature>{kPeter});
  EXPECT_TRUE(n->unverified.empty());
}

TEST(NoteGolden, OpensRealSumGolangOrgTreeHeads) {
  const Verifier v = MustVerifier(golden::kSumGolangOrgKey);
  EXPECT_EQ(v.key_hash(), 0x033de0aeu);
  for (const char* msg : {golden::kSumGolangOrgNote1, golden::kSumGolangOrgNote2}) {
    auto n = Open(msg, {v});
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    ASSERT_EQ(n->verified.size(), 1u);
    EXPECT_EQ(n->verified[0].name, "sum.golang.org");
    EXPECT_EQ(n->text.rfind("go.sum database tree\n", 0), 0u);
  }
}

// Go TestOpen: one verified and one unverified; both verified; neither.
TEST(NoteGolden, GoTestOpenVerifiedAndUnverified) {
  const Verifier peter = MustVerifier(golden::kPeterVerifierKey);
  const Verifier enoch = MustVerifier(golden::kEnochVerifierKey);
  const std::string msg = kText + "\n" + kPeterSig + kEnochSig;

  auto n = Open(msg, {peter});
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->verified, std::vector<Signature>{kPeter});
  EXPECT_EQ(n->unverified, std::vector<Signature>{kEnoch});

  n = Open(msg, {peter, enoch});
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->verified, (std::vector<Signature>{kPeter, kEnoch}));
  EXPECT_TRUE(n->unverified.empty());

  n = Open(msg, {});
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(n.status().message().find("no verifiable signatures"), std::string::npos);
}

TEST(NoteGolden, GoTestOpenAmbiguousVerifier) {
  const Verifier peter = MustVerifier(golden::kPeterVerifierKey);
  const Verifier enoch = MustVerifier(golden::kEnochVerifierKey);
  auto n = Open(kText + "\n" + kEnochSig, {enoch, peter, enoch});
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(n.status().message().find("ambiguous key EnochRoot+af0cfe78"), std::string::npos);
  // An ambiguity no signature refers to does not matter.
  EXPECT_TRUE(Open(kText + "\n" + kPeterSig, {enoch, peter, enoch}).ok());
}

TEST(NoteGolden, GoTestOpenTooManySignatures) {
  std::string sigs;
  for (int i = 0; i < kMaxSignatures; ++i) sigs += kPeterSig;
  const Verifier peter = MustVerifier(golden::kPeterVerifierKey);
  EXPECT_TRUE(Open(kText + "\n" + sigs, {peter}).ok());  // exactly the limit
  for (const auto& known : {std::vector<Verifier>{peter}, std::vector<Verifier>{}}) {
    auto n = Open(kText + "\n" + sigs + kPeterSig, known);
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.status().code(), Code::kInvalidArgument);
    EXPECT_NE(n.status().message().find("more than 100 signatures"), std::string::npos);
  }
}

TEST(NoteGolden, GoTestOpenInvalidSignature) {
  auto n = Open(kText + "\n" + kPeterSig.substr(0, 60) + "ABCD" + kPeterSig.substr(60),
                {MustVerifier(golden::kPeterVerifierKey)});
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), Code::kDataLoss);
  EXPECT_EQ(n.status().message(), "signed note: invalid signature for key PeterNeumann+c74f20a3");
}

// Go TestOpen "Duplicated verified and unverified signatures".
TEST(NoteGolden, GoTestOpenDuplicatesReportedOnce) {
  const std::string enoch_abcd_line = kEnochSig.substr(0, 60) + "ABCD" + kEnochSig.substr(60);
  const Signature enoch_abcd{"EnochRoot", 0xaf0cfe78,
                             std::string(golden::kEnochSigBase64).substr(0, 46) + "ABCD" +
                                 std::string(golden::kEnochSigBase64).substr(46)};
  auto n = Open(kText + "\n" + kPeterSig + kPeterSig + kEnochSig + kEnochSig + enoch_abcd_line,
                {MustVerifier(golden::kPeterVerifierKey)});
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->verified, std::vector<Signature>{kPeter});
  EXPECT_EQ(n->unverified, (std::vector<Signature>{kEnoch, enoch_abcd}));
}

// Go TestOpen "Invalid encoded message syntax": all malformed.
TEST(NoteGolden, GoTestOpenMalformed) {
  const std::vector<std::string> bad = {
      kText,
      kText + "\n",
      kText + "\n" + kPeterSig.substr(0, kPeterSig.size() - 1),
      "\x01" + kText + "\n" + kPeterSig,
      "\xff" + kText + "\n" + kPeterSig,
      kText + "\n" + "\xE2\x80\x94 Bad Name " + golden::kPeterSigBase64,
      kText + "\n" + kPeterSig + "Unexpected line.\n",
  };
  const Verifier peter = MustVerifier(golden::kPeterVerifierKey);
  for (const auto& msg : bad) {
    auto n = Open(msg, {peter});
    ASSERT_FALSE(n.ok()) << msg;
    EXPECT_EQ(n.status().code(), Code::kInvalidArgument) << n.status().ToString();
  }
}

TEST(NoteGolden, MalformedLineMessageNamesTheLine) {
  auto n = Open(kText + "\n" + kPeterSig + "- PeterNeumann AAAA\n",
                {MustVerifier(golden::kPeterVerifierKey)});
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().message(),
            "signed note: signature line 2 is not of the form '\xE2\x80\x94 name base64'");
}

// Go TestNewVerifier / TestNewSigner: every proper substring and every single-byte increment
// of a valid key is rejected.
TEST(NoteGolden, GoKeyManglingsRejected) {
  for (const std::string& key :
       {std::string(golden::kPeterVerifierKey), std::string(golden::kPeterSignerKey)}) {
    const bool is_signer = key.rfind("PRIVATE", 0) == 0;
    auto parses = [&](const std::string& k) {
      return is_signer ? Signer::FromSignerKey(k).ok() : Verifier::FromVerifierKey(k).ok();
    };
    ASSERT_TRUE(parses(key));
    for (size_t i = 0; i <= key.size(); ++i) {
      for (size_t j = i + 1; j <= key.size(); ++j) {
        if (i == 0 && j == key.size()) continue;
        EXPECT_FALSE(parses(key.substr(i, j - i))) << key.substr(i, j - i);
      }
    }
    std::string b = key;
    for (size_t i = 0; i < b.size(); ++i) {
      ++b[i];
      EXPECT_FALSE(parses(b)) << b;
      --b[i];
    }
  }
  // Wrong key length and unknown algorithm, each with a matching key hash (Go's vectors).
  EXPECT_FALSE(Verifier::FromVerifierKey(
                   "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
                   .ok());
  auto alg = Verifier::FromVerifierKey(
      "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
  ASSERT_FALSE(alg.ok());
  EXPECT_NE(alg.status().message().find("unknown algorithm"), std::string::npos);
}

TEST(NoteGolden, SignerKeyErrorsDoNotLeakKeyMaterial) {
  std::string bad = golden::kPeterSignerKey;
  bad[30] = 'f';  // wrong hash
  auto s = Signer::FromSignerKey(bad);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().find("AYEKFALV"), std::string::npos);
}

// --- Round trips with fresh keys ----------------------------------------------------------------

TEST(NoteRoundTrip, GeneratedKeySignsAndVerifies) {
  auto kp = GenerateKey("probity.example/log");
  ASSERT_TRUE(kp.ok()) << kp.status().ToString();
  EXPECT_EQ(kp->signer_key.rfind("PRIVATE+KEY+probity.example/log+", 0), 0u);
  Signer s = MustSigner(kp->signer_key);
  EXPECT_EQ(s.verifier_key(), kp->verifier_key);
  Verifier v = MustVerifier(kp->verifier_key);
  EXPECT_EQ(v.key_hash(), s.key_hash());

  for (const char* text : {"a\n", "a\n\nb\n", "\n", "trailing blank\n\n", "ünïcödé ✓\n"}) {
    auto msg = s.Sign(text);
    ASSERT_TRUE(msg.ok()) << msg.status().ToString();
    auto n = Open(*msg, {v});
    ASSERT_TRUE(n.ok()) << n.status().ToString() << " for " << text;
    EXPECT_EQ(n->text, text);
    ASSERT_EQ(n->verified.size(), 1u);
    EXPECT_EQ(n->verified[0].name, "probity.example/log");
    EXPECT_EQ(n->verified[0].key_hash, s.key_hash());
  }
  // Two generated keys differ.
  auto kp2 = GenerateKey("probity.example/log");
  ASSERT_TRUE(kp2.ok());
  EXPECT_NE(kp->signer_key, kp2->signer_key);
}

TEST(NoteRoundTrip, VerifierRawApi) {
  Signer s = MustSigner(golden::kPeterSignerKey);
  Verifier v = MustVerifier(golden::kPeterVerifierKey);
  auto sig = s.SignRaw("hi");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(v.Verify("hi", *sig));
  std::string bad = *sig;
  bad[0] ^= 1;
  EXPECT_FALSE(v.Verify("hi", bad));
  EXPECT_FALSE(v.Verify("hj", *sig));
  EXPECT_FALSE(v.Verify("hi", sig->substr(0, 63)));
}

TEST(NoteRoundTrip, InvalidNamesRejected) {
  for (const char* name : {"", "a+b", "a b", "a\tb", "a\nb",
                           "a\xC2\xA0"
                           "b",
                           "a\xE2\x80\x83"
                           "b",
                           "a\xE3\x80\x80", "\xff", "\xC0\xAF"}) {
    auto kp = GenerateKey(name);
    ASSERT_FALSE(kp.ok()) << name;
    EXPECT_EQ(kp.status().code(), Code::kInvalidArgument);
  }
  EXPECT_TRUE(GenerateKey("a\xE2\x80\x94z/\xC3\xA9").ok());  // non-space Unicode is fine
}

TEST(NoteRoundTrip, SignRejectsTextOpenCannotRead) {
  Signer s = MustSigner(golden::kPeterSignerKey);
  for (const std::string& text :
       {std::string(""), std::string("abc"), std::string("a\rb\n"), std::string("a\x01\n"),
        std::string("\xff\n"), std::string("nul\0byte\n", 9)}) {
    auto msg = s.Sign(text);
    ASSERT_FALSE(msg.ok());
    EXPECT_EQ(msg.status().code(), Code::kInvalidArgument);
  }
}

// --- Rejections -----------------------------------------------------------------------------

TEST(NoteReject, WrongKey) {
  auto kp = GenerateKey("PeterNeumann");  // same name, different key, so different hash
  ASSERT_TRUE(kp.ok());
  auto n = Open(kText + "\n" + kPeterSig, {MustVerifier(kp->verifier_key)});
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), Code::kFailedPrecondition);
  n = Open(kText + "\n" + kPeterSig, {MustVerifier(golden::kEnochVerifierKey)});
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), Code::kFailedPrecondition);
}

// Every single-bit flip anywhere in a signed note makes Open fail: no byte of it is slack.
TEST(NoteReject, EveryBitFlipFails) {
  const std::string msg = kText + "\n" + kPeterSig;
  const std::vector<Verifier> known{MustVerifier(golden::kPeterVerifierKey)};
  ASSERT_TRUE(Open(msg, known).ok());
  for (size_t i = 0; i < msg.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string m = msg;
      m[i] = static_cast<char>(m[i] ^ (1 << bit));
      EXPECT_FALSE(Open(m, known).ok()) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(NoteReject, FlippedTextByteIsInvalidSignature) {
  std::string msg = kText + "\n" + kPeterSig;
  msg[3] = 'X';
  auto n = Open(msg, {MustVerifier(golden::kPeterVerifierKey)});
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), Code::kDataLoss);
}

TEST(NoteReject, FlippedSignatureByteIsInvalidSignature) {
  std::string raw = *internal::Base64DecodeStrict(golden::kPeterSigBase64);
  raw[40] ^= 0x20;
  const std::string msg =
      kText + "\n\xE2\x80\x94 PeterNeumann " + internal::Base64Encode(raw) + "\n";
  auto n = Open(msg, {MustVerifier(golden::kPeterVerifierKey)});
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), Code::kDataLoss);
}

TEST(NoteReject, MissingTrailingNewline) {
  const std::string msg = kText + "\n" + kPeterSig;
  auto n = Open(msg.substr(0, msg.size() - 1), {MustVerifier(golden::kPeterVerifierKey)});
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().message(), "signed note: last signature line does not end in a newline");
  // A text without its final newline cannot be split from its signatures.
  EXPECT_FALSE(Open(kText.substr(0, kText.size() - 1) + "\n" + kPeterSig,
                    {MustVerifier(golden::kPeterVerifierKey)})
                   .ok());
}

TEST(NoteReject, BadBase64) {
  const Verifier v = MustVerifier(golden::kPeterVerifierKey);
  const std::string b64 = golden::kPeterSigBase64;
  const std::string prefix = kText + "\n\xE2\x80\x94 PeterNeumann ";
  const std::vector<std::string> bad = {
      b64.substr(0, b64.size() - 1),             // missing padding
      b64 + "=",                                 // extra padding
      "!" + b64.substr(1),                       // not in the alphabet
      b64.substr(0, 20) + "=" + b64.substr(21),  // '=' in the middle
      b64.substr(0, 20) + " " + b64.substr(21),  // space inside
      "",                                        // empty
      "AAAAAA==",                                // 4 bytes: shorter than 5
  };
  for (const auto& s : bad) {
    auto n = Open(prefix + s + "\n", {v});
    ASSERT_FALSE(n.ok()) << s;
    EXPECT_EQ(n.status().code(), Code::kInvalidArgument) << s;
  }
}

// Deliberately stricter than Go: the last base64 symbol of a 68-byte signature has 2 unused
// bits; Go ignores them, Probity requires them to be zero, so each signature has one encoding.
TEST(NoteReject, NonCanonicalBase64UnlikeGo) {
  std::string b64 = golden::kPeterSigBase64;
  ASSERT_EQ(b64[b64.size() - 2], 'M');  // 'M' = 12 = 0b001100: low two bits unused, zero
  b64[b64.size() - 2] = 'N';            // same decoded bytes under Go's lenient decoder
  auto n = Open(kText + "\n\xE2\x80\x94 PeterNeumann " + b64 + "\n",
                {MustVerifier(golden::kPeterVerifierKey)});
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), Code::kInvalidArgument);
}

// Deliberately stricter than Go (which skips repeats of a known key unverified): c2sp.org says
// a signature whose name and ID match a known key MUST be verified.
TEST(NoteReject, RepeatedKnownKeyLineIsVerifiedUnlikeGo) {
  std::string raw = *internal::Base64DecodeStrict(golden::kPeterSigBase64);
  raw[10] ^= 1;
  const std::string forged = "\xE2\x80\x94 PeterNeumann " + internal::Base64Encode(raw) + "\n";
  auto n = Open(kText + "\n" + kPeterSig + forged, {MustVerifier(golden::kPeterVerifierKey)});
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), Code::kDataLoss);
  // The identical line repeated is the same signature: accepted, reported once.
  n = Open(kText + "\n" + kPeterSig + kPeterSig, {MustVerifier(golden::kPeterVerifierKey)});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->verified.size(), 1u);
}

TEST(NoteReject, UnknownSignatureDoesNotRejectButBadKnownOneDoes) {
  // An unverifiable signature from an unknown key is ignored...
  const std::string junk = "\xE2\x80\x94 someone.example AAAAAAAAAAAAAAAAAAAA\n";
  auto n = Open(kText + "\n" + junk + kPeterSig, {MustVerifier(golden::kPeterVerifierKey)});
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->unverified.size(), 1u);
  // ...and a name matching a known key with a different hash is an unknown key, too.
  const std::string other_hash = "\xE2\x80\x94 PeterNeumann AAAAAAAAAAAAAAAAAAAA\n";
  n = Open(kText + "\n" + other_hash + kPeterSig, {MustVerifier(golden::kPeterVerifierKey)});
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->unverified.size(), 1u);
}

// --- Encoding helpers ---------------------------------------------------------------------------

TEST(NoteEncoding, Base64RoundTripAndStrictness) {
  for (size_t len = 0; len < 70; ++len) {
    std::string bytes;
    for (size_t i = 0; i < len; ++i) bytes.push_back(static_cast<char>(i * 37 + len));
    const std::string enc = internal::Base64Encode(bytes);
    auto dec = internal::Base64DecodeStrict(enc);
    ASSERT_TRUE(dec.has_value());
    EXPECT_EQ(*dec, bytes);
  }
  EXPECT_EQ(internal::Base64Encode("foob"), "Zm9vYg==");  // RFC 4648 section 10
  EXPECT_EQ(internal::Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_FALSE(internal::Base64DecodeStrict("Zm9vYh==").has_value());  // unused bits set
  EXPECT_FALSE(internal::Base64DecodeStrict("Zm9vYmF=").has_value());
  EXPECT_FALSE(internal::Base64DecodeStrict("Zm9vYg").has_value());
  EXPECT_FALSE(internal::Base64DecodeStrict("====").has_value());
  EXPECT_FALSE(internal::Base64DecodeStrict("Zm9v\nYg==").has_value());
}

TEST(NoteEncoding, NoteTextRules) {
  EXPECT_TRUE(internal::IsValidNoteText("a\n\x7f \xE2\x80\x94 \xF0\x9F\x98\x80\n"));
  EXPECT_FALSE(internal::IsValidNoteText("\t"));
  EXPECT_FALSE(internal::IsValidNoteText("\xC0\x80"));          // overlong NUL
  EXPECT_FALSE(internal::IsValidNoteText("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(internal::IsValidNoteText("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(internal::IsValidNoteText("\xE2\x80"));          // truncated
}

}  // namespace
}  // namespace probity::note
