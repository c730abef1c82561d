// The replica stops, with the reason and the evidence, on every kind of misbehaviour of the log
// (tests/common/follow/runtime_test.cc checks the same of the runtime every follower runs on),
// and its copy then holds only what verified checkpoints covered: nothing of the bad material is
// ever written. The last test reads a tampered probity.log.v1 on the embedded bus, where a
// follower and the replica both stop on the changed entry.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/bus/embedded_cluster.h"
#include "common/bus/kafka.h"
#include "common/bus/topics.h"
#include "common/logstore/keys.h"
#include "services/replica/replica.h"
#include "tests/common/follow/fake_log.h"

namespace probity::replica {
namespace {

namespace fs = std::filesystem;
using follow::testing::FakeLog;
using follow::testing::LogKey;
using follow::testing::ReadFile;
using follow::testing::VectorCheckpointSource;
using follow::testing::VectorEntrySource;

class ReplicaStopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("probity_replica_stop_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<ReplicaRunner> Make(follow::EntrySource* entries, size_t max_batch = 3) {
    auto r = std::make_unique<ReplicaRunner>(ReplicaOptions{.data_dir = dir_.string(),
                                                            .origin = follow::testing::kOrigin,
                                                            .log_keys = {key_.verifier},
                                                            .max_batch = max_batch},
                                             entries, &checkpoints_, &clock_);
    EXPECT_TRUE(r->Start().ok());
    return r;
  }
  // RunOnce until it fails or stops moving; the first error.
  Status Drain(ReplicaRunner* r) {
    for (int i = 0; i < 100; ++i) {
      StatusOr<size_t> n = r->RunOnce();
      if (!n.ok()) return n.status();
      if (*n == 0 && r->stats().tree_size == log_.entries.size()) return Status::Ok();
    }
    return Internal("did not drain");
  }
  // The copy's size, and that it is the log's prefix: each entry's bytes, the root.
  void ExpectCopyIsPrefix(const ReplicaRunner& r, uint64_t size) {
    const logstore::LogStore* copy = r.store();
    ASSERT_NE(copy, nullptr);
    ASSERT_EQ(*copy->TreeSize(), size);
    for (uint64_t i = 0; i < size; ++i) {
      EXPECT_EQ(copy->Get(i)->record_bytes, honest_.entries[i].record_bytes) << i;
    }
    if (size > 0) {
      EXPECT_EQ(*copy->Root(size), honest_.Root(size));
    }
  }
  fs::path Evidence(const std::string& name) { return dir_ / "replica" / "evidence" / name; }

  fs::path dir_;
  LogKey key_ = LogKey::Make();
  FakeLog log_{&key_};     // what the replica reads (tampered by each test)
  FakeLog honest_{&key_};  // the same entries, untouched
  VectorEntrySource entries_{&log_.entries};
  VectorCheckpointSource checkpoints_;
  ManualClock clock_{1'000'000};

  void AddN(int n) {
    log_.AddN(n);
    honest_.AddN(n);
  }
};

TEST_F(ReplicaStopTest, StopsOnAnEntryWhoseBytesChanged) {
  AddN(6);
  checkpoints_.checkpoints = {log_.Checkpoint(3), log_.Checkpoint(6)};
  log_.entries[4].record_bytes[5] ^= 1;  // the stated leaf hash no longer matches
  auto r = Make(&entries_);
  Status st = Drain(r.get());
  ASSERT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("replica: entry 4 does not match its leaf hash"), std::string::npos)
      << st.ToString();
  EXPECT_EQ(ReadFile(Evidence("entry-4") / "entry-4.leaf"), log_.entries[4].record_bytes);
  ExpectCopyIsPrefix(*r, 3);  // what checkpoint 3 covered; nothing of the changed entry
  EXPECT_FALSE(r->health().ready);
}

TEST_F(ReplicaStopTest, StopsOnAnEntryRewrittenWithItsHashAndWritesNoneOfItsTree) {
  AddN(6);
  checkpoints_.checkpoints = {log_.Checkpoint(6)};
  // Bytes and hash changed together (a rewritten topic): only the checkpoint's root can tell.
  v1::LogRecord rec;
  ASSERT_TRUE(rec.ParseFromString(log_.entries[2].record_bytes));
  rec.set_practice_code("Z99999");
  log_.entries[2].record_bytes = rec.SerializeAsString();
  log_.entries[2].leaf_hash = merkle::HashLeaf(log_.entries[2].record_bytes);
  auto r = Make(&entries_);
  Status st = Drain(r.get());
  ASSERT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("checkpoint at size 6"), std::string::npos) << st.ToString();
  EXPECT_TRUE(fs::exists(Evidence("fork-at-6") / "checkpoint-6.note"));
  ExpectCopyIsPrefix(*r, 0);  // nothing was covered by a checkpoint that verified
}

TEST_F(ReplicaStopTest, StopsOnAForkedLogSignedByTheSameKey) {
  AddN(4);
  checkpoints_.checkpoints = {log_.Checkpoint(4)};
  auto r = Make(&entries_);
  ASSERT_TRUE(Drain(r.get()).ok());
  ExpectCopyIsPrefix(*r, 4);
  // The log's key signs size 6 over a history that does not extend the one the replica holds.
  FakeLog fork(&key_);
  fork.AddN(6, "other-");
  AddN(2);
  checkpoints_.checkpoints.push_back(fork.Checkpoint(6));
  Status st = Drain(r.get());
  ASSERT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("fork"), std::string::npos) << st.ToString();
  // Two notes signed by the log's key for two histories: the proof of the log's misbehaviour.
  EXPECT_EQ(ReadFile(Evidence("fork-at-6") / "checkpoint-6.note"),
            fork.Checkpoint(6).signed_note());
  EXPECT_EQ(ReadFile(Evidence("fork-at-6") / "verified-4.note"), log_.Checkpoint(4).signed_note());
  ExpectCopyIsPrefix(*r, 4);
  auto stored = r->store()->Checkpoints();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);  // the forked checkpoint is not stored
  EXPECT_EQ(stored->front().tree_size(), 4u);
}

TEST_F(ReplicaStopTest, StopsOnACheckpointSignedByAnotherKey) {
  AddN(4);
  LogKey other = LogKey::Make();  // same name, other key
  checkpoints_.checkpoints = {log_.Checkpoint(4, &other.signer)};
  auto r = Make(&entries_);
  Status st = Drain(r.get());
  ASSERT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("not a checkpoint signed by the log's key"), std::string::npos)
      << st.ToString();
  EXPECT_TRUE(fs::exists(Evidence("bad-signature-at-4") / "checkpoint-4.note"));
  ExpectCopyIsPrefix(*r, 0);
}

TEST_F(ReplicaStopTest, StopsOnACheckpointThatRollsBackAndKeepsItsCopy) {
  AddN(8);
  checkpoints_.checkpoints = {log_.Checkpoint(8)};
  auto r = Make(&entries_);
  ASSERT_TRUE(Drain(r.get()).ok());
  ExpectCopyIsPrefix(*r, 8);
  checkpoints_.checkpoints.push_back(log_.Checkpoint(5));
  Status st = Drain(r.get());
  ASSERT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("rolled back"), std::string::npos) << st.ToString();
  EXPECT_TRUE(fs::exists(Evidence("rollback-to-5") / "checkpoint-8.note"));
  EXPECT_TRUE(fs::exists(Evidence("rollback-to-5") / "checkpoint-5.note"));
  ExpectCopyIsPrefix(*r, 8);  // never truncated
  // And a restart keeps stopping: the verified tree remembers size 8.
  r.reset();
  auto again = Make(&entries_);
  st = Drain(again.get());
  EXPECT_EQ(st.code(), Code::kDataLoss) << st.ToString();
  ExpectCopyIsPrefix(*again, 8);
}

TEST_F(ReplicaStopTest, StopsOnAGap) {
  AddN(6);
  checkpoints_.checkpoints = {log_.Checkpoint(3), log_.Checkpoint(6)};
  log_.entries.erase(log_.entries.begin() + 4);  // 0 1 2 3 5
  auto r = Make(&entries_);
  Status st = Drain(r.get());
  ASSERT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("skipped entry 4"), std::string::npos) << st.ToString();
  EXPECT_TRUE(fs::exists(Evidence("gap-at-4") / "report.txt"));
  ExpectCopyIsPrefix(*r, 3);
}

// Not a stop: a checkpoint published again with a witness's cosignature, after newer ones, is
// the same checkpoint; the replica keeps the cosigned copy, as the sequencer's store does, both
// when it had verified that size already and when it was still waiting for the entries.
TEST_F(ReplicaStopTest, KeepsTheCosignedCopyOfACheckpointPublishedAgain) {
  AddN(10);
  checkpoints_.checkpoints = {log_.Checkpoint(4), log_.Checkpoint(8), log_.CosignedCheckpoint(4),
                              log_.Checkpoint(10), log_.CosignedCheckpoint(8)};
  auto r = Make(&entries_, /*max_batch=*/6);  // all five read before the entries: waiting
  Status st = Drain(r.get());
  ASSERT_TRUE(st.ok()) << st.ToString();
  ExpectCopyIsPrefix(*r, 10);
  auto stored = r->store()->Checkpoints();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 3u);
  EXPECT_EQ((*stored)[0].signed_note(), log_.CosignedCheckpoint(4).signed_note());
  EXPECT_EQ((*stored)[1].signed_note(), log_.CosignedCheckpoint(8).signed_note());
  EXPECT_EQ((*stored)[2].signed_note(), log_.Checkpoint(10).signed_note());
  // Verified already: the latest, cosigned later.
  checkpoints_.checkpoints.push_back(log_.CosignedCheckpoint(10));
  st = Drain(r.get());
  ASSERT_TRUE(st.ok()) << st.ToString();
  stored = r->store()->Checkpoints();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 3u);
  EXPECT_EQ((*stored)[2].signed_note(), log_.CosignedCheckpoint(10).signed_note());
}

// probity.log.v1 itself carries a changed entry (its stated leaf hash no longer matches its
// bytes): the replica and any other follower on the runtime stop on it, with the entry kept.
TEST_F(ReplicaStopTest, StopsOnAnEntryChangedOnTheLogTopic) {
  auto cluster = bus::EmbeddedCluster::Start({});
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  bus::ClientConfig cfg{(*cluster)->bootstrap_servers(), {}};
  auto producer = bus::Producer::Create(cfg);
  ASSERT_TRUE(producer.ok());
  AddN(5);
  for (const logstore::Entry& e : log_.entries) {
    v1::SequencedEntry se;
    se.set_index(e.index);
    se.set_leaf_hash(std::string(merkle::AsBytes(e.leaf_hash)));
    se.set_record(e.record_bytes);
    if (e.index == 3) se.mutable_record()->back() ^= 1;
    ASSERT_TRUE(
        (*producer)
            ->Produce(bus::kLogTopic, 0, logstore::keys::Be64(e.index), se.SerializeAsString())
            .ok());
  }
  ASSERT_TRUE((*producer)->Flush(10000).ok());
  checkpoints_.checkpoints = {log_.Checkpoint(2), log_.Checkpoint(5)};

  auto topic = follow::LogTopicSource::Create(cfg);
  ASSERT_TRUE(topic.ok());
  auto r = Make(topic->get(), /*max_batch=*/2);
  Status st;
  for (int i = 0; i < 500 && st.ok(); ++i) {
    StatusOr<size_t> n = r->RunOnce();
    st = n.status();
  }
  ASSERT_EQ(st.code(), Code::kDataLoss) << st.ToString();
  EXPECT_NE(st.message().find("replica: entry 3 does not match its leaf hash"), std::string::npos)
      << st.ToString();
  std::string changed = log_.entries[3].record_bytes;
  changed.back() ^= 1;
  EXPECT_EQ(ReadFile(Evidence("entry-3") / "entry-3.leaf"), changed);
  ExpectCopyIsPrefix(*r, 2);

  // A follower that is not a replica (it applies entries before a checkpoint covers them).
  auto topic2 = follow::LogTopicSource::Create(cfg);
  ASSERT_TRUE(topic2.ok());
  follow::testing::FakeProducer out;
  follow::BusPublisher publisher(&out);
  out.publisher = &publisher;
  follow::testing::SavedState saved;
  follow::testing::RecordingFollower f(&saved);
  checkpoints_.Reset();
  follow::Runtime rt({.data_dir = (dir_ / "follower").string(),
                      .origin = follow::testing::kOrigin,
                      .log_keys = {key_.verifier}},
                     &f, topic2->get(), &checkpoints_, &publisher, &clock_);
  ASSERT_TRUE(rt.Start().ok());
  st = Status::Ok();
  for (int i = 0; i < 500 && st.ok(); ++i) st = rt.RunOnce().status();
  ASSERT_EQ(st.code(), Code::kDataLoss) << st.ToString();
  EXPECT_NE(st.message().find("recorder: entry 3 does not match its leaf hash"), std::string::npos)
      << st.ToString();
  ASSERT_LE(f.applied.size(), 3u);  // what came before entry 3 at most, in order
  for (size_t i = 0; i < f.applied.size(); ++i) EXPECT_EQ(f.applied[i], i);
  EXPECT_EQ(ReadFile(dir_ / "follower" / "evidence" / "entry-3" / "entry-3.leaf"), changed);
}

}  // namespace
}  // namespace probity::replica
