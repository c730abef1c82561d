// The witness (c2sp.org/tlog-witness) answer by answer, its state across a restart (no rollback),
// the sequencer's collector over HTTP (409 recovery), ingest storing and publishing the cosigned
// checkpoint, and the cosignature checked by an independent Ed25519 (Python's `cryptography`).
#include "services/witness/witness.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "common/bus/topics.h"
#include "common/logstore/sequencer.h"
#include "common/merkle/hasher.h"
#include "common/note/checkpoint.h"
#include "common/note/cosignature.h"
#include "common/note/policy.h"
#include "services/ingest/ingest.h"
#include "services/witness/collector.h"
#include "tests/integration/test_events.h"
#include "tests/services/cli/probity_process.h"
#include "tests/services/ingest/fake_bus.h"

namespace probity::witness {
namespace {

namespace fs = std::filesystem;
constexpr Micros kSecond = 1'000'000;
constexpr Micros kStart = 1'700'000'000LL * kSecond;  // 2023-11-14
constexpr char kOrigin[] = "probity.test/log";

// A log with `n` entries whose payloads start with `tag`, and signed checkpoints at `sizes`.
struct TestLog {
  fs::path dir;
  std::unique_ptr<logstore::LogStore> store;
  std::map<uint64_t, std::string> notes;

  TestLog(fs::path d, const note::Signer& signer, const std::string& tag, uint64_t n,
          std::vector<uint64_t> sizes)
      : dir(std::move(d)) {
    fs::remove_all(dir);
    store = std::move(logstore::LogStore::Open(dir.string(), {})).value();
    auto seq = std::move(logstore::Sequencer::Create(store.get())).value();
    for (uint64_t i = 0; i < n; ++i) {
      std::vector<v1::LogRecord> r(1);
      r[0].set_event_id(tag + std::to_string(i));
      EXPECT_TRUE(seq->Append(&r, {}, {}).ok());
      if (std::find(sizes.begin(), sizes.end(), i + 1) != sizes.end()) {
        note::Checkpoint cp{kOrigin, i + 1, seq->root(), {}};
        notes[i + 1] = std::move(note::SignCheckpoint(cp, signer)).value();
        v1::CheckpointRecord rec;
        rec.set_tree_size(i + 1);
        rec.set_root_hash(std::string(merkle::AsBytes(cp.root)));
        rec.set_signed_note(notes[i + 1]);
        EXPECT_TRUE(seq->AddCheckpoint(rec).ok());
      }
    }
  }
  ~TestLog() {
    store.reset();
    fs::remove_all(dir);
  }
  // An add-checkpoint body from old size `old` to the checkpoint of size `size`.
  std::string Body(uint64_t old, uint64_t size) {
    std::string b = "old " + std::to_string(old) + "\n";
    if (old > 0 && old < size) {
      const std::vector<merkle::Hash> proof = std::move(store->ConsistencyProof(old, size)).value();
      for (const auto& h : proof) b += merkle::ToBase64(h) + "\n";
    }
    return b + "\n" + notes.at(size);
  }
  v1::CheckpointRecord Record(uint64_t size) {
    auto all = std::move(store->Checkpoints()).value();
    for (const auto& r : all)
      if (r.tree_size() == size) return r;
    return {};
  }
};

class WitnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("probity_witness_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_);
    auto lk = note::GenerateKey(kOrigin);
    log_signer_.emplace(std::move(note::Signer::FromSignerKey(lk->signer_key)).value());
    log_vkey_ = lk->verifier_key;
    auto wk = note::GenerateKey("witness.test/w1", note::kAlgCosignatureV1);
    witness_key_ = *wk;
    log_.emplace(base_ / "log", *log_signer_, "e", 10, std::vector<uint64_t>{3, 7, 10});
  }
  void TearDown() override {
    witness_.reset();
    log_.reset();
    fs::remove_all(base_);
  }
  void OpenWitness() {
    witness_.reset();
    auto cosigner = note::Signer::FromSignerKey(witness_key_.signer_key, note::kAlgCosignatureV1);
    ASSERT_TRUE(cosigner.ok());
    auto w = Witness::Open((base_ / "state").string(), {{kOrigin, log_vkey_}}, *cosigner, &clock_);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    witness_ = std::move(w).value();
  }
  note::Verifier WitnessVerifier() {
    return std::move(
               note::Verifier::FromVerifierKey(witness_key_.verifier_key, note::kAlgCosignatureV1))
        .value();
  }
  // The signature line of a 200 answer, checked against the witness key; returns its timestamp.
  uint64_t CheckLine(const Reply& r, const std::string& signed_note) {
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string text = signed_note.substr(0, signed_note.find("\n\n") + 1);
    auto opened = note::Open(signed_note + r.body, {*note::Verifier::FromVerifierKey(log_vkey_)});
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    if (!opened.ok() || opened->unverified.size() != 1) return 0;
    auto t = note::VerifyCosignature(WitnessVerifier(), text, opened->unverified[0]);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? *t : 0;
  }

  fs::path base_;
  ManualClock clock_{kStart};
  std::optional<note::Signer> log_signer_;
  std::string log_vkey_;
  note::KeyPair witness_key_;
  std::optional<TestLog> log_;
  std::unique_ptr<Witness> witness_;
};

TEST_F(WitnessTest, AnswersEveryCaseOfAddCheckpoint) {
  OpenWitness();
  // 422: size 0 must have the empty root; a proof from 0 must be empty.
  {
    note::Checkpoint zero{kOrigin, 0, *log_->store->Root(3), {}};
    Reply r = witness_->AddCheckpoint("old 0\n\n" + *note::SignCheckpoint(zero, *log_signer_));
    EXPECT_EQ(r.status, 422) << r.body;
    std::string body = log_->Body(0, 3);
    body.insert(6, merkle::ToBase64(merkle::EmptyRoot()) + "\n");
    EXPECT_EQ(witness_->AddCheckpoint(body).status, 422);
  }
  // 200 from nothing, with a timestamp from the injected clock.
  EXPECT_EQ(CheckLine(witness_->AddCheckpoint(log_->Body(0, 3)), log_->notes[3]),
            static_cast<uint64_t>(kStart / kSecond));
  // 409 with the size held, as text/x.tlog.size.
  Reply conflict = witness_->AddCheckpoint(log_->Body(0, 7));
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(conflict.body, "3\n");
  EXPECT_EQ(conflict.content_type, "text/x.tlog.size");
  // 200 with a consistency proof from the size held; the same checkpoint again is fine.
  clock_.Advance(60 * kSecond);
  EXPECT_EQ(CheckLine(witness_->AddCheckpoint(log_->Body(3, 7)), log_->notes[7]),
            static_cast<uint64_t>(kStart / kSecond + 60));
  EXPECT_EQ(witness_->AddCheckpoint(log_->Body(7, 7)).status, 200);
  // 422: a flipped proof hash.
  std::string flipped = log_->Body(7, 10);
  flipped[6] = flipped[6] == 'A' ? 'B' : 'A';
  EXPECT_EQ(witness_->AddCheckpoint(flipped).status, 422);
  // 422: a fork, validly signed by the log's key over another history.
  {
    TestLog fork(base_ / "fork", *log_signer_, "fork", 10, {7, 10});
    Reply r = witness_->AddCheckpoint(fork.Body(7, 10));
    EXPECT_EQ(r.status, 422) << r.body;
    // Same size as held, other root.
    EXPECT_EQ(witness_->AddCheckpoint("old 7\n\n" + fork.notes[7]).status, 422);
  }
  // 400: old size above the checkpoint's; malformed bodies.
  EXPECT_EQ(witness_->AddCheckpoint(log_->Body(0, 3).replace(4, 1, "9")).status, 400);
  EXPECT_EQ(witness_->AddCheckpoint("nonsense").status, 400);
  EXPECT_EQ(witness_->AddCheckpoint("old 07\n\n" + log_->notes[10]).status, 400);
  EXPECT_EQ(witness_->AddCheckpoint("old 7\nnot base64\n\n" + log_->notes[10]).status, 400);
  // 404: another origin; 403: this origin signed by another key, or a bad signature.
  {
    auto other = note::GenerateKey("other.test/log");
    auto s = note::Signer::FromSignerKey(other->signer_key);
    note::Checkpoint cp{"other.test/log", 3, *log_->store->Root(3), {}};
    EXPECT_EQ(witness_->AddCheckpoint("old 0\n\n" + *note::SignCheckpoint(cp, *s)).status, 404);
    auto same_name = note::GenerateKey(kOrigin);
    auto s2 = note::Signer::FromSignerKey(same_name->signer_key);
    note::Checkpoint cp2{kOrigin, 10, *log_->store->Root(10), {}};
    EXPECT_EQ(witness_
                  ->AddCheckpoint(log_->Body(7, 10).substr(0, log_->Body(7, 10).find("\n\n") + 2) +
                                  *note::SignCheckpoint(cp2, *s2))
                  .status,
              403);
    std::string bad = log_->Body(7, 10);
    bad[bad.size() - 5] = bad[bad.size() - 5] == 'A' ? 'B' : 'A';
    EXPECT_EQ(witness_->AddCheckpoint(bad).status, 403);
  }
  // Nothing above changed what it holds.
  auto latest = witness_->Latest(kOrigin);
  ASSERT_TRUE(latest.ok() && *latest);
  EXPECT_EQ((*latest)->tree_size(), 7u);
  // The refused fork was kept as evidence.
  EXPECT_EQ(witness_->GetCheckpoint(merkle::ToHex(merkle::Sha256(kOrigin))).status, 200);
}

TEST_F(WitnessTest, RestartKeepsTheLatestAndNeverRollsBack) {
  OpenWitness();
  ASSERT_EQ(witness_->AddCheckpoint(log_->Body(0, 7)).status, 200);
  OpenWitness();  // a new process on the same state
  Reply r = witness_->AddCheckpoint(log_->Body(0, 3));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "7\n");
  EXPECT_EQ(witness_->AddCheckpoint(log_->Body(7, 3).replace(4, 1, "7")).status, 400);
  EXPECT_EQ(witness_->AddCheckpoint(log_->Body(7, 10)).status, 200);
  Reply got = witness_->GetCheckpoint(merkle::ToHex(merkle::Sha256(kOrigin)));
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body.substr(0, log_->notes[10].size()), log_->notes[10]);
}

TEST_F(WitnessTest, CollectorRecoversFrom409AndIngestPublishesTheCosignedCheckpoint) {
  OpenWitness();
  std::mt19937 rng(static_cast<uint32_t>(getpid()));
  int port = 0;
  for (int i = 0; i < 20 && port == 0; ++i) {
    const int p = 43600 + static_cast<int>(rng() % 300);
    if (witness_->Start("127.0.0.1", p).ok()) port = p;
  }
  ASSERT_NE(port, 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  {
    auto c = WitnessCollector::Create({{url, witness_key_.verifier_key}}, log_->store.get());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    auto done = (*c)->CollectNow(log_->Record(3));
    ASSERT_TRUE(done);
    EXPECT_EQ((*c)->stats().cosignatures, 1u);
  }
  // A collector that knows nothing (a restarted sequencer) meets a witness that holds 3.
  auto c = WitnessCollector::Create({{url, witness_key_.verifier_key}}, log_->store.get());
  ASSERT_TRUE(c.ok());
  auto done = (*c)->CollectNow(log_->Record(7));
  ASSERT_TRUE(done);
  EXPECT_EQ((*c)->stats().conflicts_recovered, 1u);
  EXPECT_EQ((*c)->stats().cosignatures, 1u);
  // What a verifier with a 1-of-1 witness policy accepts.
  v1::VerifierPolicy p;
  p.set_log_vkey(log_vkey_);
  p.add_witnesses()->set_vkey(witness_key_.verifier_key);
  p.set_quorum(1);
  auto policy = note::TrustPolicy::Create(p);
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  auto trusted = policy->Open(done->signed_note());
  ASSERT_TRUE(trusted.ok()) << trusted.status().ToString();
  EXPECT_EQ(trusted->cosigned, std::vector<std::string>{"witness.test/w1"});
  EXPECT_FALSE(policy->Open(log_->notes[7]).ok());  // quorum not met without it

  // Ingest on a fake bus with this collector: it offers its checkpoint on its own cadence, stores
  // the cosigned one in place and publishes it.
  TestLog live(base_ / "live", *log_signer_, "x", 0, {});
  live.store.reset();
  auto store = std::move(logstore::LogStore::Open((base_ / "live").string(), {})).value();
  auto collector = WitnessCollector::Create({{url, witness_key_.verifier_key}}, store.get());
  ASSERT_TRUE(collector.ok());
  bus::testing::FakeBus bus;
  prometheus::Registry registry;
  ingest::IngestOptions o;
  o.checkpoint_origin = kOrigin;
  o.witness_interval_ms = 60000;
  ManualClock clock(kStart);
  // The witness holds 7 of the other log under the same origin: use a fresh witness state.
  witness_->Stop();
  witness_.reset();
  fs::remove_all(base_ / "state");
  OpenWitness();
  ASSERT_TRUE(witness_->Start("127.0.0.1", port).ok());
  ingest::IngestService service(o, &bus, store.get(), &clock, &registry, &*log_signer_);
  service.SetCosigner(collector->get());
  ASSERT_TRUE(service.Start().ok());
  bus.Add("probity.claims.v1", testing::Claim("c1", "A81001", 100).SerializeAsString());
  ASSERT_TRUE(service.RunOnce().ok());
  clock.Advance(2 * kSecond);
  ASSERT_TRUE(service.RunOnce().ok());  // checkpoint of size 1, offered to the witness
  bool cosigned = false;
  for (int i = 0; i < 200 && !cosigned; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(service.RunOnce().ok());
    auto latest = std::move(store->LatestCheckpoint()).value();
    cosigned = latest && latest->signed_note().find("witness.test/w1") != std::string::npos;
  }
  ASSERT_TRUE(cosigned);
  ASSERT_TRUE(service.Drain().ok());
  bool published = false;
  for (const auto& m : bus.Delivered(bus::kCheckpointsTopic)) {
    v1::CheckpointRecord r;
    ASSERT_TRUE(r.ParseFromString(m.value));
    if (r.signed_note().find("witness.test/w1") != std::string::npos) published = true;
  }
  EXPECT_TRUE(published);
  // Not offered again before the cadence: one request to the witness so far.
  EXPECT_EQ((*collector)->stats().requests, 1u);
}

// The cosignature checked by Python's `cryptography` (shares no code with Probity's OpenSSL use):
// the key hash with type byte 0x04, and Ed25519 over "cosignature/v1\ntime T\n" + the text.
TEST_F(WitnessTest, CosignatureVerifiesWithPythonCryptography) {
  OpenWitness();
  Reply r = witness_->AddCheckpoint(log_->Body(0, 10));
  ASSERT_EQ(r.status, 200);
  const fs::path script = base_ / "check.py";
  std::ofstream(script) << R"PY(
import base64, hashlib, struct, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
vkey, note, line = sys.argv[1], open(sys.argv[2]).read(), open(sys.argv[3]).read()
name, khash, kb64 = vkey.split("+", 2)
key = base64.b64decode(kb64)
assert key[0] == 4 and len(key) == 33
assert hashlib.sha256(name.encode() + b"\n" + key).digest()[:4].hex() == khash
text = note[: note.index("\n\n") + 1]
assert line.startswith("\u2014 " + name + " ") and line.endswith("\n")
sig = base64.b64decode(line.split(" ")[2])
assert len(sig) == 76 and sig[:4].hex() == khash
t = struct.unpack(">Q", sig[4:12])[0]
msg = ("cosignature/v1\ntime %d\n" % t + text).encode()
Ed25519PublicKey.from_public_bytes(key[1:]).verify(sig[12:], msg)
print("verified", t)
)PY";
  std::ofstream(base_ / "note") << log_->notes[10];
  std::ofstream(base_ / "line") << r.body;
  auto out = probity::testing::RunProcess("/usr/bin/python3",
                                          {script.string(), witness_key_.verifier_key,
                                           (base_ / "note").string(), (base_ / "line").string()},
                                          base_);
  EXPECT_EQ(out.code, 0) << out.out << out.err;
  EXPECT_EQ(out.out, "verified " + std::to_string(kStart / kSecond) + "\n");
  // A flipped timestamp byte fails the same check.
  std::string bad = r.body;
  const size_t at = bad.rfind(' ') + 8;
  bad[at] = bad[at] == 'A' ? 'B' : 'A';
  std::ofstream(base_ / "line", std::ios::trunc) << bad;
  out = probity::testing::RunProcess("/usr/bin/python3",
                                     {script.string(), witness_key_.verifier_key,
                                      (base_ / "note").string(), (base_ / "line").string()},
                                     base_);
  EXPECT_NE(out.code, 0);
}

}  // namespace
}  // namespace probity::witness
