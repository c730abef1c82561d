// Unit tests of the ingest target on fake bus clients (fake_bus.h) and a real RocksDB store: the
// size budget, dead letters for oversized messages, publications the bus refuses, and health.
#include "services/ingest/ingest.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <filesystem>

#include "common/bus/limits.h"
#include "common/bus/topics.h"
#include "common/codec/codec.h"
#include "common/logstore/proofs.h"
#include "common/merkle/hasher.h"
#include "common/note/key_files.h"
#include "tests/integration/test_events.h"
#include "tests/services/ingest/fake_bus.h"

namespace probity::ingest {
namespace {

namespace fs = std::filesystem;
constexpr Micros kSecond = 1'000'000;
constexpr Micros kStart = 1'700'000'000LL * kSecond;  // 2023-11-14

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("probity_ingest_unit_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    store_ = std::move(logstore::LogStore::Open(dir_.string(), {})).value();
    auto kp = note::GenerateKey("probity.test/log");
    ASSERT_TRUE(kp.ok());
    signer_.emplace(std::move(note::Signer::FromSignerKey(kp->signer_key)).value());
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  Status Start(IngestOptions opts = {}) {
    opts.checkpoint_origin = "probity.test/log";
    service_ =
        std::make_unique<IngestService>(opts, &bus_, store_.get(), &clock_, &registry_, &*signer_);
    return service_->Start();
  }
  void Rounds(int n) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(service_->RunOnce().ok());
  }
  std::string ClaimBytes(const std::string& id) {
    return testing::Claim(id, "A81001", 100).SerializeAsString();
  }

  fs::path dir_;
  ManualClock clock_{kStart};
  prometheus::Registry registry_;
  bus::testing::FakeBus bus_;
  std::unique_ptr<logstore::LogStore> store_;
  std::optional<note::Signer> signer_;
  std::unique_ptr<IngestService> service_;
};

TEST_F(IngestTest, RefusesToStartWhenAnOutputTopicAllowsLessThanTheBudget) {
  bus_.report_limits = true;
  bus_.limits = {{"probity.log.v1", 2'000'000},
                 {"probity.deadletter.v1", 1'000'000},  // Kafka's default-ish
                 {"probity.checkpoints.v1", 2'000'000}};
  Status st = Start();
  ASSERT_EQ(st.code(), Code::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("topic probity.deadletter.v1 allows messages of at most 1000000"),
            std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("--add-config max.message.bytes=1179648"), std::string::npos);

  bus_.limits["probity.deadletter.v1"] = bus::kRequiredTopicMaxMessageBytes;
  EXPECT_TRUE(Start().ok());
}

TEST_F(IngestTest, AMissingOutputTopicIsAClearError) {
  bus_.report_limits = true;
  bus_.limits = {{"probity.log.v1", 2'000'000}};
  Status st = Start();
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_NE(st.message().find("probity.deadletter.v1"), std::string::npos) << st.message();
}

// The log's key is pinned at the first start; another key is refused unless the operator asks
// for a rotation, which keeps the old key among the log's keys (docs/operations.md).
TEST_F(IngestTest, AnotherSigningKeyIsRefusedUnlessTheRotationIsAskedFor) {
  ASSERT_TRUE(Start().ok());
  bus_.Add("probity.claims.v1", ClaimBytes("before-rotation"), "A81001");
  Rounds(2);
  ASSERT_TRUE(service_->Drain().ok());  // a checkpoint signed by the first key
  const std::string first = signer_->verifier_key();
  service_.reset();

  auto kp = note::GenerateKey("probity.test/log");
  ASSERT_TRUE(kp.ok());
  signer_.emplace(std::move(note::Signer::FromSignerKey(kp->signer_key)).value());
  Status st = Start();
  ASSERT_EQ(st.code(), Code::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("--rotate-log-key"), std::string::npos) << st.message();
  EXPECT_EQ(*store_->LogKeys(), std::vector<std::string>{first});

  IngestOptions rotate;
  rotate.rotate_log_key = true;
  ASSERT_TRUE(Start(rotate).ok());
  EXPECT_EQ(*store_->LogKeys(), (std::vector<std::string>{kp->verifier_key, first}));
  bus_.Add("probity.claims.v1", ClaimBytes("after-rotation"), "A81001");
  Rounds(2);
  ASSERT_TRUE(service_->Drain().ok());  // one signed by the new key
  service_.reset();

  // Every stored note verifies with the log's keys, not with the new key alone.
  auto keys = note::ParseLogKeys(*store_->LogKeys());
  ASSERT_TRUE(keys.ok());
  auto report = store_->Verify(nullptr, *keys);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->notes_checked, 2u);
  EXPECT_EQ(store_->Verify(nullptr, {keys->front()}).status().code(), Code::kDataLoss);
  auto latest = logstore::LatestVerifiedCheckpoint(*store_, *keys);
  ASSERT_TRUE(latest.ok() && *latest);
  EXPECT_EQ((*latest)->tree_size(), 2u);

  // A key for another log is refused even with the rotation asked for.
  auto other = note::GenerateKey("probity.other/log");
  signer_.emplace(std::move(note::Signer::FromSignerKey(other->signer_key)).value());
  st = Start(rotate);
  EXPECT_EQ(st.code(), Code::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("keeps the log's origin"), std::string::npos) << st.message();
}

TEST_F(IngestTest, RefusesAPolicyAboveTheBudget) {
  IngestOptions o;
  o.policy.max_message_bytes = bus::kMaxInputValueBytes + 1;
  Status st = Start(o);
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.ToString();
}

TEST_F(IngestTest, OversizedMessagesAreDeadLetteredWithTheirBytesStoredAndAReferencePublished) {
  ASSERT_TRUE(Start().ok());
  const std::string big(bus::kMaxInputValueBytes + 1, '\xff');
  const std::string at_limit(bus::kMaxInputValueBytes, ' ');  // within the limit, but not JSON
  const std::string big_key(bus::kMaxInputKeyAndHeadersBytes + 1, 'k');
  bus_.Add("probity.claims.v1", big, "key-1");
  bus_.Add("probity.claims.v1", at_limit, "key-2", {{"content-type", "application/json"}});
  bus_.Add("probity.claims.v1", ClaimBytes("ok-1"), big_key);
  bus_.Add("probity.claims.v1", ClaimBytes("ok-2"), "A81001");
  Rounds(3);
  EXPECT_EQ(*store_->TreeSize(), 1u);
  ASSERT_EQ(*store_->DeadLetterCount(), 3u);

  // The store keeps every original whole.
  v1::DeadLetter stored;
  ASSERT_TRUE(stored.ParseFromString(*store_->GetDeadLetter(0)));
  EXPECT_EQ(stored.reason_code(), "MESSAGE_TOO_LARGE");
  EXPECT_EQ(stored.original_value(), big);
  EXPECT_EQ(stored.original_size(), big.size() + 5);
  EXPECT_EQ(stored.original_value_sha256(), merkle::AsBytes(merkle::Sha256(big)));
  EXPECT_FALSE(stored.original_omitted());

  auto published = bus_.Delivered(bus::kDeadLetterTopic);
  ASSERT_EQ(published.size(), 3u);
  for (const auto& p : published) EXPECT_LE(p.value.size(), bus::kMaxRecordBytes);
  // 0: too large: a reference.
  v1::DeadLetter d0;
  ASSERT_TRUE(d0.ParseFromString(published[0].value));
  EXPECT_TRUE(d0.original_omitted());
  EXPECT_TRUE(d0.original_value().empty());
  EXPECT_EQ(d0.original_size(), stored.original_size());
  EXPECT_EQ(d0.original_value_sha256(), stored.original_value_sha256());
  EXPECT_EQ(d0.sequence(), 0u);
  // 1: malformed JSON of exactly the value limit: published whole.
  v1::DeadLetter d1;
  ASSERT_TRUE(d1.ParseFromString(published[1].value));
  EXPECT_EQ(d1.reason_code(), "MALFORMED_JSON");
  EXPECT_FALSE(d1.original_omitted());
  EXPECT_EQ(d1.original_value(), at_limit);
  EXPECT_EQ(d1.sequence(), 1u);
  // 2: key too large.
  v1::DeadLetter d2;
  ASSERT_TRUE(d2.ParseFromString(published[2].value));
  EXPECT_EQ(d2.reason_code(), "MESSAGE_TOO_LARGE");
  EXPECT_NE(d2.message().find("key and headers are 16385 bytes, over the limit of 16384"),
            std::string::npos)
      << d2.message();
  EXPECT_TRUE(d2.original_omitted());
  EXPECT_EQ(*store_->DeadLettersPublishedUpTo(), 3u);
}

TEST_F(IngestTest, ARefusedPublicationIsNamedInHealthRetriedAndNothingIsLost) {
  bool refuse = true;
  bus_.judge = [&](const bus::testing::Produced& p) -> Status {
    if (refuse && p.topic == bus::kDeadLetterTopic) {
      return FailedPrecondition(
          "delivery to probity.deadletter.v1 failed: Broker: Message size "
          "too large (MSG_SIZE_TOO_LARGE)");
    }
    return Status::Ok();
  };
  IngestOptions o;
  o.stall_seconds = 60;
  ASSERT_TRUE(Start(o).ok());
  bus_.Add("probity.claims.v1", ClaimBytes("a"));
  bus_.Add("probity.claims.v1", "not a protobuf \x01\x02");
  bus_.Add("probity.claims.v1", "also bad");
  bus_.Add("probity.claims.v1", ClaimBytes("b"));
  Rounds(2);
  EXPECT_EQ(*store_->TreeSize(), 2u);
  EXPECT_EQ(*store_->DeadLetterCount(), 2u);
  EXPECT_EQ(service_->stats().log_published, 2u);  // the log is not held up by dead letters

  metrics::Health h = service_->health();
  EXPECT_FALSE(h.ready);
  EXPECT_TRUE(h.live);
  EXPECT_NE(h.detail_json.find("\"topic\":\"probity.deadletter.v1\",\"sequence\":\"0\""),
            std::string::npos)
      << h.detail_json;
  EXPECT_NE(h.detail_json.find("MSG_SIZE_TOO_LARGE"), std::string::npos);
  EXPECT_NE(h.detail_json.find("\"permanent\":true"), std::string::npos);

  // Retries keep failing while the cause stays; the service keeps running.
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(70 * kSecond);
    Rounds(1);
  }
  EXPECT_EQ(*store_->DeadLettersPublishedUpTo(), 0u);
  EXPECT_FALSE(service_->health().ready);

  // The operator fixes the cause: the next retry goes through, in order, and health recovers.
  refuse = false;
  clock_.Advance(70 * kSecond);
  Rounds(2);
  EXPECT_EQ(*store_->DeadLettersPublishedUpTo(), 2u);
  auto dl = bus_.Delivered(bus::kDeadLetterTopic);
  ASSERT_EQ(dl.size(), 2u);
  EXPECT_EQ(dl[0].headers[0].second, "0");
  EXPECT_EQ(dl[1].headers[0].second, "1");
  h = service_->health();
  EXPECT_TRUE(h.ready) << h.detail_json;
  EXPECT_NE(h.detail_json.find("\"stuck\":[]"), std::string::npos) << h.detail_json;
}

TEST_F(IngestTest, ARefusedLogEntryHoldsBackLaterOnesAndIsRepublishedAfterARestart) {
  int refusals = 0;
  bus_.judge = [&](const bus::testing::Produced& p) -> Status {
    if (p.topic == bus::kLogTopic && refusals < 1000) {
      ++refusals;
      return FailedPrecondition("TOPIC_AUTHORIZATION_FAILED");
    }
    return Status::Ok();
  };
  ASSERT_TRUE(Start().ok());
  for (int i = 0; i < 5; ++i) bus_.Add("probity.claims.v1", ClaimBytes("e" + std::to_string(i)));
  Rounds(2);
  EXPECT_EQ(*store_->TreeSize(), 5u);
  EXPECT_EQ(service_->stats().log_published, 0u);
  EXPECT_FALSE(service_->health().ready);
  ASSERT_TRUE(service_->Drain().code() == Code::kOk);
  service_.reset();
  EXPECT_EQ(*store_->LogPublishedUpTo(), 0u);

  refusals = 1000;  // fixed while it was down
  bus_.delivered.clear();
  ASSERT_TRUE(Start().ok());
  Rounds(1);
  EXPECT_EQ(*store_->LogPublishedUpTo(), 5u);
  auto log = bus_.Delivered(bus::kLogTopic);
  ASSERT_EQ(log.size(), 5u);
  for (uint64_t i = 0; i < 5; ++i) {
    v1::SequencedEntry e;
    ASSERT_TRUE(e.ParseFromString(log[i].value));
    EXPECT_EQ(e.index(), i);
  }
}

TEST_F(IngestTest, QuietWithNoWorkPendingStaysReady) {
  ASSERT_TRUE(Start().ok());
  bus_.Add("probity.claims.v1", ClaimBytes("q"));
  Rounds(2);
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(3600 * kSecond);
    Rounds(1);
  }
  metrics::Health h = service_->health();
  EXPECT_TRUE(h.ready) << h.detail_json;
  EXPECT_NE(h.detail_json.find("\"work_pending\":false"), std::string::npos) << h.detail_json;
}

TEST(PublishedDeadLetter, KeepsSmallOriginalsAndReferencesLargeOnes) {
  v1::DeadLetter d;
  d.set_original_value("abc");
  d.set_original_key("k");
  d.set_reason_code("INVALID_ODS_CODE");
  EXPECT_EQ(PublishedDeadLetter(d, 4).original_value(), "abc");
  EXPECT_EQ(PublishedDeadLetter(d, 4).sequence(), 4u);
  d.set_reason_code("MESSAGE_TOO_LARGE");
  v1::DeadLetter p = PublishedDeadLetter(d, 4);
  EXPECT_TRUE(p.original_value().empty());
  EXPECT_TRUE(p.original_key().empty());
  EXPECT_TRUE(p.original_omitted());
}

}  // namespace
}  // namespace probity::ingest
