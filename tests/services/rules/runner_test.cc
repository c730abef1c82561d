// Integration: bus + ingest + the rules runner in one process, as `probity up` wires them. A
// duplicate item-of-service claim produced on the bus becomes a FLAG entry in the log; restarting
// the rules runner (state saved, or lost and replayed) never logs the same flag twice.
#include "services/rules/runner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/bus/kafka.h"
#include "common/bus/topics.h"
#include "common/logstore/store.h"
#include "common/note/note.h"
#include "services/cli/analysis_commands.h"
#include "services/ingest/ingest.h"
#include "services/rules/rule_set.h"
#include "tests/integration/ingest_stack.h"
#include "tests/integration/test_events.h"

namespace probity::rules {
namespace {

using cli::DefaultRulesFile;
using follow::DecodeRecordEnvelope;
using follow::StoreSource;
using testing::WaitFor;

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
    ASSERT_NO_FATAL_FAILURE(stack_.Start("probity_rules_it"));
    auto rs = rules::LoadRuleSetFile(DefaultRulesFile());
    ASSERT_TRUE(rs.ok()) << rs.status().ToString();
    rule_set_ = std::move(rs).value();
  }
  void TearDown() override { stack_.Stop(); }

  uint64_t CountKind(v1::EventKind kind) {
    return stack_.store->FindByKind(kind, 0, 1000000)->size();
  }

  // Runs a rules runner over the store until it has evaluated the whole log and its flags are
  // confirmed, then stops it (saving its state).
  void RunRulesToEnd(const std::string& state_dir) {
    bus::KafkaBus bus(stack_.cfg);
    StoreSource source(stack_.store.get());
    RulesRunner runner({.state_dir = state_dir, .save_every_ms = 50}, rule_set_, &source, &bus);
    ASSERT_TRUE(runner.Start(1700000000000000).ok());
    for (int i = 0; i < 200; ++i) {
      auto n = runner.RunOnce();
      ASSERT_TRUE(n.ok()) << n.status().ToString();
      if (*n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (*n == 0 && runner.stats().next_index == *stack_.store->TreeSize() && i > 50) break;
    }
    ASSERT_TRUE(runner.Checkpoint().ok());
  }

  testing::IngestStack stack_;
  rules::RuleSet rule_set_;
};

TEST_F(RulesIntegrationTest, DuplicateClaimBecomesOneLoggedFlagAcrossRestarts) {
  const int64_t t = 1656633600;  // 2022-07-01
  ASSERT_TRUE(
      stack_.producer
          ->Produce(bus::kClaimsTopic, 0, "A81001", Ldhc("ld-1", "P123", t).SerializeAsString())
          .ok());
  ASSERT_TRUE(stack_.producer
                  ->Produce(bus::kClaimsTopic, 0, "A81001",
                            Ldhc("ld-2", "P999", t + 86400).SerializeAsString())
                  .ok());
  ASSERT_TRUE(stack_.producer
                  ->Produce(bus::kClaimsTopic, 0, "A81001",
                            Ldhc("ld-3", "P123", t + 90 * 86400).SerializeAsString())
                  .ok());
  ASSERT_TRUE(stack_.producer->Flush(10000).ok());
  ASSERT_TRUE(WaitFor([&] { return *stack_.store->TreeSize() == 3; }));

  std::string state = (stack_.dir / "rules").string();
  RunRulesToEnd(state);
  ASSERT_TRUE(WaitFor([&] { return CountKind(v1::EVENT_KIND_FLAG) >= 1; }));
  EXPECT_EQ(CountKind(v1::EVENT_KIND_RULE_SET), 1u);
  auto flags = *stack_.store->FindByKind(v1::EVENT_KIND_FLAG, 0, 10);
  ASSERT_EQ(flags.size(), 1u);
  v1::LogRecord rec;
  ASSERT_TRUE(rec.ParseFromString(stack_.store->Get(flags[0])->record_bytes));
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
  EXPECT_EQ(stack_.store->FindByEventId(env->event_id())->size(), 1u);
  // The rule set is published at every start, byte for byte the same: logged once.
  EXPECT_EQ(CountKind(v1::EVENT_KIND_RULE_SET), 1u);
  EXPECT_EQ(stack_.store->FindByEventId("ruleset-" + rule_set_.sha256_hex)->size(), 1u);
  EXPECT_GE(stack_.ingest->stats().duplicates, 1u);
}

}  // namespace
}  // namespace probity::rules
