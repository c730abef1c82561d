// Outside verification as a third party meets it: a log store is built here (entries, signed
// checkpoints, the pinned key), the `probity log` commands hand out checkpoints, proofs and leaf
// bytes, and `probity verify` checks them -- and refuses every tampered variant with exit 1.
// The log's Ed25519 signatures are also checked by an independent implementation (Python's
// `cryptography`, Debian's python3-cryptography).
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/codec/codec.h"
#include "common/logstore/keys.h"
#include "common/logstore/proofs.h"
#include "common/logstore/sequencer.h"
#include "common/logstore/store.h"
#include "common/merkle/hasher.h"
#include "common/note/checkpoint.h"
#include "common/note/cosignature.h"
#include "common/note/key_files.h"
#include "services/verify/verify.h"
#include "tests/services/cli/probity_process.h"

namespace probity {
namespace {

namespace fs = std::filesystem;
using Args = std::vector<std::string>;
using probity::testing::ProcessResult;

constexpr int kOk = 0, kInvalid = 1, kUsage = 2, kDataLoss = 3;
constexpr char kOrigin[] = "probity.test/log";

void WriteFile(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

class VerifyCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "probity_verify_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ / "data");
    fs::create_directories(dir_ / "keys");
    auto kp = note::GenerateKey(kOrigin);
    ASSERT_TRUE(kp.ok());
    ASSERT_TRUE(note::WriteKeyFiles(*kp, (dir_ / "keys").string()).ok());
    signer_.emplace(std::move(note::Signer::FromSignerKey(kp->signer_key)).value());
    vkey_ = kp->verifier_key;
    pub_ = (dir_ / "keys" / "probity.pub").string();

    // 10 entries, checkpoints at 0, 3, 7 and 10, the key pinned as ingest pins it.
    auto store = logstore::LogStore::Open((dir_ / "data" / "log").string(), {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto seq = logstore::Sequencer::Create(store->get());
    ASSERT_TRUE(seq.ok());
    ASSERT_TRUE((*seq)->PinLogKey(vkey_).ok());
    ASSERT_TRUE(AddCheckpoint(**seq, 0).ok());
    for (int i = 0; i < 10; ++i) {
      std::vector<v1::LogRecord> records(1);
      records[0].set_event_id("e" + std::to_string(i));
      records[0].set_payload("payload " + std::to_string(i));
      records[0].set_topic("probity.claims.v1");
      ASSERT_TRUE((*seq)->Append(&records, {}, {}).ok());
      if (i + 1 == 3 || i + 1 == 7 || i + 1 == 10) {
        ASSERT_TRUE(AddCheckpoint(**seq, i + 1).ok());
      }
    }
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Status AddCheckpoint(logstore::Sequencer& seq, uint64_t size) {
    note::Checkpoint cp{kOrigin, size, seq.root(), {}};
    PROBITY_ASSIGN_OR_RETURN(std::string signed_note, note::SignCheckpoint(cp, *signer_));
    v1::CheckpointRecord r;
    r.set_tree_size(size);
    r.set_root_hash(std::string(merkle::AsBytes(cp.root)));
    r.set_signed_note(signed_note);
    notes_[size] = signed_note;
    return seq.AddCheckpoint(r);
  }

  ProcessResult Run(const Args& args) {
    return probity::testing::RunProcess(PROBITY_BIN, args, dir_);
  }
  // `probity log ARGS --data-dir DATA`.
  ProcessResult Log(Args args) {
    args.insert(args.begin(), "log");
    args.push_back("--data-dir");
    args.push_back((dir_ / "data").string());
    return Run(args);
  }
  // Writes `content` to a file in the test directory and returns its path.
  std::string File(const std::string& name, const std::string& content) {
    WriteFile(dir_ / name, content);
    return (dir_ / name).string();
  }
  // Overwrites the stored checkpoint record under size `key` (the store must be closed).
  void PutCheckpointRecord(uint64_t key, const v1::CheckpointRecord& r) {
    auto store = logstore::LogStore::Open((dir_ / "data" / "log").string(), {});
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)
                    ->db()
                    ->Put(rocksdb::WriteOptions(), (*store)->checkpoints(),
                          logstore::keys::Be64(key), r.SerializeAsString())
                    .ok());
  }
  v1::CheckpointRecord Record(uint64_t size) {
    auto store = logstore::LogStore::Open((dir_ / "data" / "log").string(), {.read_only = true});
    auto all = (*store)->Checkpoints();
    for (const auto& r : *all) {
      if (r.tree_size() == size) return r;
    }
    ADD_FAILURE() << "no checkpoint of size " << size;
    return {};
  }

  fs::path dir_;
  std::optional<note::Signer> signer_;
  std::string vkey_, pub_;
  std::map<uint64_t, std::string> notes_;
};

TEST_F(VerifyCli, LogCommandsHandOutWhatVerifyAccepts) {
  // The latest verified checkpoint, with the key pinned in the log (no key file in DATA_DIR).
  ProcessResult cp = Log({"checkpoint"});
  ASSERT_EQ(cp.code, kOk) << cp.err;
  EXPECT_EQ(cp.out, notes_[10]);
  const std::string cp10 = File("cp10", cp.out);
  ASSERT_EQ(Log({"checkpoint", "--size", "3"}).code, kOk);
  const std::string cp3 = File("cp3", Log({"checkpoint", "--size", "3"}).out);

  // The Checkpoint message through the one printer: base64 root, the size.
  ProcessResult js = Log({"checkpoint", "--json"});
  ASSERT_EQ(js.code, kOk) << js.err;
  EXPECT_NE(js.out.find("\"tree_size\":\"10\""), std::string::npos) << js.out;
  const std::string root = merkle::ToBase64(*merkle::HashFromBytes(Record(10).root_hash()));
  EXPECT_NE(js.out.find("\"root_hash\":\"" + root + "\""), std::string::npos) << js.out;

  // Inclusion: defaults to the latest signed checkpoint's size, and says so.
  ProcessResult incl = Log({"proof", "inclusion", "--index", "4", "--json"});
  ASSERT_EQ(incl.code, kOk) << incl.err;
  EXPECT_NE(incl.out.find("\"tree_size\":\"10\""), std::string::npos) << incl.out;
  EXPECT_NE(incl.out.find("\"leaf_index\":\"4\""), std::string::npos) << incl.out;
  ProcessResult text = Log({"proof", "inclusion", "--index", "4"});
  EXPECT_NE(text.out.find("the latest signed checkpoint"), std::string::npos) << text.out;
  const std::string proof = File("incl.json", incl.out);

  // The exact leaf bytes.
  ProcessResult raw = Log({"get", "4", "--raw", "--out", (dir_ / "leaf4").string()});
  ASSERT_EQ(raw.code, kOk) << raw.err;
  const std::string leaf = probity::testing::Slurp(dir_ / "leaf4");
  v1::LogRecord rec;
  ASSERT_TRUE(rec.ParseFromString(leaf));
  EXPECT_EQ(rec.event_id(), "e4");

  ProcessResult ok = Run({"verify", "checkpoint", cp10, "--log-key", pub_});
  EXPECT_EQ(ok.code, kOk) << ok.err;
  EXPECT_NE(ok.out.find("size 10"), std::string::npos) << ok.out;
  ok = Run({"verify", "inclusion", "--checkpoint", cp10, "--proof", proof, "--leaf",
            (dir_ / "leaf4").string(), "--log-key", vkey_});
  EXPECT_EQ(ok.code, kOk) << ok.err;

  // Consistency 3 -> 10.
  ProcessResult cons = Log({"proof", "consistency", "--from", "3", "--json"});
  ASSERT_EQ(cons.code, kOk) << cons.err;
  EXPECT_NE(cons.out.find("\"new_size\":\"10\""), std::string::npos) << cons.out;
  ok = Run({"verify", "consistency", "--old", cp3, "--checkpoint", cp10, "--proof",
            File("cons.json", cons.out), "--log-key", pub_});
  EXPECT_EQ(ok.code, kOk) << ok.err;

  // From size 0: refused by the log (RFC 9162 defines no such proof).
  ProcessResult zero = Log({"proof", "consistency", "--from", "0"});
  EXPECT_EQ(zero.code, kInvalid);
  EXPECT_NE(zero.err.find("RFC 9162"), std::string::npos) << zero.err;
}

TEST_F(VerifyCli, VerifyRejectsTamperedMaterial) {
  const std::string cp10 = File("cp10", notes_[10]);
  const std::string cp7 = File("cp7", notes_[7]);
  const std::string cp3 = File("cp3", notes_[3]);
  const std::string incl = Log({"proof", "inclusion", "--index", "4", "--json"}).out;
  const std::string cons = Log({"proof", "consistency", "--from", "3", "--json"}).out;
  ASSERT_FALSE(incl.empty());
  ASSERT_FALSE(cons.empty());
  auto proto_incl = std::move(verify::ParseInclusionProof(incl)).value();
  auto proto_cons = std::move(verify::ParseConsistencyProof(cons)).value();

  auto expect_invalid = [&](const Args& args, const std::string& why) {
    Args a = args;
    a.insert(a.begin(), "verify");
    a.push_back("--log-key");
    a.push_back(pub_);
    ProcessResult r = Run(a);
    EXPECT_EQ(r.code, kInvalid) << why << ": " << r.out << r.err;
    EXPECT_NE(r.err.find("INVALID"), std::string::npos) << why << ": " << r.err;
  };

  // Flipped proof hashes, each position.
  for (int i = 0; i < proto_incl.hashes_size(); ++i) {
    v1::InclusionProof p = proto_incl;
    (*p.mutable_hashes(i))[5] ^= 1;
    expect_invalid({"inclusion", "--checkpoint", cp10, "--proof", File("p.json", codec::ToJson(p))},
                   "flipped inclusion hash " + std::to_string(i));
  }
  for (int i = 0; i < proto_cons.hashes_size(); ++i) {
    v1::ConsistencyProof p = proto_cons;
    (*p.mutable_hashes(i))[0] ^= 0x80;
    expect_invalid({"consistency", "--old", cp3, "--checkpoint", cp10, "--proof",
                    File("p.json", codec::ToJson(p))},
                   "flipped consistency hash " + std::to_string(i));
  }
  // Wrong index; wrong size (a proof for 10 against the checkpoint of 7); leaf hash flipped.
  {
    v1::InclusionProof p = proto_incl;
    p.set_leaf_index(5);
    expect_invalid({"inclusion", "--checkpoint", cp10, "--proof", File("p.json", codec::ToJson(p))},
                   "wrong index");
    expect_invalid({"inclusion", "--checkpoint", cp7, "--proof", File("p.json", incl)},
                   "wrong size");
    p = proto_incl;
    p.set_tree_size(7);
    expect_invalid({"inclusion", "--checkpoint", cp7, "--proof", File("p.json", codec::ToJson(p))},
                   "proof of 10 relabelled as 7");
    p = proto_incl;
    (*p.mutable_leaf_hash())[0] ^= 1;
    expect_invalid({"inclusion", "--checkpoint", cp10, "--proof", File("p.json", codec::ToJson(p))},
                   "flipped leaf hash");
    v1::ConsistencyProof c = proto_cons;
    c.set_old_size(7);
    expect_invalid({"consistency", "--old", cp7, "--checkpoint", cp10, "--proof",
                    File("p.json", codec::ToJson(c))},
                   "consistency proof of 3 used for 7");
  }
  // The wrong leaf bytes.
  expect_invalid({"inclusion", "--checkpoint", cp10, "--proof", File("p.json", incl), "--leaf",
                  File("leaf", "not the entry")},
                 "wrong leaf bytes");
  // An altered note body (size line changed, signature kept), and a flipped signature.
  {
    std::string body = notes_[10];
    body.replace(body.find("\n10\n"), 4, "\n11\n");
    expect_invalid({"checkpoint", File("bad", body)}, "altered note body");
    std::string sig = notes_[10];
    sig[sig.size() - 10] = sig[sig.size() - 10] == 'A' ? 'B' : 'A';
    expect_invalid({"checkpoint", File("bad", sig)}, "flipped signature");
  }
  // Another key.
  {
    auto other = note::GenerateKey(kOrigin);
    ProcessResult r = Run({"verify", "checkpoint", cp10, "--log-key", other->verifier_key});
    EXPECT_EQ(r.code, kInvalid) << r.err;
  }
  // An empty proof from size 0 (against a validly signed checkpoint of the empty tree).
  {
    v1::ConsistencyProof c;
    c.set_old_size(0);
    c.set_new_size(10);
    ProcessResult r = Run({"verify", "consistency", "--old", File("cp0", notes_[0]), "--checkpoint",
                           cp10, "--proof", File("p.json", codec::ToJson(c)), "--log-key", pub_});
    EXPECT_EQ(r.code, kInvalid) << r.err;
    EXPECT_NE(r.err.find("RFC 9162"), std::string::npos) << r.err;
  }
  // Usage: no key or policy; a key that does not parse.
  EXPECT_EQ(Run({"verify", "checkpoint", cp10}).code, kUsage);
  EXPECT_EQ(Run({"verify", "checkpoint", cp10, "--log-key", "nonsense"}).code, kUsage);
}

TEST_F(VerifyCli, HashesAreAcceptedInHexToo) {
  const std::string cp10 = File("cp10", notes_[10]);
  auto store = logstore::LogStore::Open((dir_ / "data" / "log").string(), {.read_only = true});
  auto p = logstore::MakeInclusionProof(**store, 2, 10);
  ASSERT_TRUE(p.ok());
  std::string json = "{\"leaf_index\":2,\"tree_size\":10,\"leaf_hash\":\"" +
                     merkle::ToHex(*merkle::HashFromBytes(p->leaf_hash())) + "\",\"hashes\":[";
  for (int i = 0; i < p->hashes_size(); ++i) {
    json += (i ? ",\"" : "\"") + merkle::ToHex(*merkle::HashFromBytes(p->hashes(i))) + "\"";
  }
  json += "]}";
  ProcessResult r = Run({"verify", "inclusion", "--checkpoint", cp10, "--proof",
                         File("hex.json", json), "--leaf-hash",
                         merkle::ToHex(*merkle::HashFromBytes(p->leaf_hash())), "--log-key", pub_});
  EXPECT_EQ(r.code, kOk) << r.err;
}

TEST_F(VerifyCli, LogVerifyChecksEveryNoteAndCheckpointServesTheLargestVerified) {
  ProcessResult v = Log({"verify"});
  ASSERT_EQ(v.code, kOk) << v.err;
  EXPECT_NE(v.out.find("4 signed notes checked"), std::string::npos) << v.out;

  // One character of the latest note's signature changed.
  v1::CheckpointRecord r10 = Record(10);
  v1::CheckpointRecord bad = r10;
  std::string& note = *bad.mutable_signed_note();
  note[note.size() - 10] = note[note.size() - 10] == 'A' ? 'B' : 'A';
  PutCheckpointRecord(10, bad);
  v = Log({"verify"});
  EXPECT_EQ(v.code, kDataLoss) << v.out;
  EXPECT_NE(v.err.find("checkpoint at size 10"), std::string::npos) << v.err;
  EXPECT_EQ(Log({"checkpoint"}).out, notes_[7]);

  // The latest note replaced by an older, validly signed one.
  v1::CheckpointRecord older = Record(7);
  PutCheckpointRecord(10, older);
  v = Log({"verify"});
  EXPECT_EQ(v.code, kDataLoss);
  EXPECT_NE(v.err.find("stored at size 10"), std::string::npos) << v.err;
  v1::CheckpointRecord swapped = r10;
  swapped.set_signed_note(notes_[7]);
  PutCheckpointRecord(10, swapped);
  v = Log({"verify"});
  EXPECT_EQ(v.code, kDataLoss);
  EXPECT_NE(v.err.find("signed note is for size 7"), std::string::npos) << v.err;
  EXPECT_EQ(Log({"checkpoint"}).out, notes_[7]);

  // Another key given explicitly: no note verifies.
  PutCheckpointRecord(10, r10);
  auto other = note::GenerateKey(kOrigin);
  EXPECT_EQ(Log({"verify", "--log-key", other->verifier_key}).code, kDataLoss);
  EXPECT_EQ(Log({"checkpoint", "--log-key", other->verifier_key}).code, kInvalid);
  EXPECT_EQ(Log({"verify", "--log-key", pub_}).code, kOk);
}

// The log's key rotated (as `probity ingest --rotate-log-key` does): `log verify` checks the old
// notes with the retired key the log keeps and the new ones with the new key; given only the new
// key it names the first old note; given a file with both keys, it passes; `log checkpoint` serves
// the new key's latest.
TEST_F(VerifyCli, AfterAKeyRotationOldAndNewNotesVerify) {
  auto kp = note::GenerateKey(kOrigin);
  ASSERT_TRUE(kp.ok());
  {
    auto store = logstore::LogStore::Open((dir_ / "data" / "log").string(), {});
    ASSERT_TRUE(store.ok());
    auto seq = logstore::Sequencer::Create(store->get());
    ASSERT_TRUE(seq.ok());
    ASSERT_EQ((*seq)->PinLogKey(kp->verifier_key).code(), Code::kFailedPrecondition);
    ASSERT_TRUE((*seq)->PinLogKey(kp->verifier_key, /*rotate=*/true).ok());
    signer_.emplace(std::move(note::Signer::FromSignerKey(kp->signer_key)).value());
    std::vector<v1::LogRecord> records(1);
    records[0].set_event_id("after");
    records[0].set_payload("after the rotation");
    records[0].set_topic("probity.claims.v1");
    ASSERT_TRUE((*seq)->Append(&records, {}, {}).ok());
    ASSERT_TRUE(AddCheckpoint(**seq, 11).ok());
  }
  ProcessResult pinned = Log({"verify"});
  ASSERT_EQ(pinned.code, kOk) << pinned.out << pinned.err;
  EXPECT_NE(pinned.out.find("5 signed notes checked with " + std::string(kOrigin) + "+"),
            std::string::npos)
      << pinned.out;
  EXPECT_NE(pinned.out.find(", " + std::string(kOrigin) + "+"), std::string::npos) << pinned.out;

  const std::string new_only = File("new.pub", kp->verifier_key + "\n");
  ProcessResult refused = Log({"verify", "--log-key", new_only});
  EXPECT_EQ(refused.code, kDataLoss) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("checkpoint at size 0"), std::string::npos) << refused.err;

  const std::string both = File("both.pub", kp->verifier_key + "\n" + vkey_ + "\n");
  ProcessResult ok = Log({"verify", "--log-key", both});
  EXPECT_EQ(ok.code, kOk) << ok.out << ok.err;
  ProcessResult latest = Log({"checkpoint", "--log-key", both});
  ASSERT_EQ(latest.code, kOk) << latest.err;
  EXPECT_EQ(latest.out, notes_[11]);

  // A third party with the two-line key file: each era's checkpoint verifies, and a consistency
  // proof from the old key's checkpoint (size 7) to the new key's (11) too; with the new key
  // alone the old checkpoint does not.
  const std::string cp7 = File("cp7", notes_[7]), cp11 = File("cp11", notes_[11]);
  EXPECT_EQ(Run({"verify", "checkpoint", cp7, "--log-key", both}).code, kOk);
  EXPECT_EQ(Run({"verify", "checkpoint", cp11, "--log-key", both}).code, kOk);
  EXPECT_EQ(Run({"verify", "checkpoint", cp7, "--log-key", new_only}).code, kInvalid);
  ProcessResult cons = Log({"proof", "consistency", "--from", "7", "--json", "--log-key", both});
  ASSERT_EQ(cons.code, kOk) << cons.err;
  ProcessResult across = Run({"verify", "consistency", "--old", cp7, "--checkpoint", cp11,
                              "--proof", File("cons.json", cons.out), "--log-key", both});
  EXPECT_EQ(across.code, kOk) << across.out << across.err;
}

TEST_F(VerifyCli, TrustPolicyWithWitnessQuorum) {
  auto w1 = note::GenerateKey("witness.test/w1", note::kAlgCosignatureV1);
  auto w2 = note::GenerateKey("witness.test/w2", note::kAlgCosignatureV1);
  ASSERT_TRUE(w1.ok() && w2.ok());
  auto c1 = note::Signer::FromSignerKey(w1->signer_key, note::kAlgCosignatureV1);
  ASSERT_TRUE(c1.ok()) << c1.status().ToString();
  const std::string text = notes_[10].substr(0, notes_[10].find("\n\n") + 1);
  auto line = note::Cosign(*c1, text, 1764590400);
  ASSERT_TRUE(line.ok());
  const std::string cosigned = notes_[10] + *line;
  const std::string policy =
      File("policy", "# test policy\nlog " + vkey_ + "\nwitness " + w1->verifier_key +
                         "\nwitness " + w2->verifier_key + "\nquorum 1\n");
  ProcessResult r = Run({"verify", "checkpoint", File("cp", cosigned), "--policy", policy});
  EXPECT_EQ(r.code, kOk) << r.err;
  EXPECT_NE(r.out.find("cosigned by witness.test/w1"), std::string::npos) << r.out;
  // Without the cosignature the quorum is not met.
  r = Run({"verify", "checkpoint", File("cp", notes_[10]), "--policy", policy});
  EXPECT_EQ(r.code, kInvalid) << r.err;
  // A cosignature that does not verify (timestamp changed) rejects the note.
  std::string bad = *line;
  auto b64 = bad.substr(bad.rfind(' ') + 1);
  bad[bad.rfind(' ') + 1 + 8] = b64[8] == 'A' ? 'B' : 'A';
  r = Run({"verify", "checkpoint", File("cp", notes_[10] + bad), "--policy", policy});
  EXPECT_EQ(r.code, kInvalid) << r.err;
  // A policy that does not parse is a usage error.
  r = Run({"verify", "checkpoint", File("cp", cosigned), "--policy",
           File("p2", "log " + vkey_ + "\nwitness " + w1->verifier_key + "\n")});
  EXPECT_EQ(r.code, kUsage) << r.err;
}

// The log's signature on what `probity log checkpoint` serves, checked by Python's `cryptography`
// (an Ed25519 implementation that shares no code with Probity's OpenSSL calls).
TEST_F(VerifyCli, CheckpointSignatureVerifiesWithPythonCryptography) {
  const std::string cp = Log({"checkpoint"}).out;
  ASSERT_FALSE(cp.empty());
  const std::string script = File("check.py", R"PY(
import base64, hashlib, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
vkey = open(sys.argv[1]).read().strip()
note = open(sys.argv[2], "rb").read().decode()
name, khash, kb64 = vkey.split("+", 2)
key = base64.b64decode(kb64)
assert key[0] == 1 and len(key) == 33
assert hashlib.sha256(name.encode() + b"\n" + key).digest()[:4].hex() == khash
text, sigs = note.rsplit("\n\n", 1)
text += "\n"
line = sigs.splitlines()[0]
assert line.startswith("\u2014 " + name + " ")
sig = base64.b64decode(line.split(" ")[2])
assert sig[:4].hex() == khash
Ed25519PublicKey.from_public_bytes(key[1:]).verify(sig[4:], text.encode())
print("verified", text.splitlines()[1])
)PY");
  const std::string note_file = File("cp.note", cp);
  ProcessResult r =
      probity::testing::RunProcess("/usr/bin/python3", {script, pub_, note_file}, dir_);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "verified 10\n");
  // The same script rejects a flipped signature (the check can fail).
  std::string bad = cp;
  bad[bad.size() - 10] = bad[bad.size() - 10] == 'A' ? 'B' : 'A';
  r = probity::testing::RunProcess("/usr/bin/python3", {script, pub_, File("bad.note", bad)}, dir_);
  EXPECT_NE(r.code, 0);
}

}  // namespace
}  // namespace probity
