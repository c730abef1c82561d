#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "common/logstore/keys.h"
#include "common/logstore/sequencer.h"
#include "common/logstore/store.h"
#include "common/merkle/in_memory_tree.h"
#include "common/merkle/proof.h"

namespace probity::logstore {
namespace {

namespace fs = std::filesystem;

class LogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("probity_logstore_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static v1::LogRecord Record(const std::string& event_id, const std::string& payload,
                              int64_t offset = 0) {
    v1::LogRecord r;
    r.set_event_id(event_id);
    r.set_payload(payload);
    r.set_topic("probity.claims.v1");
    r.set_offset(offset);
    r.set_kind(v1::EVENT_KIND_CLAIM);
    r.set_practice_code("A81001");
    r.mutable_occurred_at()->set_seconds(1650000000 + offset);
    return r;
  }

  // Appends n records with ids prefix-i in batches; returns the leaf data appended.
  std::vector<std::string> AppendMany(Sequencer* seq, int n, int batch, const std::string& prefix) {
    std::vector<std::string> leaves;
    for (int i = 0; i < n;) {
      std::vector<v1::LogRecord> recs;
      for (int j = 0; j < batch && i < n; ++j, ++i) {
        recs.push_back(Record(prefix + std::to_string(i), std::string(200, 'a' + i % 26), i));
      }
      auto r = seq->Append(&recs, {{{"probity.claims.v1", 0}, i}}, {});
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      for (auto& rec : recs) leaves.push_back(rec.SerializeAsString());
    }
    return leaves;
  }

  std::unique_ptr<LogStore> OpenRw() {
    auto s = LogStore::Open(dir_.string(), {});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return std::move(s).value();
  }

  fs::path dir_;
};

TEST_F(LogStoreTest, AppendsAndServesEntriesRootsAndProofs) {
  auto store = OpenRw();
  auto seq = Sequencer::Create(store.get());
  ASSERT_TRUE(seq.ok());
  auto leaves = AppendMany(seq->get(), 1000, 77, "e");
  merkle::InMemoryTree ref;
  for (const auto& l : leaves) ref.Append(l);

  ASSERT_EQ(*store->TreeSize(), 1000u);
  EXPECT_EQ((*seq)->root(), *ref.RootAt(1000));
  auto e = store->Get(513);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->record_bytes, leaves[513]);
  for (uint64_t size : std::vector<uint64_t>{1, 2, 255, 256, 257, 513, 1000}) {
    EXPECT_EQ(*store->Root(size), *ref.RootAt(size)) << size;
    for (uint64_t index : std::vector<uint64_t>{0, size / 2, size - 1}) {
      auto proof = store->InclusionProof(index, size);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      EXPECT_TRUE(merkle::VerifyInclusion(index, size, merkle::HashLeaf(leaves[index]), *proof,
                                          *ref.RootAt(size))
                      .ok());
    }
    if (size / 3 == 0) continue;  // RFC 9162: nothing to prove from the empty tree
    auto cons = store->ConsistencyProof(size / 3, size);
    ASSERT_TRUE(cons.ok());
    EXPECT_TRUE(
        merkle::VerifyConsistency(size / 3, size, *cons, *ref.RootAt(size / 3), *ref.RootAt(size))
            .ok());
  }
  EXPECT_EQ(*store->FindByEventId("e42"), std::vector<uint64_t>{42});
  EXPECT_EQ(store->FindByKind(v1::EVENT_KIND_CLAIM, 10, 3)->size(), 3u);
  auto offsets = *store->ConsumerOffsets();
  EXPECT_EQ((offsets[{"probity.claims.v1", 0}]), 1000);
  auto report = store->Verify();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->entries_checked, 1000u);
}

// The store keeps the tiles above level 0 as it read them (a node never changes once written):
// proofs stay right while the same store grows, both for nodes the kept copy holds and for nodes
// added to its tile since.
TEST_F(LogStoreTest, ProofsStayRightWhileTheTreeGrowsPastKeptTiles) {
  auto store = OpenRw();
  auto seq = Sequencer::Create(store.get());
  ASSERT_TRUE(seq.ok());
  std::vector<std::string> leaves;
  merkle::InMemoryTree ref;
  for (int round = 0; round < 4; ++round) {
    // 600, then 1,200, 1,800 and 2,400 leaves: level-8 nodes join tile 1/0 each round.
    for (auto& l : AppendMany(seq->get(), 600, 100, "g" + std::to_string(round) + "-")) {
      ref.Append(l);
      leaves.push_back(std::move(l));
    }
    const uint64_t size = leaves.size();
    std::vector<uint64_t> indices;
    for (uint64_t index = 0; index < size; index += 37) indices.push_back(index);
    auto many = store->InclusionProofs(indices, size);
    ASSERT_TRUE(many.ok()) << many.status().ToString();
    for (size_t k = 0; k < indices.size(); ++k) {
      const uint64_t index = indices[k];
      auto proof = store->InclusionProof(index, size);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      EXPECT_EQ(*proof, (*many)[k]) << index;
      EXPECT_TRUE(merkle::VerifyInclusion(index, size, merkle::HashLeaf(leaves[index]), *proof,
                                          *ref.RootAt(size))
                      .ok())
          << index << " at " << size;
    }
    EXPECT_EQ(*store->Root(size), *ref.RootAt(size));
  }
}

// idx_kind holds one group per kind per batch; FindByKind must read across groups and start
// inside one. idx_practice is read in event-time order.
TEST_F(LogStoreTest, KindAndPracticeIndexesAcrossBatches) {
  auto store = OpenRw();
  auto seq = Sequencer::Create(store.get());
  std::vector<uint64_t> claims, referrals;
  uint64_t index = 0;
  for (int b = 0; b < 5; ++b) {
    std::vector<v1::LogRecord> recs;
    for (int j = 0; j < 7; ++j, ++index) {
      v1::LogRecord r = Record("k" + std::to_string(index), "p" + std::to_string(index),
                               static_cast<int64_t>(1000 - index));  // later index, earlier time
      r.set_kind(j % 3 == 0 ? v1::EVENT_KIND_REFERRAL : v1::EVENT_KIND_CLAIM);
      (j % 3 == 0 ? referrals : claims).push_back(index);
      recs.push_back(r);
    }
    ASSERT_TRUE((*seq)->Append(&recs, {}, {}).ok());
  }
  EXPECT_EQ(*store->FindByKind(v1::EVENT_KIND_CLAIM, 0, 1000), claims);
  EXPECT_EQ(*store->FindByKind(v1::EVENT_KIND_REFERRAL, 0, 1000), referrals);
  // From inside a group (batch 2 is 7..13; referrals are 7, 10, 13) and with a limit.
  EXPECT_EQ(*store->FindByKind(v1::EVENT_KIND_CLAIM, 9, 3), (std::vector<uint64_t>{9, 11, 12}));
  EXPECT_EQ(*store->FindByKind(v1::EVENT_KIND_REFERRAL, 8, 2), (std::vector<uint64_t>{10, 13}));
  EXPECT_TRUE(store->FindByKind(v1::EVENT_KIND_CLAIM, 35, 10)->empty());
  EXPECT_TRUE(store->FindByKind(v1::EVENT_KIND_PRACTICE_UPDATE, 0, 10)->empty());
  // Practice index: every entry, ordered by occurred_at (reverse of index here), bounded by time.
  auto all = *store->FindByPractice("A81001", INT64_MIN, INT64_MAX, 1000);
  ASSERT_EQ(all.size(), 35u);
  EXPECT_EQ(all.front(), 34u);
  EXPECT_EQ(all.back(), 0u);
  const int64_t t = (1650000000 + 1000 - 10) * int64_t{1000000};  // occurred_at of index 10
  EXPECT_EQ(*store->FindByPractice("A81001", t, t + 1, 10), std::vector<uint64_t>{10});
  EXPECT_TRUE(store->FindByPractice("A81002", INT64_MIN, INT64_MAX, 10)->empty());
}

// The append result carries each appended entry's stored bytes and leaf hash.
TEST_F(LogStoreTest, AppendResultCarriesStoredBytesAndLeafHashes) {
  auto store = OpenRw();
  auto seq = Sequencer::Create(store.get());
  std::vector<v1::LogRecord> first = {Record("a", "1"), Record("b", "2")};
  ASSERT_TRUE((*seq)->Append(&first, {}, {}).ok());
  std::vector<v1::LogRecord> second = {Record("a", "1"), Record("c", "3"), Record("b", "X")};
  auto r = (*seq)->Append(&second, {}, {});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->appended, 2u);
  ASSERT_EQ(r->leaf_hashes.size(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    auto e = store->Get(2 + k);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(r->leaf_data(k), e->record_bytes);
    EXPECT_EQ(r->leaf_hashes[k], e->leaf_hash);
    EXPECT_EQ(r->leaf_hashes[k], merkle::HashLeaf(e->record_bytes));
  }
}

// Bytes and leaf hashes computed ahead are used as given, except for a record Append changes
// (a conflicting resubmission), which it serializes again with its marks.
TEST_F(LogStoreTest, AppendUsesSerializedRecordsExceptWhereItMarksAConflict) {
  auto store = OpenRw();
  auto seq = Sequencer::Create(store.get());
  auto serialize = [](const std::vector<v1::LogRecord>& recs) {
    std::vector<Sequencer::Serialized> out;
    for (const auto& r : recs) {
      Sequencer::Serialized& s = out.emplace_back();
      s.bytes = r.SerializeAsString();
      s.leaf = merkle::HashLeaf(s.bytes);
    }
    return out;
  };
  std::vector<v1::LogRecord> first = {Record("a", "1"), Record("b", "2")};
  auto ser1 = serialize(first);
  ASSERT_TRUE((*seq)->Append(&first, {}, {}, &ser1).ok());
  std::vector<v1::LogRecord> second = {Record("a", "1"), Record("b", "CHANGED"), Record("c", "3")};
  auto ser2 = serialize(second);
  auto r = (*seq)->Append(&second, {}, {}, &ser2);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->appended, 2u);  // b (conflicting) at 2, c at 3
  v1::LogRecord stored_b;
  ASSERT_TRUE(stored_b.ParseFromString(store->Get(2)->record_bytes));
  EXPECT_TRUE(stored_b.conflicting_resubmission());
  EXPECT_EQ(stored_b.first_index_of_event_id(), 1u);
  EXPECT_EQ(store->Get(2)->leaf_hash, merkle::HashLeaf(store->Get(2)->record_bytes));
  EXPECT_EQ(store->Get(3)->record_bytes, ser2[2].bytes);
  EXPECT_EQ(store->Get(0)->record_bytes, ser1[0].bytes);
  ASSERT_TRUE(store->Verify().ok());
  // A count that does not match the records is refused, and nothing is written.
  std::vector<v1::LogRecord> third = {Record("d", "4")};
  EXPECT_EQ((*seq)->Append(&third, {}, {}, &ser1).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(*store->TreeSize(), 4u);
}

TEST_F(LogStoreTest, ExactRedeliveryAppendsNothingAndConflictIsMarked) {
  auto store = OpenRw();
  auto seq = Sequencer::Create(store.get());
  std::vector<v1::LogRecord> first = {Record("x1", "payload-1", 0), Record("x2", "payload-2", 1)};
  ASSERT_TRUE((*seq)->Append(&first, {}, {}).ok());
  // Redelivery of x1 (other offset, same bytes), a conflicting x2, and x3 twice in one batch.
  std::vector<v1::LogRecord> second = {Record("x1", "payload-1", 5), Record("x2", "CHANGED", 6),
                                       Record("x3", "p3", 7), Record("x3", "p3", 8)};
  auto r = (*seq)->Append(&second, {}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcomes[0], AppendOutcome::kDuplicate);
  EXPECT_EQ(r->outcomes[1], AppendOutcome::kConflictingAppended);
  EXPECT_EQ(r->outcomes[2], AppendOutcome::kAppended);
  EXPECT_EQ(r->outcomes[3], AppendOutcome::kDuplicate);
  EXPECT_EQ(r->appended, 2u);
  EXPECT_EQ(*store->TreeSize(), 4u);
  EXPECT_EQ(*store->FindByEventId("x2"), (std::vector<uint64_t>{1, 2}));
  v1::LogRecord stored;
  ASSERT_TRUE(stored.ParseFromString(store->Get(2)->record_bytes));
  EXPECT_TRUE(stored.conflicting_resubmission());
  EXPECT_EQ(stored.first_index_of_event_id(), 1u);
}

// A verified copy appended with AppendCopy, which looks up only the event ids its log marked as
// resubmitted, holds the same entries, tree and event index as the log, whether a conflict's
// first occurrence is in an earlier batch or the same one.
TEST_F(LogStoreTest, AppendCopyRebuildsTheLogWithItsEventIndex) {
  auto log = OpenRw();
  auto seq = Sequencer::Create(log.get());
  std::vector<v1::LogRecord> first = {Record("x1", "p1", 0), Record("x2", "p2", 1)};
  ASSERT_TRUE((*seq)->Append(&first, {}, {}).ok());
  std::vector<v1::LogRecord> second = {Record("x2", "CHANGED", 2), Record("x3", "p3", 3),
                                       Record("x3", "OTHER", 4), Record("x4", "p4", 5)};
  ASSERT_TRUE((*seq)->Append(&second, {}, {}).ok());
  ASSERT_EQ(*log->TreeSize(), 6u);

  auto copy = LogStore::Open((dir_ / "copy").string(), {});
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  auto cseq = Sequencer::Create(copy->get());
  // Batches [0, 2) and [2, 6): x2's conflict (2) refers to the first batch, x3's (4) to its own.
  for (auto [from, to] : {std::pair<uint64_t, uint64_t>{0, 2}, {2, 6}}) {
    std::vector<v1::LogRecord> recs;
    std::vector<Sequencer::Serialized> ser;
    for (uint64_t i = from; i < to; ++i) {
      auto e = log->Get(i);
      ASSERT_TRUE(e.ok());
      ASSERT_TRUE(recs.emplace_back().ParseFromString(e->record_bytes));
      ser.push_back({e->record_bytes, e->leaf_hash});
    }
    auto r = (*cseq)->AppendCopy(&recs, ser);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->appended, to - from);
    for (size_t k = 0; k < ser.size(); ++k) EXPECT_EQ(r->leaf_hashes[k], ser[k].leaf) << from + k;
  }
  EXPECT_EQ(*(*copy)->Root(6), *log->Root(6));
  for (const char* id : {"x1", "x2", "x3", "x4"}) {
    EXPECT_EQ(*(*copy)->FindByEventId(id), *log->FindByEventId(id)) << id;
  }
  EXPECT_EQ(*(*copy)->FindByEventId("x3"), (std::vector<uint64_t>{3, 4}));
  ASSERT_TRUE((*copy)->Verify().ok());
}

TEST_F(LogStoreTest, StateSurvivesReopenAndCheckpointsAreChecked) {
  std::vector<std::string> leaves;
  {
    auto store = OpenRw();
    auto seq = Sequencer::Create(store.get());
    leaves = AppendMany(seq->get(), 700, 100, "a");
    v1::CheckpointRecord cp;
    cp.set_tree_size(300);
    cp.set_root_hash(std::string(merkle::AsBytes(*store->Root(300))));
    ASSERT_TRUE((*seq)->AddCheckpoint(cp).ok());
    cp.set_root_hash(std::string(32, 'x'));
    EXPECT_FALSE((*seq)->AddCheckpoint(cp).ok());
  }
  auto store = OpenRw();
  auto seq = Sequencer::Create(store.get());
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ((*seq)->size(), 700u);
  auto more = AppendMany(seq->get(), 600, 128, "b");
  leaves.insert(leaves.end(), more.begin(), more.end());
  merkle::InMemoryTree ref;
  for (const auto& l : leaves) ref.Append(l);
  EXPECT_EQ((*seq)->root(), *ref.RootAt(1300));
  auto report = store->Verify();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->checkpoints_checked, 1u);
}

TEST_F(LogStoreTest, ReadOnlyOpenRefusesSequencerAndMissingLogIsClear) {
  auto missing = LogStore::Open((dir_ / "nope").string(), {.read_only = true});
  EXPECT_FALSE(missing.ok());
  { auto store = OpenRw(); }
  auto ro = LogStore::Open(dir_.string(), {.read_only = true});
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ(Sequencer::Create(ro->get()).status().code(), Code::kFailedPrecondition);
}

// A copier's open (CatchUpSource): while the writer still holds everything in its write-ahead
// log, the entries-only open reads the same entries as a full one and refuses, by name, what it
// did not open.
TEST_F(LogStoreTest, EntriesOnlyOpenReadsEntriesAndRefusesTheRest) {
  auto writer = OpenRw();
  auto seq = Sequencer::Create(writer.get());
  ASSERT_TRUE(seq.ok());
  AppendMany(seq->get(), 700, 100, "e");
  v1::CheckpointRecord cp;
  cp.set_tree_size(700);
  cp.set_root_hash(std::string(merkle::AsBytes((*seq)->root())));
  ASSERT_TRUE((*seq)->AddCheckpoint(cp).ok());

  auto full = LogStore::Open(dir_.string(), {.read_only = true});
  auto entries = LogStore::Open(dir_.string(), {.read_only = true, .entries_only = true});
  ASSERT_TRUE(full.ok() && entries.ok()) << entries.status().ToString();
  ASSERT_EQ(*(*entries)->TreeSize(), 700u);
  std::vector<Entry> a, b;
  auto collect = [](std::vector<Entry>* out) {
    return [out](const Entry& e) {
      out->push_back(e);
      return Status::Ok();
    };
  };
  ASSERT_TRUE((*full)->Scan(0, 700, collect(&a)).ok());
  ASSERT_TRUE((*entries)->Scan(0, 700, collect(&b)).ok());
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].record_bytes, b[i].record_bytes) << i;
    ASSERT_EQ(a[i].leaf_hash, b[i].leaf_hash) << i;
  }
  auto got = (*entries)->Get(345);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->record_bytes, a[345].record_bytes);

  const LogStore& ro = **entries;
  for (const Status& st :
       {ro.ReadTile({0, 0}).status(), ro.Root(700).status(), ro.InclusionProof(3, 700).status(),
        ro.Checkpoints().status(), ro.LatestCheckpoint().status(), ro.FindByEventId("e3").status(),
        ro.FindByPractice("A81001", 0, INT64_MAX, 10).status(),
        ro.FindByKind(v1::EVENT_KIND_CLAIM, 0, 10).status(), ro.GetDeadLetter(0).status(),
        ro.Verify().status()}) {
    EXPECT_EQ(st.code(), Code::kFailedPrecondition) << st.ToString();
    EXPECT_NE(st.message().find("entries only"), std::string::npos) << st.message();
  }
}

// Corruption: each kind of damage to the stored bytes is caught by Verify, naming the index.
class CorruptionTest : public LogStoreTest {
 protected:
  void Build() {
    auto store = OpenRw();
    auto seq = Sequencer::Create(store.get());
    AppendMany(seq->get(), 600, 100, "c");
    v1::CheckpointRecord cp;
    cp.set_tree_size(600);
    cp.set_root_hash(std::string(merkle::AsBytes((*seq)->root())));
    ASSERT_TRUE((*seq)->AddCheckpoint(cp).ok());
    ASSERT_TRUE(store->Verify().ok());
  }
  // Opens the raw DB with every column family and runs fn on it.
  void Tamper(
      const std::function<void(rocksdb::DB*, std::vector<rocksdb::ColumnFamilyHandle*>&)>& fn) {
    auto store = OpenRw();
    std::vector<rocksdb::ColumnFamilyHandle*> cfs = {
        store->meta(),           store->entries(),    store->tiles(),      store->event_index(),
        store->practice_index(), store->kind_index(), store->checkpoints()};
    fn(store->db(), cfs);
  }
  Status VerifyNow() {
    auto store = LogStore::Open(dir_.string(), {.read_only = true});
    return (*store)->Verify().status();
  }
};

TEST_F(CorruptionTest, FlippedByteInEntry) {
  Build();
  Tamper([](rocksdb::DB* db, auto& cfs) {
    std::string v;
    ASSERT_TRUE(db->Get({}, cfs[1], keys::EntryKey(417), &v).ok());
    v[v.size() - 3] ^= 1;
    ASSERT_TRUE(db->Put({}, cfs[1], keys::EntryKey(417), v).ok());
  });
  Status st = VerifyNow();
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("first bad index 417"), std::string::npos) << st.message();
}

TEST_F(CorruptionTest, FlippedByteInStoredNode) {
  Build();
  Tamper([](rocksdb::DB* db, auto& cfs) {
    std::string v;
    ASSERT_TRUE(db->Get({}, cfs[2], keys::TileKey(0, 1), &v).ok());
    v[2 + 32 * 300 + 5] ^= 0x80;  // row 1 of tile 0/1: node (1, 172) covering leaves 344..345
    ASSERT_TRUE(db->Put({}, cfs[2], keys::TileKey(0, 1), v).ok());
  });
  Status st = VerifyNow();
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("first bad index 345"), std::string::npos) << st.message();
}

TEST_F(CorruptionTest, DeletedEntry) {
  Build();
  Tamper([](rocksdb::DB* db, auto& cfs) {
    ASSERT_TRUE(db->Delete({}, cfs[1], keys::EntryKey(99)).ok());
  });
  Status st = VerifyNow();
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("first bad index 99"), std::string::npos) << st.message();
}

TEST_F(CorruptionTest, SwappedEntries) {
  Build();
  Tamper([](rocksdb::DB* db, auto& cfs) {
    std::string a, b;
    ASSERT_TRUE(db->Get({}, cfs[1], keys::EntryKey(200), &a).ok());
    ASSERT_TRUE(db->Get({}, cfs[1], keys::EntryKey(201), &b).ok());
    ASSERT_TRUE(db->Put({}, cfs[1], keys::EntryKey(200), b).ok());
    ASSERT_TRUE(db->Put({}, cfs[1], keys::EntryKey(201), a).ok());
  });
  Status st = VerifyNow();
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("first bad index 200"), std::string::npos) << st.message();
}

TEST_F(CorruptionTest, TruncatedTree) {
  Build();
  Tamper([](rocksdb::DB* db, auto& cfs) {
    // Roll the tree back to 500 entries and drop the rest, as a rewrite of history would.
    for (uint64_t i = 500; i < 600; ++i)
      ASSERT_TRUE(db->Delete({}, cfs[1], keys::EntryKey(i)).ok());
    ASSERT_TRUE(db->Put({}, cfs[0], keys::kMetaTreeSize, keys::Be64(500)).ok());
  });
  Status st = VerifyNow();
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("truncated"), std::string::npos) << st.message();
}

TEST_F(CorruptionTest, ExtraEntryBeyondTree) {
  Build();
  Tamper([](rocksdb::DB* db, auto& cfs) {
    ASSERT_TRUE(db->Put({}, cfs[1], keys::EntryKey(600), std::string(40, 'z')).ok());
  });
  Status st = VerifyNow();
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("first bad index 600"), std::string::npos) << st.message();
}

// Crash consistency: a child process appends as fast as it can and is SIGKILLed at a random
// moment; the parent reopens, verifies, checks offsets match entries, continues, repeats.
TEST_F(LogStoreTest, SigkillDuringAppendsLeavesAConsistentLog) {
  std::mt19937 rng(7);
  uint64_t last_size = 0;
  for (int round = 0; round < 5; ++round) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto store = LogStore::Open(dir_.string(), {});
      if (!store.ok()) _exit(2);
      auto seq = Sequencer::Create(store->get());
      if (!seq.ok()) _exit(3);
      for (int64_t off = static_cast<int64_t>((*seq)->size());;) {
        std::vector<v1::LogRecord> recs;
        for (int j = 0; j < 200; ++j, ++off) {
          recs.push_back(Record("k" + std::to_string(off), std::string(200, 'q'), off));
        }
        if (!(*seq)->Append(&recs, {{{"probity.claims.v1", 0}, off}}, {}).ok()) _exit(4);
      }
    }
    usleep(50000 + rng() % 250000);
    kill(pid, SIGKILL);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited early with " << WEXITSTATUS(wstatus);

    auto store = LogStore::Open(dir_.string(), {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto report = (*store)->Verify();
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    uint64_t size = *(*store)->TreeSize();
    EXPECT_GE(size, last_size);
    // The committed offset is exactly the number of entries: no gap, no double.
    auto offsets = *(*store)->ConsumerOffsets();
    EXPECT_EQ(static_cast<uint64_t>(offsets[{"probity.claims.v1", 0}]), size);
    last_size = size;
  }
  EXPECT_GT(last_size, 0u);
}

}  // namespace
}  // namespace probity::logstore
