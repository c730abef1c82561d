// Integration: bus + ingest + the rules runner in one process, as `probity up` wires them. A
// duplicate item-of-service claim produced on the bus becomes a FLAG entry in the log; restarting
// the rules runner (state saved, or lost and replayed) never logs the same flag twice.
#include "services/rules/runner.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/bus/embedded_cluster.h"
#include "common/bus/kafka.h"
#include "common/bus/topics.h"
#include "common/logstore/store.h"
#include "common/note/note.h"
#include "services/cli/analysis_commands.h"
#include "services/ingest/ingest.h"
#include "services/rules/rule_set.h"
#include "tests/integration/test_events.h"

namespace probity::rules {
namespace {

using cli::DefaultRulesFile;
using follow::DecodeRecordEnvelope;
using follow::StoreSource;

namespace fs = std::filesystem;

v1::Envelope Ldhc(const std::string& id, const std::string& patient, int64_t occurred) {
  v1::Envelope e = testing::Claim(id, "A81001", 14000, occurred);
  auto* c = e.mutable_claim();
  c->set_stream(v1::PAYMENT_STREAM_ITEM_OF_SERVICE);
  c->set_service_code("LDHC");
  c->set_patient_ref(patient);
  c->set_unit_price_pence(14000);
  c->set_amount_pence(14000);
  c->set_status(v1::CLAIM_STATUS_PAID);
  return e;
}

class RulesIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("probity_rules_it_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    cluster_ = std::move(bus::EmbeddedCluster::Start({})).value();
    cfg_ = {cluster_->bootstrap_servers(), {}};
    auto kp = note::GenerateKey("probity.test/log");
    signer_.emplace(std::move(note::Signer::FromSignerKey(kp->signer_key)).value());
    auto store = logstore::LogStore::Open((dir_ / "log").string(), {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    ingest::IngestOptions o;
    o.checkpoint_origin = "probity.test/log";
    ingest_ = std::make_unique<ingest::IngestService>(o, cfg_, store_.get(), &clock_, &registry_,
                                                      &*signer_);
    ASSERT_TRUE(ingest_->Start().ok());
    ingest_thread_ = std::thread([this] { ingest_status_ = ingest_->Run(&ingest_stop_); });
    producer_ = std::move(bus::Producer::Create(cfg_)).value();
    auto rs = rules::LoadRuleSetFile(DefaultRulesFile());
    ASSERT_TRUE(rs.ok()) << rs.status().ToString();
    rule_set_ = std::move(rs).value();
  }
  void TearDown() override {
    ingest_stop_ = true;
    if (ingest_thread_.joinable()) ingest_thread_.join();
    EXPECT_TRUE(ingest_status_.ok()) << ingest_status_.ToString();
    ingest_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  uint64_t CountKind(v1::EventKind kind) { return store_->FindByKind(kind, 0, 1000000)->size(); }

  bool WaitFor(const std::function<bool()>& cond, int seconds = 30) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // Runs a rules runner over the store until it has evaluated the whole log and its flags are
  // confirmed, then stops it (saving its state).
  void RunRulesToEnd(const std::string& state_dir) {
    bus::KafkaBus bus(cfg_);
    StoreSource source(store_.get());
    RulesRunner runner({.state_dir = state_dir, .save_every_ms = 50}, rule_set_, &source, &bus);
    ASSERT_TRUE(runner.Start(1700000000000000).ok());
    for (int i = 0; i < 200; ++i) {
      auto n = runner.RunOnce();
      ASSERT_TRUE(n.ok()) << n.status().ToString();
      if (*n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (*n == 0 && runner.stats().next_index == *store_->TreeSize() && i > 50) break;
    }
    ASSERT_TRUE(runner.Checkpoint().ok());
  }

  fs::path dir_;
  std::unique_ptr<bus::EmbeddedCluster> cluster_;
  bus::ClientConfig cfg_;
  std::optional<note::Signer> signer_;
  SystemClock clock_;
  prometheus::Registry registry_;
  std::unique_ptr<logstore::LogStore> store_;
  std::unique_ptr<ingest::IngestService> ingest_;
  std::thread ingest_thread_;
  std::atomic<bool> ingest_stop_{false};
  Status ingest_status_;
  std::unique_ptr<bus::Producer> producer_;
  rules::RuleSet rule_set_;
};

TEST_F(RulesIntegrationTest, DuplicateClaimBecomesOneLoggedFlagAcrossRestarts) {
  const int64_t t = 1656633600;  // 2022-07-01
  ASSERT_TRUE(
      producer_
          ->Produce(bus::kClaimsTopic, 0, "A81001", Ldhc("ld-1", "P123", t).SerializeAsString())
          .ok());
  ASSERT_TRUE(producer_
                  ->Produce(bus::kClaimsTopic, 0, "A81001",
                            Ldhc("ld-2", "P999", t + 86400).SerializeAsString())
                  .ok());
  ASSERT_TRUE(producer_
                  ->Produce(bus::kClaimsTopic, 0, "A81001",
                            Ldhc("ld-3", "P123", t + 90 * 86400).SerializeAsString())
                  .ok());
  ASSERT_TRUE(producer_->Flush(10000).ok());
  ASSERT_TRUE(WaitFor([&] { return *store_->TreeSize() == 3; }));

  std::string state = (dir_ / "rules").string();
  RunRulesToEnd(state);
  ASSERT_TRUE(WaitFor([&] { return CountKind(v1::EVENT_KIND_FLAG) >= 1; }));
  EXPECT_EQ(CountKind(v1::EVENT_KIND_RULE_SET), 1u);
  auto flags = *store_->FindByKind(v1::EVENT_KIND_FLAG, 0, 10);
  ASSERT_EQ(flags.size(), 1u);
  v1::LogRecord rec;
  ASSERT_TRUE(rec.ParseFromString(store_->Get(flags[0])->record_bytes));
  auto env = DecodeRecordEnvelope(rec);
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->flag().rule_kind(), "duplicate_item_of_service");
  EXPECT_EQ(env->flag().rule_set_hash(), rule_set_.sha256_hex);
  ASSERT_GE(env->flag().evidence_size(), 2);

  // Restart with saved state: nothing new. Restart with the state lost: the rules replay the
  // whole log and raise the same flag again, byte for byte; ingest drops it as a redelivery.
  RunRulesToEnd(state);
  fs::remove_all(state + "/state");
  RunRulesToEnd(state);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(CountKind(v1::EVENT_KIND_FLAG), 1u);
  EXPECT_EQ(store_->FindByEventId(env->event_id())->size(), 1u);
  // The rule set is published at every start, byte for byte the same: logged once.
  EXPECT_EQ(CountKind(v1::EVENT_KIND_RULE_SET), 1u);
  EXPECT_EQ(store_->FindByEventId("ruleset-" + rule_set_.sha256_hex)->size(), 1u);
  EXPECT_GE(ingest_->stats().duplicates, 1u);
}

}  // namespace
}  // namespace probity::rules
