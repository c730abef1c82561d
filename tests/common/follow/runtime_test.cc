// The follower runtime on fakes: every entry applied once in order, checkpoints verified against
// the runtime's own tree, the follower saved only after the bus confirmed its outputs, restarts
// that neither re-read from 0 nor repeat nor skip, and a stop with evidence on every kind of
// misbehaviour of the log (changed bytes, gap, fork, foreign key, rollback).
#include "common/follow/runtime.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/common/follow/fake_log.h"

namespace probity::follow {
namespace {

namespace fs = std::filesystem;
using testing::FakeLog;
using testing::FakeProducer;
using testing::LogKey;
using testing::ReadFile;
using testing::RecordingFollower;
using testing::SavedState;
using testing::VectorCheckpointSource;
using testing::VectorEntrySource;

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("probity_runtime_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    producer_.publisher = &publisher_;
  }
  void TearDown() override { fs::remove_all(dir_); }

  Runtime::Options Opts() {
    Runtime::Options o;
    o.data_dir = (dir_ / "follow").string();
    o.origin = testing::kOrigin;
    o.log_keys = {key_.verifier};
    o.max_batch = 4;
    o.save_every = 1'000'000'000;  // only explicit saves
    o.first_retry = 1000;
    o.max_retry = 2000;
    return o;
  }
  std::unique_ptr<Runtime> Make(RecordingFollower* f, Runtime::Options o) {
    return std::make_unique<Runtime>(std::move(o), f, &entries_, &checkpoints_, &publisher_,
                                     &clock_);
  }
  std::unique_ptr<Runtime> Make(RecordingFollower* f) { return Make(f, Opts()); }
  // A first life: a follower follows the log to its end, then its state and tree are saved.
  void FollowToTheEndAndSave() {
    RecordingFollower f(&saved_);
    auto rt = Make(&f);
    ASSERT_TRUE(rt->Start().ok());
    ASSERT_TRUE(Drain(rt.get()).ok());
    ASSERT_TRUE(rt->Save().ok());
  }
  // RunOnce until it applies nothing and reads nothing new; returns the first error.
  Status Drain(Runtime* rt) {
    for (int i = 0; i < 100; ++i) {
      StatusOr<size_t> n = rt->RunOnce();
      if (!n.ok()) return n.status();
      if (*n == 0 && rt->stats().tree_size == log_.entries.size()) return Status::Ok();
    }
    return Internal("did not drain");
  }
  // Entry i's bytes and its stated leaf hash changed together (a rewritten topic).
  void RewriteWithItsHash(size_t i) {
    v1::LogRecord r;
    ASSERT_TRUE(r.ParseFromString(log_.entries[i].record_bytes));
    r.set_practice_code("Z99999");
    log_.entries[i].record_bytes = r.SerializeAsString();
    log_.entries[i].leaf_hash = merkle::HashLeaf(log_.entries[i].record_bytes);
  }
  std::vector<fs::path> EvidenceFiles() {
    std::vector<fs::path> out;
    if (!fs::exists(dir_ / "follow" / "evidence")) return out;
    for (const auto& e : fs::recursive_directory_iterator(dir_ / "follow" / "evidence")) {
      if (e.is_regular_file()) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir_;
  LogKey key_ = LogKey::Make();
  FakeLog log_{&key_};
  VectorEntrySource entries_{&log_.entries};
  VectorCheckpointSource checkpoints_;
  FakeProducer producer_;
  BusPublisher publisher_{&producer_};
  ManualClock clock_{1'000'000};
  SavedState saved_;
};

TEST_F(RuntimeTest, AppliesEveryEntryOnceInOrderAndVerifiesEachCheckpoint) {
  log_.AddN(10);
  checkpoints_.checkpoints = {log_.Checkpoint(4), log_.Checkpoint(10)};
  RecordingFollower f(&saved_);
  auto rt = Make(&f);
  ASSERT_TRUE(rt->Start().ok());
  EXPECT_EQ(f.starts, 1);
  ASSERT_TRUE(Drain(rt.get()).ok());
  EXPECT_EQ(f.applied, (std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(f.event_ids[3], "ev-3");  // parsed once, envelope handed over
  RuntimeStats s = rt->stats();
  EXPECT_EQ(s.tree_size, 10u);
  EXPECT_EQ(s.verified_size, 10u);
  EXPECT_EQ(s.checkpoints_verified, 2u);
  EXPECT_EQ(s.next_index, 10u);
  ASSERT_TRUE(rt->Save().ok());
  EXPECT_EQ(saved_.next, 10u);
  EXPECT_EQ(producer_.delivered.size(), 11u);  // the start message and one per entry
  EXPECT_TRUE(EvidenceFiles().empty());
}

TEST_F(RuntimeTest, CheckpointArrivingAfterItsEntriesIsCheckedAgainstTheTail) {
  log_.AddN(9);
  RecordingFollower f(&saved_);
  auto rt = Make(&f);
  ASSERT_TRUE(rt->Start().ok());
  ASSERT_TRUE(Drain(rt.get()).ok());
  EXPECT_EQ(rt->stats().verified_size, 0u);
  checkpoints_.checkpoints = {log_.Checkpoint(3), log_.Checkpoint(7)};
  ASSERT_TRUE(rt->RunOnce().ok());
  EXPECT_EQ(rt->stats().verified_size, 7u);
  EXPECT_EQ(rt->stats().checkpoints_verified, 2u);
  // A late checkpoint for another history at size 8 is a fork, even though it comes late.
  FakeLog other(&key_);
  other.AddN(8, "forged-");
  checkpoints_.checkpoints.push_back(other.Checkpoint(8));
  Status st = rt->RunOnce().status();
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("fork"), std::string::npos) << st.ToString();
}

TEST_F(RuntimeTest, SavesOnlyAfterTheBusConfirmedEveryOutput) {
  log_.AddN(5);
  RecordingFollower f(&saved_);
  auto rt = Make(&f);
  ASSERT_TRUE(rt->Start().ok());
  producer_.fail = true;
  ASSERT_TRUE(Drain(rt.get()).ok());
  Status st = rt->Save();
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  EXPECT_EQ(saved_.next, 0u);
  EXPECT_EQ(saved_.saves, 0u);
  // A restart (the bus back) applies and publishes them all again: nothing lost.
  producer_.fail = false;
  ASSERT_TRUE(publisher_.Reset().ok());
  RecordingFollower g(&saved_);
  auto rt2 = Make(&g);
  ASSERT_TRUE(rt2->Start().ok());
  ASSERT_TRUE(Drain(rt2.get()).ok());
  EXPECT_EQ(g.applied, (std::vector<uint64_t>{0, 1, 2, 3, 4}));
  ASSERT_TRUE(rt2->Save().ok());
  EXPECT_EQ(saved_.next, 5u);
}

TEST_F(RuntimeTest, RunRetriesARefusedOutputFromTheLastSavedStateAndLosesNothing) {
  log_.AddN(6);
  checkpoints_.checkpoints = {log_.Checkpoint(6)};
  RecordingFollower f(&saved_);
  Runtime::Options o = Opts();
  o.save_every = 0;  // save every round
  auto rt = Make(&f, o);
  producer_.fail = true;
  producer_.fail_topic = "out";  // the start succeeds; the outputs are refused
  std::atomic<bool> stop{false};
  Status result;
  std::thread t([&] { result = rt->Run(&stop); });
  for (int i = 0; i < 500 && rt->stats().retries < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_GE(rt->stats().retries, 2u);
  EXPECT_FALSE(rt->health().ready);
  EXPECT_EQ(saved_.next, 0u);
  producer_.fail = false;
  for (int i = 0; i < 1000 && saved_.next < 6; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  stop = true;
  t.join();
  ASSERT_TRUE(result.ok()) << result.ToString();
  EXPECT_EQ(saved_.next, 6u);
  // Every index was delivered; repeats only of what was never confirmed (receivers drop them).
  std::set<std::string> keys;
  int starts_delivered = 0;
  for (const auto& s : producer_.delivered) {
    if (s.topic == "out") keys.insert(s.key);
    if (s.topic == "start") ++starts_delivered;
  }
  EXPECT_EQ(keys.size(), 6u);
  // PublishAtStart once per start, not for the retries after it; the follower was restored
  // (to its last saved state) at every retry.
  EXPECT_EQ(starts_delivered, 1);
  EXPECT_EQ(f.starts, 1);
  EXPECT_GE(f.restores, 3);
}

TEST_F(RuntimeTest, RestartResumesItsVerifiedTreeWithoutReadingTheLogFromZero) {
  log_.AddN(10);
  checkpoints_.checkpoints = {log_.Checkpoint(8)};
  ASSERT_NO_FATAL_FAILURE(FollowToTheEndAndSave());
  ASSERT_EQ(saved_.next, 10u);
  log_.AddN(5);
  checkpoints_.checkpoints.push_back(log_.Checkpoint(9));  // after its entries: uses the tail
  checkpoints_.checkpoints.push_back(log_.Checkpoint(15));
  entries_.entries_read = 0;
  RecordingFollower f(&saved_);
  auto rt = Make(&f);
  ASSERT_TRUE(rt->Start().ok());
  EXPECT_EQ(rt->stats().tree_size, 10u);
  EXPECT_EQ(rt->stats().verified_size, 8u);
  ASSERT_TRUE(Drain(rt.get()).ok());
  EXPECT_EQ(entries_.entries_read, 5u);  // only the new entries
  EXPECT_EQ(f.applied, (std::vector<uint64_t>{10, 11, 12, 13, 14}));
  EXPECT_EQ(rt->stats().verified_size, 15u);
  EXPECT_EQ(rt->stats().checkpoints_verified, 2u);
}

TEST_F(RuntimeTest, FollowerStateBehindTheSavedTreeIsReplayedWithoutGapOrRepeat) {
  log_.AddN(12);
  checkpoints_.checkpoints = {log_.Checkpoint(6), log_.Checkpoint(12)};
  ASSERT_NO_FATAL_FAILURE(FollowToTheEndAndSave());
  // The follower lost its state (back to 0): everything is applied again, once, and the tree is
  // built again from 0 and still checked against the checkpoint it verified before.
  saved_.next = 0;
  RecordingFollower f(&saved_);
  auto rt = Make(&f);
  ASSERT_TRUE(rt->Start().ok());
  ASSERT_TRUE(Drain(rt.get()).ok());
  EXPECT_EQ(f.applied.size(), 12u);
  EXPECT_EQ(f.applied.front(), 0u);
  EXPECT_EQ(f.applied.back(), 11u);
  EXPECT_EQ(rt->stats().verified_size, 12u);

  // The follower is at 7 but the newest tree was saved at 12: resumes at 7 from tree.prev or by
  // re-reading, never skipping 7..11.
  ASSERT_TRUE(rt->Save().ok());
  saved_.next = 7;
  RecordingFollower g(&saved_);
  auto rt2 = Make(&g);
  ASSERT_TRUE(rt2->Start().ok());
  ASSERT_TRUE(Drain(rt2.get()).ok());
  EXPECT_EQ(g.applied, (std::vector<uint64_t>{7, 8, 9, 10, 11}));
}

// A follower that only copies bytes (as the replica does) and says so with needs_envelope().
class BytesFollower final : public Follower {
 public:
  std::string_view name() const override { return "bytes"; }
  bool needs_envelope() const override { return false; }
  StatusOr<uint64_t> Restore() override { return 0; }
  Status Apply(const Event& e, Publisher*) override {
    applied.push_back(e.index);
    envelopes.push_back(e.envelope);
    return Status::Ok();
  }
  Status Save(uint64_t) override { return Status::Ok(); }
  std::vector<uint64_t> applied;
  std::vector<const v1::Envelope*> envelopes;
};

TEST_F(RuntimeTest, PayloadsAreParsedOnlyForFollowersThatReadThem) {
  log_.AddN(3);
  // Entry 1's payload is no envelope; its leaf hash is stated anew, so only the parse objects.
  v1::LogRecord r;
  ASSERT_TRUE(r.ParseFromString(log_.entries[1].record_bytes));
  r.set_payload("\xff\xff\xff not an envelope");
  log_.entries[1].record_bytes = r.SerializeAsString();
  log_.entries[1].leaf_hash = merkle::HashLeaf(log_.entries[1].record_bytes);
  checkpoints_.checkpoints = {log_.Checkpoint(3)};

  // Copied as it is, with no envelope handed over.
  BytesFollower b;
  Runtime bytes(Opts(), &b, &entries_, &checkpoints_, &publisher_, &clock_);
  ASSERT_TRUE(bytes.Start().ok());
  ASSERT_TRUE(Drain(&bytes).ok());
  EXPECT_EQ(b.applied, (std::vector<uint64_t>{0, 1, 2}));
  EXPECT_EQ(b.envelopes, (std::vector<const v1::Envelope*>(3, nullptr)));

  // A follower that reads envelopes stops on it, naming it.
  RecordingFollower f(&saved_);
  auto rt = Make(&f);
  ASSERT_TRUE(rt->Start().ok());
  Status st = Drain(rt.get());
  EXPECT_EQ(st.code(), Code::kDataLoss) << st.ToString();
  EXPECT_NE(st.message().find("entry 1"), std::string::npos) << st.ToString();
  EXPECT_EQ(f.applied, (std::vector<uint64_t>{0}));
}

TEST_F(RuntimeTest, AnEntryReadAgainIsCheckedEvenWhenACheckpointVerifiedItsSizeMeanwhile) {
  // The saved tree (12 leaves, nothing verified) is ahead of the follower (at 4). On the restart a
  // checkpoint at 10 is verified against the saved tree before the entries 4..9 are read again;
  // that moves the tree's verified base past them (soak, 2026-12-01). Each must still equal the
  // leaf integrated before: entry 6, rewritten with its hash on the topic, is refused.
  log_.AddN(12);
  const v1::CheckpointRecord honest = log_.Checkpoint(10);
  ASSERT_NO_FATAL_FAILURE(FollowToTheEndAndSave());
  saved_.next = 4;
  RewriteWithItsHash(6);
  checkpoints_.checkpoints = {honest};
  RecordingFollower f(&saved_);
  auto rt = Make(&f);
  ASSERT_TRUE(rt->Start().ok());
  Status st = Drain(rt.get());
  ASSERT_EQ(st.code(), Code::kDataLoss) << st.ToString();
  EXPECT_NE(st.message().find("entry 6 read again is not the entry"), std::string::npos)
      << st.ToString();
  EXPECT_TRUE(fs::exists(dir_ / "follow/evidence/entry-6/entry-6.leaf"));
  // Entries before the rewritten one were applied; nothing from it on.
  for (uint64_t i : f.applied) EXPECT_LT(i, 6u);
}

TEST_F(RuntimeTest, ApplyVerifiedOnlyWaitsForACheckpoint) {
  log_.AddN(6);
  RecordingFollower f(&saved_);
  Runtime::Options o = Opts();
  o.apply_verified_only = true;
  auto rt = Make(&f, o);
  ASSERT_TRUE(rt->Start().ok());
  ASSERT_TRUE(Drain(rt.get()).ok());
  EXPECT_TRUE(f.applied.empty());
  checkpoints_.checkpoints = {log_.Checkpoint(4)};
  ASSERT_TRUE(rt->RunOnce().ok());
  EXPECT_EQ(f.applied, (std::vector<uint64_t>{0, 1, 2, 3}));
  EXPECT_EQ(f.verified_sizes.back(), 4u);
  ASSERT_TRUE(rt->Save().ok());
  EXPECT_EQ(saved_.next, 4u);
}

TEST_F(RuntimeTest, StopsOnAnEntryWhoseBytesChanged) {
  log_.AddN(5);
  log_.entries[3].record_bytes[5] ^= 1;  // the stated leaf hash no longer matches
  RecordingFollower f(&saved_);
  auto rt = Make(&f);
  ASSERT_TRUE(rt->Start().ok());
  Status st = Drain(rt.get());
  ASSERT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("entry 3 does not match its leaf hash"), std::string::npos)
      << st.ToString();
  EXPECT_TRUE(f.applied.empty());  // nothing of a batch that fails verification is applied
  auto files = EvidenceFiles();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(ReadFile(files[0]), log_.entries[3].record_bytes);  // entry-3.leaf
}

TEST_F(RuntimeTest, StopsOnAnEntryRewrittenWithItsHashAtTheNextCheckpoint) {
  log_.AddN(6);
  auto honest = log_.Checkpoint(6);
  // Bytes and hash changed together (a rewritten topic): only the tree can tell.
  RewriteWithItsHash(2);
  checkpoints_.checkpoints = {honest};
  RecordingFollower f(&saved_);
  auto rt = Make(&f);
  ASSERT_TRUE(rt->Start().ok());
  Status st = Drain(rt.get());
  ASSERT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("checkpoint at size 6"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("fork"), std::string::npos) << st.ToString();
  EXPECT_TRUE(fs::exists(dir_ / "follow/evidence/fork-at-6/checkpoint-6.note"));
}

TEST_F(RuntimeTest, StopsOnAForkedLogSignedByTheSameKey) {
  log_.AddN(4);
  checkpoints_.checkpoints = {log_.Checkpoint(4)};
  RecordingFollower f(&saved_);
  auto rt = Make(&f);
  ASSERT_TRUE(rt->Start().ok());
  ASSERT_TRUE(Drain(rt.get()).ok());
  // The log's key signs size 6 over a history that does not extend the one this follower read.
  FakeLog fork(&key_);
  fork.AddN(6, "other-");
  log_.AddN(2);
  checkpoints_.checkpoints.push_back(fork.Checkpoint(6));
  Status st = Drain(rt.get());
  ASSERT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("fork"), std::string::npos) << st.ToString();
  fs::path ev = dir_ / "follow/evidence/fork-at-6";
  EXPECT_EQ(ReadFile(ev / "checkpoint-6.note"), fork.Checkpoint(6).signed_note());
  // The last checkpoint it verified, from the same key: two signed notes, two histories.
  EXPECT_EQ(ReadFile(ev / "verified-4.note"), log_.Checkpoint(4).signed_note());
  EXPECT_EQ(f.applied.size(), 4u);  // nothing of the batch that completes size 6 is applied
  EXPECT_FALSE(rt->health().ready);
}

TEST_F(RuntimeTest, StopsOnTwoSignedRootsForOneSize) {
  log_.AddN(4);
  FakeLog fork(&key_);
  fork.AddN(4, "other-");
  checkpoints_.checkpoints = {log_.Checkpoint(4), fork.Checkpoint(4)};
  RecordingFollower f(&saved_);
  auto rt = Make(&f);
  ASSERT_TRUE(rt->Start().ok());
  Status st = Drain(rt.get());
  ASSERT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("two checkpoints signed by the log's key for size 4"),
            std::string::npos)
      << st.ToString();
  EXPECT_EQ(EvidenceFiles().size(), 3u);  // report and both notes
}

TEST_F(RuntimeTest, StopsOnACheckpointSignedByAnotherKey) {
  log_.AddN(4);
  LogKey other = LogKey::Make();  // same name, other key
  checkpoints_.checkpoints = {log_.Checkpoint(4, &other.signer)};
  RecordingFollower f(&saved_);
  auto rt = Make(&f);
  ASSERT_TRUE(rt->Start().ok());
  Status st = Drain(rt.get());
  ASSERT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("not a checkpoint signed by the log's key"), std::string::npos)
      << st.ToString();
  EXPECT_TRUE(fs::exists(dir_ / "follow/evidence/bad-signature-at-4/checkpoint-4.note"));
}

// After the log's key was rotated, a follower given both keys (the new one first, as the
// rotated key file lists them) verifies the checkpoints the old key signed and the new ones; one
// given only the new key stops at the first old one, as for any other key.
TEST_F(RuntimeTest, FollowsALogAcrossAKeyRotationWithBothKeys) {
  log_.AddN(8);
  LogKey rotated = LogKey::Make();  // same name, the log's next key
  checkpoints_.checkpoints = {log_.Checkpoint(4), log_.Checkpoint(8, &rotated.signer)};
  Runtime::Options both = Opts();
  both.log_keys = {rotated.verifier, key_.verifier};
  RecordingFollower f(&saved_);
  auto rt = Make(&f, both);
  ASSERT_TRUE(rt->Start().ok());
  ASSERT_TRUE(Drain(rt.get()).ok());
  EXPECT_EQ(rt->stats().verified_size, 8u);

  fs::remove_all(dir_ / "follow");
  Runtime::Options new_only = Opts();
  new_only.log_keys = {rotated.verifier};
  SavedState fresh;
  RecordingFollower g(&fresh);
  auto rt2 = Make(&g, new_only);
  ASSERT_TRUE(rt2->Start().ok());
  Status st = Drain(rt2.get());
  ASSERT_EQ(st.code(), Code::kDataLoss);
  EXPECT_TRUE(fs::exists(dir_ / "follow/evidence/bad-signature-at-4/checkpoint-4.note"));
}

TEST_F(RuntimeTest, StopsOnACheckpointThatRollsBack) {
  log_.AddN(8);
  checkpoints_.checkpoints = {log_.Checkpoint(8), log_.Checkpoint(5)};
  RecordingFollower f(&saved_);
  auto rt = Make(&f);
  ASSERT_TRUE(rt->Start().ok());
  Status st = Drain(rt.get());
  ASSERT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("rolled back"), std::string::npos) << st.ToString();
  EXPECT_TRUE(fs::exists(dir_ / "follow/evidence/rollback-to-5/checkpoint-8.note"));
  EXPECT_TRUE(fs::exists(dir_ / "follow/evidence/rollback-to-5/checkpoint-5.note"));
}

// The sequencer publishes a checkpoint again once witnesses cosigned it, after newer ones: the
// same size and root is no rollback, neither in the first read of the stream nor after a restart
// reads it again from its start (the original then older than the verified tree).
TEST_F(RuntimeTest, ACheckpointPublishedAgainWithCosignaturesIsNoRollback) {
  log_.AddN(10);
  checkpoints_.checkpoints = {log_.Checkpoint(4), log_.Checkpoint(8)};
  for (int life = 0; life < 2; ++life) {
    RecordingFollower f(&saved_);
    auto rt = Make(&f);
    ASSERT_TRUE(rt->Start().ok());
    Status st = Drain(rt.get());
    ASSERT_TRUE(st.ok()) << "life " << life << ": " << st.ToString();
    if (life == 0) {  // verified 4 and 8; then 4 again, cosigned, and 10
      checkpoints_.checkpoints.push_back(log_.CosignedCheckpoint(4));
      checkpoints_.checkpoints.push_back(log_.Checkpoint(10));
      st = Drain(rt.get());
      ASSERT_TRUE(st.ok()) << st.ToString();
    }
    EXPECT_EQ(rt->stats().verified_size, 10u);
    ASSERT_TRUE(rt->Save().ok());
  }
  // Another root for that size, published again, is still a fork.
  FakeLog fork(&key_);
  fork.AddN(4, "other-");
  checkpoints_.checkpoints.push_back(fork.Checkpoint(4));
  RecordingFollower f(&saved_);
  auto rt = Make(&f);
  ASSERT_TRUE(rt->Start().ok());
  Status st = Drain(rt.get());
  ASSERT_EQ(st.code(), Code::kDataLoss) << st.ToString();
}

TEST_F(RuntimeTest, StopsOnAGap) {
  log_.AddN(6);
  log_.entries.erase(log_.entries.begin() + 3);  // 0 1 2 4 5
  RecordingFollower f(&saved_);
  auto rt = Make(&f);
  ASSERT_TRUE(rt->Start().ok());
  Status st = Drain(rt.get());
  ASSERT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("skipped entry 3"), std::string::npos) << st.ToString();
  EXPECT_TRUE(f.applied.empty());  // nothing of a batch that fails verification is applied
}

TEST_F(RuntimeTest, RestartAfterAStopKeepsStopping) {
  log_.AddN(4);
  LogKey other = LogKey::Make();
  checkpoints_.checkpoints = {log_.Checkpoint(4, &other.signer)};
  for (int i = 0; i < 2; ++i) {
    RecordingFollower f(&saved_);
    auto rt = Make(&f);
    std::atomic<bool> stop{false};
    Status st = rt->Run(&stop);
    EXPECT_EQ(st.code(), Code::kDataLoss) << st.ToString();
  }
}

// Kill-and-restart: lives of a follower end at random rounds without a save (what a kill leaves
// is what was saved), while the log grows and checkpoints arrive late or early. Across lives:
// each life applies from exactly the saved cursor (no gap, no repeat of what was saved), the
// saved cursor never goes back (no rollback), every index is delivered, and no checkpoint is
// refused (the tree carried across lives is the log's).
TEST_F(RuntimeTest, KilledAtRandomMomentsAndRestartedNeitherSkipsNorRepeatsNorRollsBack) {
  std::mt19937 rng(2026);
  constexpr uint64_t kTotal = 400;
  uint64_t last_saved = 0;
  int lives = 0;
  for (; lives < 500 && saved_.next < kTotal; ++lives) {
    // The log grows; its checkpoints are published a little behind it.
    if (log_.entries.size() < kTotal) {
      log_.AddN(std::min<int>(std::uniform_int_distribution<int>(0, 20)(rng),
                              static_cast<int>(kTotal - log_.entries.size())));
    }
    const uint64_t n = log_.entries.size();
    if (n > 0 && (checkpoints_.checkpoints.empty() ||
                  checkpoints_.checkpoints.back().tree_size() < n - n / 10)) {
      checkpoints_.checkpoints.push_back(log_.Checkpoint(n - n / 10));
    }
    RecordingFollower f(&saved_);
    Runtime::Options o = Opts();
    o.max_batch = std::uniform_int_distribution<size_t>(1, 12)(rng);
    o.save_every = std::uniform_int_distribution<int>(0, 1)(rng) ? 0 : 1'000'000'000;
    o.apply_verified_only = lives % 3 == 0;
    auto rt = Make(&f, o);
    ASSERT_TRUE(rt->Start().ok());
    EXPECT_GE(saved_.next, last_saved);  // never a rollback
    const uint64_t from = saved_.next;
    const int rounds = std::uniform_int_distribution<int>(0, 6)(rng);
    for (int i = 0; i < rounds; ++i) {
      StatusOr<size_t> r = rt->RunOnce();
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
    if (std::uniform_int_distribution<int>(0, 3)(rng) == 0) ASSERT_TRUE(rt->Save().ok());
    // Applied from exactly the saved cursor, contiguously.
    for (size_t k = 0; k < f.applied.size(); ++k) ASSERT_EQ(f.applied[k], from + k);
    last_saved = saved_.next;
  }
  ASSERT_EQ(saved_.next, kTotal) << "after " << lives << " lives";
  std::set<std::string> keys;
  for (const auto& sent : producer_.delivered) {
    if (sent.topic == "out") keys.insert(sent.key);
  }
  EXPECT_EQ(keys.size(), kTotal);  // every index's output reached the bus
  EXPECT_GT(lives, 20);
}

TEST(TreeStateTest, RoundTripsAndRejectsDamage) {
  LogKey key = LogKey::Make();
  FakeLog log(&key);
  log.AddN(11);
  TreeState st;
  for (int i = 0; i < 7; ++i) st.verified.Append(log.entries[i].leaf_hash);
  st.checkpoint = log.Checkpoint(7);
  for (int i = 7; i < 11; ++i) st.tail.push_back(log.entries[i].leaf_hash);
  std::string bytes = EncodeTreeState(st);
  auto back = DecodeTreeState(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->verified, st.verified);
  EXPECT_EQ(back->tail, st.tail);
  EXPECT_EQ(back->checkpoint->signed_note(), st.checkpoint->signed_note());
  for (size_t i : {size_t{0}, size_t{30}, bytes.size() - 1}) {
    std::string bad = bytes;
    bad[i] ^= 1;
    EXPECT_EQ(DecodeTreeState(bad).status().code(), Code::kDataLoss) << i;
  }
  EXPECT_EQ(DecodeTreeState(bytes.substr(0, bytes.size() - 3)).status().code(), Code::kDataLoss);
}

TEST(PublishStoredTest, PublishesTheFirstStoredBytesAtEveryStart) {
  fs::path dir = fs::temp_directory_path() / ("probity_publish_stored_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  FakeProducer producer;
  BusPublisher pub(&producer);
  producer.publisher = &pub;
  const std::string path = (dir / "ruleset").string();
  ASSERT_TRUE(PublishStored(&pub, path, "t", "k", "first").ok());
  ASSERT_TRUE(PublishStored(&pub, path, "t", "k", "second (another start time)").ok());
  ASSERT_TRUE(pub.Confirm(1000).ok());
  ASSERT_EQ(producer.delivered.size(), 2u);
  EXPECT_EQ(producer.delivered[0].value, "first");
  EXPECT_EQ(producer.delivered[1].value, "first");
  fs::remove_all(dir);
}

// The gauges operators alert on (deploy/prometheus/probity-alerts.yml, ProbityFollowerBehind):
// labelled by the follower's name, and they move as the follower does.
TEST_F(RuntimeTest, ExportsItsPositionAsGaugesLabelledByTarget) {
  log_.AddN(6);
  checkpoints_.checkpoints = {log_.Checkpoint(6)};
  prometheus::Registry registry;
  Runtime::Options o = Opts();
  o.registry = &registry;
  RecordingFollower f(&saved_);
  auto rt = Make(&f, o);
  ASSERT_TRUE(rt->Start().ok());
  ASSERT_TRUE(Drain(rt.get()).ok());
  std::map<std::string, double> seen;
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    for (const prometheus::ClientMetric& m : family.metric) {
      ASSERT_EQ(m.label.size(), 1u);
      EXPECT_EQ(m.label[0].name, "target");
      EXPECT_EQ(m.label[0].value, "recorder");
      seen[family.name] =
          family.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
  }
  EXPECT_EQ(seen["probity_follower_next_index"], 6);
  EXPECT_EQ(seen["probity_follower_tree_size"], 6);
  EXPECT_EQ(seen["probity_follower_verified_size"], 6);
  EXPECT_EQ(seen["probity_follower_retries_total"], 0);
}

}  // namespace
}  // namespace probity::follow
