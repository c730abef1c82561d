// Integration: the embedded bus in-process, real messages produced through librdkafka, the ingest
// service appending to RocksDB on disk. Asserts what the store and the output topics hold.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "common/bus/embedded_cluster.h"
#include "common/bus/kafka.h"
#include "common/bus/topics.h"
#include "common/codec/codec.h"
#include "common/follow/entry_source.h"
#include "common/logstore/keys.h"
#include "common/logstore/store.h"
#include "common/note/note.h"
#include "services/ingest/ingest.h"
#include "tests/integration/test_events.h"

namespace probity::ingest {
namespace {

namespace fs = std::filesystem;
using probity::testing::Claim;

class IngestIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("probity_ingest_it_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto cluster = bus::EmbeddedCluster::Start({});
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(cluster).value();
    cfg_ = {cluster_->bootstrap_servers(), {}};
    auto kp = note::GenerateKey("probity.test/log");
    ASSERT_TRUE(kp.ok());
    auto signer = note::Signer::FromSignerKey(kp->signer_key);
    ASSERT_TRUE(signer.ok());
    signer_.emplace(std::move(signer).value());
    verifier_key_ = kp->verifier_key;
    auto producer = bus::Producer::Create(cfg_);
    ASSERT_TRUE(producer.ok());
    producer_ = std::move(producer).value();
  }
  void TearDown() override {
    StopService();
    store_.reset();
    fs::remove_all(dir_);
  }

  void StartService(IngestOptions opts = {}) {
    auto store = logstore::LogStore::Open(dir_.string(), {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    opts.checkpoint_origin = "probity.test/log";
    opts.checkpoint_interval_ms = 100;
    service_ =
        std::make_unique<IngestService>(opts, cfg_, store_.get(), &clock_, &registry_, &*signer_);
    Status st = service_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    stop_ = false;
    thread_ = std::thread([this] { run_status_ = service_->Run(&stop_); });
  }
  void StopService() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    service_.reset();
  }

  // Waits until the service has consumed n messages in total.
  bool WaitConsumed(uint64_t n, int seconds = 30) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      auto s = service_->stats();
      if (s.appended + s.duplicates + s.rejected >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::vector<bus::Message> ReadTopic(std::string_view topic, size_t want, int seconds = 20) {
    auto consumer = bus::Consumer::Create(cfg_);
    EXPECT_TRUE(consumer.ok());
    EXPECT_TRUE((*consumer)->Assign({{std::string(topic), 0, RD_KAFKA_OFFSET_BEGINNING}}).ok());
    std::vector<bus::Message> got;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
      EXPECT_TRUE((*consumer)->Poll(10000, 100, &got).ok());
    }
    // Anything beyond `want` that is already there.
    EXPECT_TRUE((*consumer)->Poll(10000, 300, &got).ok());
    return got;
  }

  fs::path dir_;
  std::unique_ptr<bus::EmbeddedCluster> cluster_;
  bus::ClientConfig cfg_;
  std::optional<note::Signer> signer_;
  std::string verifier_key_;
  std::unique_ptr<bus::Producer> producer_;
  SystemClock clock_;
  prometheus::Registry registry_;
  std::unique_ptr<logstore::LogStore> store_;
  std::unique_ptr<IngestService> service_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  Status run_status_;
};

TEST_F(IngestIntegrationTest, ClaimsInBothEncodingsAreLoggedAndMalformedOnesDeadLettered) {
  StartService();
  v1::Envelope a = Claim("it-1", "A81001", 1000);
  v1::Envelope b = Claim("it-2", "B82005", 2500);
  ASSERT_TRUE(producer_->Produce(bus::kClaimsTopic, 0, "A81001", a.SerializeAsString()).ok());
  ASSERT_TRUE(producer_
                  ->Produce(bus::kClaimsTopic, 1, "B82005", codec::ToJson(b),
                            {{"content-type", "application/json"}})
                  .ok());
  // Malformed: garbage bytes; a bad ODS code; a claim on the referrals topic; an unknown content
  // type.
  ASSERT_TRUE(producer_->Produce(bus::kClaimsTopic, 2, "k1", "\x08\xff\xff\xff garbage").ok());
  v1::Envelope bad_ods = Claim("it-3", "81001", 10);
  ASSERT_TRUE(
      producer_
          ->Produce(bus::kClaimsTopic, 2, "k2", bad_ods.SerializeAsString(), {{"trace", "abc"}})
          .ok());
  ASSERT_TRUE(
      producer_
          ->Produce(bus::kReferralsTopic, 0, "k3", Claim("it-4", "A81001", 5).SerializeAsString())
          .ok());
  ASSERT_TRUE(producer_
                  ->Produce(bus::kClaimsTopic, 3, "k4", a.SerializeAsString(),
                            {{"content-type", "text/csv"}})
                  .ok());
  // A redelivery of a (other partition, same bytes) and a conflicting resubmission of b.
  ASSERT_TRUE(producer_->Produce(bus::kClaimsTopic, 3, "A81001", a.SerializeAsString()).ok());
  v1::Envelope b2 = b;
  b2.mutable_claim()->set_amount_pence(9999);
  b2.mutable_claim()->set_unit_price_pence(9999);
  ASSERT_TRUE(producer_->Produce(bus::kClaimsTopic, 1, "B82005", b2.SerializeAsString()).ok());
  ASSERT_TRUE(producer_->Flush(10000).ok());
  ASSERT_TRUE(WaitConsumed(8)) << "consumed " << service_->stats().appended;
  StopService();
  ASSERT_TRUE(run_status_.ok()) << run_status_.ToString();

  // The store: a, b and the conflicting b2; nothing else.
  EXPECT_EQ(*store_->TreeSize(), 3u);
  EXPECT_EQ(store_->FindByEventId("it-1")->size(), 1u);
  EXPECT_EQ(store_->FindByEventId("it-2")->size(), 2u);
  EXPECT_TRUE(store_->FindByEventId("it-3")->empty());
  auto e = store_->Get((*store_->FindByEventId("it-1"))[0]);
  v1::LogRecord rec;
  ASSERT_TRUE(rec.ParseFromString(e->record_bytes));
  EXPECT_EQ(rec.payload(), a.SerializeAsString());  // the exact bytes received
  EXPECT_EQ(rec.topic(), "probity.claims.v1");
  // a was sent on partition 0 and redelivered on partition 3: whichever ingest read first is
  // logged, the other dropped as an exact redelivery.
  EXPECT_TRUE(rec.partition() == 0 || rec.partition() == 3) << rec.partition();
  auto json_entry = store_->Get((*store_->FindByEventId("it-2"))[0]);
  ASSERT_TRUE(rec.ParseFromString(json_entry->record_bytes));
  EXPECT_EQ(rec.content_type(), v1::CONTENT_TYPE_JSON);
  EXPECT_EQ(rec.payload(), codec::ToJson(b));
  auto conflict = store_->Get((*store_->FindByEventId("it-2"))[1]);
  ASSERT_TRUE(rec.ParseFromString(conflict->record_bytes));
  EXPECT_TRUE(rec.conflicting_resubmission());
  EXPECT_TRUE(store_->Verify().ok());

  // Dead letters: four, each with its original bytes, headers, coordinates and reason.
  auto dls = ReadTopic(bus::kDeadLetterTopic, 4);
  ASSERT_EQ(dls.size(), 4u);
  std::map<std::string, v1::DeadLetter> by_key;
  for (const auto& m : dls) {
    v1::DeadLetter d;
    ASSERT_TRUE(d.ParseFromString(m.value));
    by_key[d.original_key()] = d;
  }
  EXPECT_EQ(by_key["k1"].reason_code(), "MALFORMED_PROTOBUF");
  EXPECT_EQ(by_key["k1"].original_value(), "\x08\xff\xff\xff garbage");
  EXPECT_EQ(by_key["k2"].reason_code(), "INVALID_ODS_CODE");
  EXPECT_EQ(by_key["k2"].source_topic(), "probity.claims.v1");
  EXPECT_EQ(by_key["k2"].source_partition(), 2);
  ASSERT_EQ(by_key["k2"].original_headers_size(), 1);
  EXPECT_EQ(by_key["k2"].original_headers(0).value(), "abc");
  EXPECT_EQ(by_key["k3"].reason_code(), "WRONG_TOPIC");
  EXPECT_EQ(by_key["k4"].reason_code(), "UNSUPPORTED_CONTENT_TYPE");

  // probity.log.v1 carries every index in order, each hash matching its record.
  auto log = ReadTopic(bus::kLogTopic, 3);
  ASSERT_EQ(log.size(), 3u);
  for (size_t i = 0; i < log.size(); ++i) {
    v1::SequencedEntry se;
    ASSERT_TRUE(se.ParseFromString(log[i].value));
    EXPECT_EQ(se.index(), i);
    EXPECT_EQ(se.leaf_hash(), merkle::AsBytes(merkle::HashLeaf(se.record())));
    EXPECT_EQ(logstore::keys::GetBe64(log[i].key), i);
    // Ingest writes the entry's wire form by hand: it must be what protobuf itself writes.
    EXPECT_EQ(se.SerializeAsString(), log[i].value) << i;
  }
  // A signed checkpoint of the final tree is stored and published.
  auto cp = store_->LatestCheckpoint();
  ASSERT_TRUE(cp.ok() && cp->has_value());
  EXPECT_EQ((*cp)->tree_size(), 3u);
  auto verifier = note::Verifier::FromVerifierKey(verifier_key_);
  ASSERT_TRUE(verifier.ok());
  EXPECT_TRUE(note::Open((*cp)->signed_note(), {*verifier}).ok());
  EXPECT_GE(ReadTopic(bus::kCheckpointsTopic, 1).size(), 1u);
}

TEST_F(IngestIntegrationTest, RestartResumesFromStoredOffsetsWithoutLossOrDuplication) {
  StartService();
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(
        producer_
            ->Produce(bus::kClaimsTopic, -1, "A81001",
                      Claim("r-" + std::to_string(i), "A81001", 100 + i).SerializeAsString())
            .ok());
  }
  ASSERT_TRUE(producer_->Flush(10000).ok());
  ASSERT_TRUE(WaitConsumed(500));
  StopService();
  store_.reset();
  for (int i = 500; i < 1000; ++i) {
    ASSERT_TRUE(
        producer_
            ->Produce(bus::kClaimsTopic, -1, "A81001",
                      Claim("r-" + std::to_string(i), "A81001", 100 + i).SerializeAsString())
            .ok());
  }
  ASSERT_TRUE(producer_->Flush(10000).ok());
  StartService();
  ASSERT_TRUE(WaitConsumed(500));
  StopService();
  EXPECT_EQ(*store_->TreeSize(), 1000u);
  for (int i = 0; i < 1000; i += 97) {
    EXPECT_EQ(store_->FindByEventId("r-" + std::to_string(i))->size(), 1u) << i;
  }
  auto log = ReadTopic(bus::kLogTopic, 1000);
  std::set<uint64_t> indexes;
  for (const auto& m : log) indexes.insert(logstore::keys::GetBe64(m.key));
  EXPECT_EQ(indexes.size(), 1000u);
  EXPECT_EQ(*indexes.rbegin(), 999u);
}

// Regression: after a restart with nothing new to read, stats() (and so /healthz) reported 0 dead
// letters, 0 published and no checkpoint until the first new batch, although the store held them.
TEST_F(IngestIntegrationTest, StatsAfterRestartReportWhatTheStoreHolds) {
  StartService();
  ASSERT_TRUE(
      producer_
          ->Produce(bus::kClaimsTopic, 0, "A81001", Claim("s-1", "A81001", 100).SerializeAsString())
          .ok());
  ASSERT_TRUE(producer_->Produce(bus::kClaimsTopic, 0, "k", "not protobuf \xff").ok());
  ASSERT_TRUE(producer_->Flush(10000).ok());
  ASSERT_TRUE(WaitConsumed(2));
  StopService();
  store_.reset();
  StartService();
  IngestStats s = service_->stats();
  EXPECT_TRUE(s.ready);
  EXPECT_EQ(s.log_size, 1u);
  EXPECT_EQ(s.dead_letters, 1u);
  EXPECT_EQ(s.log_published, 1u);
  EXPECT_EQ(s.checkpoint_size, 1u);
  EXPECT_NE(service_->health().detail_json.find("\"dead_letters\":1,"), std::string::npos)
      << service_->health().detail_json;
}

// Bus faults through the mock cluster's fault API: request errors, added latency, the broker
// going down and coming back. No loss, no duplicates, and the service recovers by itself.
TEST_F(IngestIntegrationTest, RecoversFromBusFaultsWithoutLossOrDuplication) {
  StartService();
  auto produce_range = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      ASSERT_TRUE(
          producer_
              ->Produce(bus::kClaimsTopic, -1, "A81001",
                        Claim("f-" + std::to_string(i), "A81001", 100 + i).SerializeAsString())
              .ok());
    }
  };
  produce_range(0, 300);
  ASSERT_TRUE(producer_->Flush(10000).ok());
  // Fetch and produce requests fail a few times; the clients retry.
  rd_kafka_mock_push_request_errors(
      cluster_->mock(), 1 /* Fetch */, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  rd_kafka_mock_push_request_errors(cluster_->mock(), 0 /* Produce */, 2,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  rd_kafka_mock_broker_set_rtt(cluster_->mock(), 1, 50);
  produce_range(300, 600);
  ASSERT_TRUE(producer_->Flush(20000).ok());
  // The broker goes down for a second, then comes back.
  rd_kafka_mock_broker_set_down(cluster_->mock(), 1);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  rd_kafka_mock_broker_set_up(cluster_->mock(), 1);
  rd_kafka_mock_broker_set_rtt(cluster_->mock(), 1, 0);
  produce_range(600, 900);
  ASSERT_TRUE(producer_->Flush(30000).ok());
  ASSERT_TRUE(WaitConsumed(900, 60)) << service_->stats().appended;
  StopService();
  ASSERT_TRUE(run_status_.ok()) << run_status_.ToString();
  EXPECT_EQ(*store_->TreeSize(), 900u);
  for (int i = 0; i < 900; ++i) {
    ASSERT_EQ(store_->FindByEventId("f-" + std::to_string(i))->size(), 1u) << i;
  }
  EXPECT_TRUE(store_->Verify().ok());
  auto log = ReadTopic(bus::kLogTopic, 900, 30);
  std::set<uint64_t> indexes;
  for (const auto& m : log) indexes.insert(logstore::keys::GetBe64(m.key));
  EXPECT_EQ(indexes.size(), 900u);
}

// SIGTERM while the bus confirms nothing and backpressure holds the appender: ingest still stops
// (promptly, not when the bus comes back), keeps what it appended, and a restart publishes it.
TEST_F(IngestIntegrationTest, StopsUnderBackpressureAndRepublishesAfterRestart) {
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(
        producer_
            ->Produce(bus::kClaimsTopic, -1, "A81001",
                      Claim("bp-" + std::to_string(i), "A81001", 100 + i).SerializeAsString())
            .ok());
  }
  ASSERT_TRUE(producer_->Flush(10000).ok());
  // From now on every produce request fails (retriably): nothing ingest publishes is confirmed.
  std::vector<rd_kafka_resp_err_t> errors(100000, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  rd_kafka_mock_push_request_errors_array(cluster_->mock(), 0 /* Produce */, errors.size(),
                                          errors.data());
  IngestOptions opts;
  opts.max_unconfirmed = 10;
  StartService(opts);
  ASSERT_TRUE(WaitConsumed(300, 60));
  EXPECT_LT(service_->stats().log_published, 300u);
  auto t0 = std::chrono::steady_clock::now();
  StopService();  // Drain waits at most 10 s for the bus, then reports what is outstanding
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  EXPECT_EQ(run_status_.code(), Code::kUnavailable) << run_status_.ToString();
  EXPECT_EQ(*store_->TreeSize(), 300u);
  EXPECT_LT(*store_->LogPublishedUpTo(), 300u);
  store_.reset();

  rd_kafka_mock_clear_request_errors(cluster_->mock(), 0 /* Produce */);
  StartService();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (service_->stats().log_published < 300 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(service_->stats().log_published, 300u);
  StopService();
  ASSERT_TRUE(run_status_.ok()) << run_status_.ToString();
  EXPECT_EQ(*store_->TreeSize(), 300u);
  std::set<uint64_t> indexes;
  for (const auto& m : ReadTopic(bus::kLogTopic, 300, 30)) {
    indexes.insert(logstore::keys::GetBe64(m.key));
  }
  EXPECT_EQ(indexes.size(), 300u);
  EXPECT_EQ(*indexes.rbegin(), 299u);
}

// Issue 10: a publication the bus refuses with an error retrying alone cannot fix must not stop
// ingest. The embedded bus answers the first produce requests with MESSAGE_TOO_LARGE; ingest names
// the record in /healthz, keeps running, retries, and once the bus takes it nothing is missing.
TEST_F(IngestIntegrationTest, APublicationRefusedForGoodIsRetriedWithoutStoppingIngest) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(
        producer_
            ->Produce(bus::kClaimsTopic, -1, "A81001",
                      Claim("refused-" + std::to_string(i), "A81001", 100 + i).SerializeAsString())
            .ok());
  }
  ASSERT_TRUE(producer_->Flush(10000).ok());
  // From now on the next produce requests (ingest's) are refused for good.
  std::vector<rd_kafka_resp_err_t> errors(3, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  rd_kafka_mock_push_request_errors_array(cluster_->mock(), 0 /* Produce */, errors.size(),
                                          errors.data());
  IngestOptions opts;
  opts.max_retry_seconds = 1;
  StartService(opts);
  bool saw_not_ready = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (service_->stats().log_published < 20 && std::chrono::steady_clock::now() < deadline) {
    metrics::Health h = service_->health();
    if (!h.ready && h.detail_json.find("MSG_SIZE_TOO_LARGE") != std::string::npos) {
      saw_not_ready = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(service_->stats().log_published, 20u);
  EXPECT_TRUE(saw_not_ready) << "the refusal never showed in /healthz";
  // Ready again once everything went through.
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!service_->health().ready && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(service_->health().ready) << service_->health().detail_json;
  StopService();
  ASSERT_TRUE(run_status_.ok()) << run_status_.ToString();
  std::set<uint64_t> indexes;
  for (const auto& m : ReadTopic(bus::kLogTopic, 20, 30)) {
    indexes.insert(logstore::keys::GetBe64(m.key));
  }
  EXPECT_EQ(indexes.size(), 20u);
}

// Issue 10, late followers: the embedded bus keeps about 5 MB of probity.log.v1, so a follower
// that starts late finds its first entries gone. It must say so (kOutOfRange naming the index),
// never skip, and catch up from a verified copy of the log: here the sequencer's store.
TEST_F(IngestIntegrationTest, ALateFollowerCatchesUpFromTheStoreWithoutSkipping) {
  constexpr int kClaims = 40000;  // about 14 MB on probity.log.v1: the oldest are deleted
  for (int i = 0; i < kClaims; ++i) {
    ASSERT_TRUE(
        producer_
            ->Produce(
                bus::kClaimsTopic, -1, "A81001",
                Claim("late-" + std::to_string(i), "A81001", 100 + i % 50).SerializeAsString())
            .ok());
  }
  ASSERT_TRUE(producer_->Flush(30000).ok());
  StartService();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (service_->stats().log_published < kClaims && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(service_->stats().log_published, static_cast<uint64_t>(kClaims));

  auto topic = follow::LogTopicSource::Create(cfg_);
  ASSERT_TRUE(topic.ok());
  std::vector<logstore::Entry> got;
  Status st;
  for (int i = 0; i < 200 && st.ok() && got.empty(); ++i) st = (*topic)->Read(0, 1000, &got);
  ASSERT_EQ(st.code(), Code::kOutOfRange) << st.ToString();
  EXPECT_NE(st.message().find("index 0 is no longer on probity.log.v1"), std::string::npos)
      << st.message();
  EXPECT_TRUE(got.empty());

  (*topic)->Reset();
  follow::CatchUpSource source(topic->get(), dir_.string());
  uint64_t next = 0;
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (next < kClaims && std::chrono::steady_clock::now() < deadline) {
    std::vector<logstore::Entry> batch;
    Status r = source.Read(next, 5000, &batch);
    ASSERT_TRUE(r.ok() || r.code() == Code::kUnavailable) << r.ToString();
    for (const auto& e : batch) {
      ASSERT_EQ(e.index, next);  // in order, none skipped, none repeated
      ++next;
    }
  }
  EXPECT_EQ(next, static_cast<uint64_t>(kClaims));
  EXPECT_GT(source.caught_up(), 0u);    // the gone ones came from the store
  EXPECT_LT(source.caught_up(), next);  // and the rest from the topic
}

}  // namespace
}  // namespace probity::ingest
