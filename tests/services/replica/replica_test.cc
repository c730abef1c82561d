// The replica against a real sequencer: ingest on the embedded bus writes the primary log and
// publishes probity.log.v1 and probity.checkpoints.v1; the replica follows both through the
// follower runtime, is killed (abandoned without a save) at random moments and restarted, and in
// the end holds the same log as the primary, byte for byte: every entry, tile, checkpoint, event
// and practice index, the tree size and range, and so the same roots and proofs.
#include "services/replica/replica.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "common/bus/embedded_cluster.h"
#include "common/bus/kafka.h"
#include "common/bus/topics.h"
#include "common/logstore/keys.h"
#include "common/logstore/store.h"
#include "common/note/note.h"
#include "services/ingest/ingest.h"
#include "tests/integration/test_events.h"

namespace probity::replica {
namespace {

namespace fs = std::filesystem;

// Every key and value of a column family, in key order.
std::vector<std::pair<std::string, std::string>> Dump(const logstore::LogStore& s,
                                                       rocksdb::ColumnFamilyHandle* cf) {
  std::vector<std::pair<std::string, std::string>> out;
  rocksdb::ReadOptions ro;
  ro.total_order_seek = true;  // idx_event has a hash memtable: iterate it whole
  std::unique_ptr<rocksdb::Iterator> it(s.db()->NewIterator(ro, cf));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  return out;
}

std::string Meta(const logstore::LogStore& s, std::string_view key) {
  std::string v;
  (void)s.db()->Get(rocksdb::ReadOptions(), s.meta(), rocksdb::Slice(key.data(), key.size()), &v);
  return v;
}

class ReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("probity_replica_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    cluster_ = std::move(bus::EmbeddedCluster::Start({})).value();
    cfg_ = {cluster_->bootstrap_servers(), {}};
    auto kp = note::GenerateKey("probity.test/log");
    signer_.emplace(std::move(note::Signer::FromSignerKey(kp->signer_key)).value());
    verifier_.emplace(std::move(note::Verifier::FromVerifierKey(kp->verifier_key)).value());
    store_ = std::move(logstore::LogStore::Open((dir_ / "primary").string(), {})).value();
    ingest::IngestOptions o;
    o.checkpoint_origin = "probity.test/log";
    o.checkpoint_interval_ms = 100;
    ingest_ = std::make_unique<ingest::IngestService>(o, cfg_, store_.get(), &clock_, &registry_,
                                                      &*signer_);
    ASSERT_TRUE(ingest_->Start().ok());
    ingest_thread_ = std::thread([this] { ingest_status_ = ingest_->Run(&ingest_stop_); });
    producer_ = std::move(bus::Producer::Create(cfg_)).value();
  }
  void TearDown() override {
    StopIngest();
    store_.reset();
    fs::remove_all(dir_);
  }
  void StopIngest() {
    ingest_stop_ = true;
    if (ingest_thread_.joinable()) ingest_thread_.join();
    EXPECT_TRUE(ingest_status_.ok()) << ingest_status_.ToString();
  }
  void Produce(int from, int to) {
    for (int i = from; i < to; ++i) {
      // Practices spread over partitions; every 500th event resubmitted with other bytes (a
      // conflicting resubmission, which the log keeps, marked).
      std::string practice = "A8" + std::to_string(1000 + i % 40);
      v1::Envelope e = testing::Claim("claim-" + std::to_string(i), practice, 1000 + i,
                                      1656633600 + i % 86400);
      ASSERT_TRUE(producer_
                      ->Produce(bus::kClaimsTopic, i % 4, practice, e.SerializeAsString())
                      .ok());
      if (i % 500 == 0) {
        e.set_source_system("test-resent");
        ASSERT_TRUE(producer_
                        ->Produce(bus::kClaimsTopic, i % 4, practice, e.SerializeAsString())
                        .ok());
      }
    }
    ASSERT_TRUE(producer_->Flush(30000).ok());
  }
  ReplicaOptions Options() {
    return {.data_dir = (dir_ / "replica").string(),
            .origin = verifier_->name(),
            .log_keys = {*verifier_},
            .max_batch = 500};
  }

  fs::path dir_;
  std::unique_ptr<bus::EmbeddedCluster> cluster_;
  bus::ClientConfig cfg_;
  std::optional<note::Signer> signer_;
  std::optional<note::Verifier> verifier_;
  SystemClock clock_;
  prometheus::Registry registry_;
  std::unique_ptr<logstore::LogStore> store_;
  std::unique_ptr<ingest::IngestService> ingest_;
  std::thread ingest_thread_;
  std::atomic<bool> ingest_stop_{false};
  Status ingest_status_;
  std::unique_ptr<bus::Producer> producer_;
};

TEST_F(ReplicaTest, KilledAndRestartedReplicaEqualsThePrimaryByteForByte) {
  const int kEvents = getenv("REPLICA_TEST_EVENTS") ? atoi(getenv("REPLICA_TEST_EVENTS")) : 30000;
  std::thread feed([&] { Produce(0, kEvents); });
  std::mt19937 rng(12345);
  uint64_t last_size = 0;
  int lives = 0;
  int retries = 0;
  // Lives of the replica: each runs a random number of rounds and is then abandoned without a
  // save (what a kill leaves: only its atomic writes), until the primary is complete and the
  // replica has all of it.
  auto entries_size = [&] { return *store_->TreeSize(); };
  bool fed = false;
  for (; lives < 200; ++lives) {
    auto topic = follow::LogTopicSource::Create(cfg_);
    auto checkpoints = follow::CheckpointTopicSource::Create(cfg_);
    ASSERT_TRUE(topic.ok() && checkpoints.ok());
    // The embedded bus keeps about 5 MB of the log topic: older entries are read from the
    // primary's store (verified all the same), as a replica at another site would from another
    // replica.
    follow::CatchUpSource entries(topic->get(), (dir_ / "primary").string());
    ReplicaRunner r(Options(), &entries, checkpoints->get(), &clock_);
    ASSERT_TRUE(r.Start().ok());
    // Never a rollback: the copy restarts where the last life's atomic writes left it.
    EXPECT_GE(r.stats().next_index, last_size);
    // A life lasts 0.3 to 2.5 s (a fresh consumer needs a moment to reach the bus).
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(std::uniform_int_distribution<int>(300, 2500)(rng));
    int rounds = 0;
    for (; std::chrono::steady_clock::now() < until; ++rounds) {
      auto n = r.RunOnce();
      if (!n.ok()) {
        // What Run() would wait for and retry (the topic moved under the reader, say).
        ASSERT_TRUE(follow::Runtime::Retriable(n.status())) << n.status().ToString();
        if (getenv("REPLICA_TEST_TRACE")) std::fprintf(stderr, "  %s\n", n.status().ToString().c_str());
        ++retries;
        continue;
      }
      if (*n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    last_size = *r.store()->TreeSize();
    if (getenv("REPLICA_TEST_TRACE")) {
      auto st = r.stats();
      std::fprintf(stderr, "life %d: rounds %d copy %llu tree %llu verified %llu primary %llu\n",
                   lives, rounds, (unsigned long long)last_size,
                   (unsigned long long)st.tree_size, (unsigned long long)st.verified_size,
                   (unsigned long long)entries_size());
    }
    if (!fed && feed.joinable()) {
      if (entries_size() >= kEvents + kEvents / 500) {
        feed.join();
        fed = true;
        StopIngest();  // drains, publishes everything and signs a final checkpoint
      }
    }
    if (fed) {
      auto latest = store_->LatestCheckpoint();
      if (last_size == *store_->TreeSize() && latest.ok() && *latest &&
          (*latest)->tree_size() == last_size) {
        // All entries are in; run until the final checkpoint is stored too.
        for (int i = 0; i < 200; ++i) {
          auto mine = r.store()->LatestCheckpoint();
          if (mine.ok() && *mine && (*mine)->tree_size() == last_size) break;
          (void)r.RunOnce();  // retriable failures retry at the next call
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ASSERT_TRUE(r.Save().ok());
        break;
      }
    }
  }
  if (feed.joinable()) feed.join();
  ASSERT_LT(lives, 200) << "the replica did not catch up";
  EXPECT_GE(lives, 2);
  std::printf("replica: %d lives, %d retried rounds\n", lives + 1, retries);

  auto copy = logstore::LogStore::Open((dir_ / "replica" / "log").string(), {.read_only = true});
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  const logstore::LogStore& a = *store_;
  const logstore::LogStore& b = **copy;
  const uint64_t size = *a.TreeSize();
  ASSERT_EQ(size, static_cast<uint64_t>(kEvents + kEvents / 500));
  ASSERT_EQ(*b.TreeSize(), size);
  EXPECT_EQ(*b.Root(size), *a.Root(size));
  EXPECT_EQ(Meta(b, logstore::keys::kMetaTreeSize), Meta(a, logstore::keys::kMetaTreeSize));
  EXPECT_EQ(Meta(b, logstore::keys::kMetaTreeRange), Meta(a, logstore::keys::kMetaTreeRange));
  EXPECT_EQ(Meta(b, logstore::keys::kMetaFormat), Meta(a, logstore::keys::kMetaFormat));
  // Byte for byte: entries, tiles, checkpoints, and the event and practice indexes.
  EXPECT_TRUE(Dump(b, b.entries()) == Dump(a, a.entries()));
  EXPECT_EQ(Dump(b, b.entries()).size(), size);
  EXPECT_TRUE(Dump(b, b.tiles()) == Dump(a, a.tiles()));
  auto cps = Dump(a, a.checkpoints());
  EXPECT_GE(cps.size(), 3u);
  EXPECT_TRUE(Dump(b, b.checkpoints()) == cps) << Dump(b, b.checkpoints()).size() << " vs "
                                                << cps.size();
  {
    auto ea = Dump(a, a.event_index()), eb = Dump(b, b.event_index());
    EXPECT_EQ(ea.size(), eb.size());
    for (size_t i = 0; i < std::min(ea.size(), eb.size()); ++i) {
      if (ea[i] != eb[i]) {
        ADD_FAILURE() << "idx_event differs at " << ea[i].first << " / " << eb[i].first << ": "
                      << ea[i].second.size() << " vs " << eb[i].second.size() << " bytes";
        break;
      }
    }
  }
  EXPECT_TRUE(Dump(b, b.practice_index()) == Dump(a, a.practice_index()));
  // idx_kind is grouped by appended batch: the same answers, keys of the replica's own batches.
  EXPECT_EQ(*b.FindByKind(v1::EVENT_KIND_CLAIM, 0, 1 << 30),
            *a.FindByKind(v1::EVENT_KIND_CLAIM, 0, 1 << 30));
  // The same proofs.
  for (uint64_t i : {uint64_t{0}, size / 3, size / 2, size - 1}) {
    EXPECT_EQ(*b.InclusionProof(i, size), *a.InclusionProof(i, size)) << i;
    if (i > 0) EXPECT_EQ(*b.ConsistencyProof(i, size), *a.ConsistencyProof(i, size)) << i;
  }
  for (const auto& [key, value] : cps) {
    const uint64_t cs = logstore::keys::GetBe64(key);
    if (cs > 0 && cs < size) {
      EXPECT_EQ(*b.ConsistencyProof(cs, size), *a.ConsistencyProof(cs, size));
    }
  }
  // And it verifies as a store by itself.
  auto report = b.Verify();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->entries_checked, size);
}

}  // namespace
}  // namespace probity::replica
