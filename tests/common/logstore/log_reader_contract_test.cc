// The LogReader contract, checked on the real LogStore and on FakeLogReader with the same
// entries: a test that passes on the fake means the same against the store.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/logstore/sequencer.h"
#include "common/logstore/store.h"
#include "tests/common/logstore/fake_log_reader.h"

namespace probity::logstore {
namespace {

namespace fs = std::filesystem;

v1::LogRecord Record(int i) {
  v1::LogRecord r;
  r.set_payload("payload-" + std::to_string(i));
  r.set_topic("probity.claims.v1");
  r.set_offset(i);
  r.set_event_id("ev-" + std::to_string(i % 7 == 3 ? 3 : i));  // one id appears more than once
  r.set_kind(i % 3 == 0 ? v1::EVENT_KIND_CLAIM : v1::EVENT_KIND_REFERRAL);
  r.set_practice_code(i % 2 == 0 ? "A81001" : "B82005");
  r.mutable_occurred_at()->set_seconds(1656633600 + (37 * i) % 101 * 86400);
  return r;
}

TEST(LogReaderContract, StoreAndFakeAnswerAlike) {
  fs::path dir =
      fs::temp_directory_path() / ("probity_reader_contract_" + std::to_string(getpid()));
  fs::remove_all(dir);
  auto store = LogStore::Open(dir.string(), {});
  ASSERT_TRUE(store.ok());
  auto seq = Sequencer::Create(store->get());
  ASSERT_TRUE(seq.ok());
  testing::FakeLogReader fake;
  constexpr int kEntries = 300;
  for (int b = 0; b < kEntries; b += 50) {
    std::vector<v1::LogRecord> recs;
    for (int i = b; i < b + 50; ++i) recs.push_back(Record(i));
    auto result = (*seq)->Append(&recs, {{{"probity.claims.v1", 0}, b + 50}}, {});
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    for (size_t k = 0; k < result->appended; ++k) fake.Append(std::string(result->leaf_data(k)));
  }
  const LogReader& a = **store;
  const LogReader& f = fake;
  ASSERT_EQ(*a.TreeSize(), *f.TreeSize());
  const uint64_t n = *a.TreeSize();
  ASSERT_GT(n, 250u);  // the repeated event id with the same bytes is dropped once
  for (uint64_t size : {uint64_t{1}, uint64_t{2}, uint64_t{7}, uint64_t{64}, uint64_t{255}, n}) {
    EXPECT_EQ(*a.Root(size), *f.Root(size)) << size;
  }
  std::vector<Entry> sa, sf;
  ASSERT_TRUE(a.Scan(0, n, [&](const Entry& e) {
                 sa.push_back(e);
                 return Status::Ok();
               }).ok());
  ASSERT_TRUE(f.Scan(0, n, [&](const Entry& e) {
                 sf.push_back(e);
                 return Status::Ok();
               }).ok());
  ASSERT_EQ(sa.size(), sf.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].index, sf[i].index);
    EXPECT_EQ(sa[i].leaf_hash, sf[i].leaf_hash);
    EXPECT_EQ(sa[i].record_bytes, sf[i].record_bytes);
    EXPECT_EQ(a.Get(i)->record_bytes, f.Get(i)->record_bytes);
  }
  EXPECT_EQ(a.Get(n).status().code(), Code::kNotFound);
  EXPECT_EQ(f.Get(n).status().code(), Code::kNotFound);
  for (uint64_t size : {uint64_t{9}, uint64_t{100}, n}) {
    for (uint64_t index = 0; index < size; index += 7) {
      EXPECT_EQ(*a.InclusionProof(index, size), *f.InclusionProof(index, size)) << index;
    }
    for (uint64_t from = 1; from <= size; from += 13) {
      EXPECT_EQ(*a.ConsistencyProof(from, size), *f.ConsistencyProof(from, size)) << from;
    }
  }
  // Many proofs at once (the store shares node reads) are the proofs one by one, in the order
  // asked, repeats included.
  for (uint64_t size : {uint64_t{1}, uint64_t{9}, uint64_t{256}, n}) {
    std::vector<uint64_t> indices;
    for (uint64_t index = 0; index < size; index += 3) indices.push_back(size - 1 - index);
    indices.push_back(0);
    auto many = a.InclusionProofs(indices, size);
    ASSERT_TRUE(many.ok()) << many.status().ToString();
    ASSERT_EQ(many->size(), indices.size());
    for (size_t k = 0; k < indices.size(); ++k) {
      EXPECT_EQ((*many)[k], *f.InclusionProof(indices[k], size)) << indices[k] << "/" << size;
    }
    EXPECT_EQ(*many, *f.InclusionProofs(indices, size));
  }
  // Many entries at once (the store steps one iterator) are the entries one by one, in the order
  // asked, repeats and far jumps included; an index past the end is kNotFound.
  {
    std::vector<uint64_t> indices = {n - 1, 0, 1, 1, 2, 40, 3, n / 2, n / 2 + 17, 5};
    for (uint64_t i = 0; i < n; i += 2) indices.push_back(i);
    auto many = a.GetMany(indices);
    ASSERT_TRUE(many.ok()) << many.status().ToString();
    ASSERT_EQ(many->size(), indices.size());
    for (size_t k = 0; k < indices.size(); ++k) {
      const auto one = f.Get(indices[k]);
      EXPECT_EQ((*many)[k].index, indices[k]);
      EXPECT_EQ((*many)[k].leaf_hash, one->leaf_hash) << indices[k];
      EXPECT_EQ((*many)[k].record_bytes, one->record_bytes) << indices[k];
    }
    EXPECT_EQ(a.GetMany({0, n}).status().code(), Code::kNotFound);
    EXPECT_EQ(f.GetMany({0, n}).status().code(), Code::kNotFound);
    EXPECT_TRUE(a.GetMany({})->empty());
  }
  // A trail's pattern: every index in ascending order, against sizes whose right edge folds
  // several nodes (the store keeps what the previous proof read and each fold it made).
  for (uint64_t size : {uint64_t{2}, uint64_t{3}, uint64_t{7}, uint64_t{100}, uint64_t{255},
                        uint64_t{257}, uint64_t{299}, n}) {
    std::vector<uint64_t> indices;
    for (uint64_t index = 0; index < size; ++index) indices.push_back(index);
    auto many = a.InclusionProofs(indices, size);
    ASSERT_TRUE(many.ok()) << many.status().ToString();
    for (size_t k = 0; k < indices.size(); ++k) {
      EXPECT_EQ((*many)[k], *f.InclusionProof(indices[k], size)) << indices[k] << "/" << size;
    }
  }
  EXPECT_FALSE(a.InclusionProofs({0}, n + 1).ok());
  EXPECT_FALSE(a.InclusionProofs({n}, n).ok());
  EXPECT_EQ(*a.FindByEventId("ev-3"), *f.FindByEventId("ev-3"));
  EXPECT_EQ(*a.FindByEventId("none"), *f.FindByEventId("none"));
  EXPECT_EQ(*a.FindByKind(v1::EVENT_KIND_CLAIM, 10, 20),
            *f.FindByKind(v1::EVENT_KIND_CLAIM, 10, 20));
  const int64_t from = 1656633600LL * 1000000, to = from + 40LL * 86400 * 1000000;
  EXPECT_EQ(*a.FindByPractice("A81001", from, to, 1000),
            *f.FindByPractice("A81001", from, to, 1000));
  EXPECT_EQ(*a.DeadLetterCount(), *f.DeadLetterCount());
  store->reset();
  fs::remove_all(dir);
}

// LatestCheckpoint keeps the record it read while the store takes no write: a checkpoint stored
// since (through the same store, by its sequencer) is the next answer, never the old copy.
TEST(LogReaderContract, LatestCheckpointSeesEachNewCheckpoint) {
  fs::path dir = fs::temp_directory_path() / ("probity_latest_cp_" + std::to_string(getpid()));
  fs::remove_all(dir);
  auto store = LogStore::Open(dir.string(), {});
  ASSERT_TRUE(store.ok());
  auto seq = Sequencer::Create(store->get());
  ASSERT_TRUE(seq.ok());
  EXPECT_FALSE(*(*store)->LatestCheckpoint());
  for (int round = 1; round <= 3; ++round) {
    std::vector<v1::LogRecord> recs;
    for (int i = 0; i < 10; ++i) recs.push_back(Record(round * 100 + i));
    ASSERT_TRUE((*seq)->Append(&recs, {}, {}).ok());
    auto before = (*store)->LatestCheckpoint();  // no new checkpoint yet
    ASSERT_TRUE(before.ok());
    EXPECT_EQ(before->has_value(), round > 1);
    if (round > 1) EXPECT_EQ((*before)->tree_size(), (round - 1) * 10u);
    v1::CheckpointRecord cp;
    cp.set_tree_size((*seq)->size());
    cp.set_root_hash(std::string(merkle::AsBytes((*seq)->root())));
    cp.set_signed_note("note " + std::to_string(round));
    ASSERT_TRUE((*seq)->AddCheckpoint(cp).ok());
    for (int again = 0; again < 2; ++again) {
      auto latest = (*store)->LatestCheckpoint();
      ASSERT_TRUE(latest.ok() && latest->has_value());
      EXPECT_EQ((*latest)->tree_size(), round * 10u);
      EXPECT_EQ((*latest)->signed_note(), "note " + std::to_string(round));
    }
  }
  store->reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace probity::logstore
