// End to end on the embedded bus, as `probity up` wires it: ingest (the sequencer), the rules
// runner and the payments target in one process, claims and decisions produced on the bus, every
// instruction coming back through ingest into the log.
//   - the chain claim -> flag -> hold -> decision -> withhold -> export (SHA-256 logged);
//   - approve; hold -> release; approved -> reverse; hold -> escalation flag (a rule over the
//     hold instructions in the log);
//   - the target killed at random moments and restarted: every instruction logged once, the
//     same set an uninterrupted run gives.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include "common/bus/kafka.h"
#include "common/bus/topics.h"
#include "common/logstore/store.h"
#include "common/note/note.h"
#include "services/ingest/ingest.h"
#include "services/payments/export.h"
#include "services/payments/payments.h"
#include "services/payments/target.h"
#include "services/rules/rule_set.h"
#include "services/rules/runner.h"
#include "tests/integration/ingest_stack.h"
#include "tests/services/payments/test_log.h"

namespace probity::payments::testing {
namespace {

namespace fs = std::filesystem;
using probity::testing::WaitFor;

constexpr char kRules[] = R"(name: payments-e2e
version: "1"
rules:
  - id: ios-duplicate
    version: 1
    kind: duplicate_item_of_service
    severity: warning
    description: The same item of service claimed twice for one patient in a year.
    params: {intervals: {LDHC: financial_year}}
  - id: hold-escalation
    version: 1
    kind: hold_escalation
    severity: critical
    description: A claim held with no decision on its flag for too long.
    params: {max_hold_days: 20}
)";

constexpr char kPolicy[] = R"(name: e2e-holds
version: "1"
approve_after_days: 10
payment_day: 1
cutoff_days: 5
paycodes: {ITEM_OF_SERVICE: IOS}
holds:
  - rule: ios-duplicate
    scope: claim
)";

v1::Envelope Ldhc(const std::string& id, const std::string& practice, const std::string& patient,
                  int64_t t) {
  v1::Envelope e = ClaimEnv(id, practice, 14000, t, v1::PAYMENT_STREAM_ITEM_OF_SERVICE, "ev-" + id);
  auto* c = e.mutable_claim();
  c->set_service_code("LDHC");
  c->set_patient_ref(patient);
  c->set_quantity(1);
  c->set_unit_price_pence(14000);
  return e;
}

class PaymentsEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(stack_.Start("probity_payments_e2e"));
    bus_ = std::make_unique<bus::KafkaBus>(stack_.cfg);
    rule_set_ = std::move(rules::LoadRuleSet(kRules)).value();
    auto p = LoadHoldPolicy(kPolicy, rule_set_);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    policy_ = std::move(p).value();
  }
  void TearDown() override {
    StopTargets();
    EXPECT_EQ(stack_.ingest->stats().dead_letters, 0u) << "every message the test sends is valid";
    stack_.Stop();
  }

  void Produce(std::string_view topic, const v1::Envelope& e) {
    ASSERT_TRUE(stack_.producer->Produce(topic, -1, e.practice_code(), e.SerializeAsString()).ok());
    ASSERT_TRUE(stack_.producer->Flush(10000).ok());
  }

  // Rules and payments as `probity up` runs them: threads following the store.
  void StartTargets() {
    rules_source_ = std::make_unique<follow::StoreSource>(stack_.store.get());
    rules_ = std::make_unique<rules::RulesRunner>(
        rules::RulesRunner::Options{.state_dir = (stack_.dir / "rules").string(),
                                    .save_every_ms = 100},
        rule_set_, rules_source_.get(), bus_.get(), &stack_.clock);
    ASSERT_TRUE(rules_->Start(1700000000000000).ok());
    pay_source_ = std::make_unique<follow::StoreSource>(stack_.store.get());
    pay_ = std::make_unique<PaymentsTarget>(
        PaymentsTarget::Options{.state_dir = (stack_.dir / "payments").string(),
                                .save_every_ms = 100},
        policy_, pay_source_.get(), bus_.get(), &stack_.clock, &stack_.registry);
    ASSERT_TRUE(pay_->Start().ok());
    stop_ = false;
    rules_thread_ = std::thread([this] { rules_status_ = rules_->Run(&stop_); });
    pay_thread_ = std::thread([this] { pay_status_ = pay_->Run(&stop_); });
  }
  void StopTargets() {
    stop_ = true;
    if (rules_thread_.joinable()) rules_thread_.join();
    if (pay_thread_.joinable()) pay_thread_.join();
    EXPECT_TRUE(rules_status_.ok()) << rules_status_.ToString();
    EXPECT_TRUE(pay_status_.ok()) << pay_status_.ToString();
  }

  std::vector<v1::Envelope> Logged(v1::EventKind kind) {
    std::vector<v1::Envelope> out;
    const uint64_t size = *stack_.store->TreeSize();  // the kind index may run ahead of the commit
    const std::vector<uint64_t> indices = *stack_.store->FindByKind(kind, 0, 10000000);
    for (uint64_t i : indices) {
      if (i >= size) break;
      v1::LogRecord rec;
      EXPECT_TRUE(rec.ParseFromString(stack_.store->Get(i)->record_bytes));
      auto env = follow::DecodeRecordEnvelope(rec);
      EXPECT_TRUE(env.ok());
      out.push_back(*env);
    }
    return out;
  }
  // The logged instructions on `claim_id`, in log order.
  std::vector<v1::PaymentAction> ActionsOn(const std::string& claim_id) {
    std::vector<v1::PaymentAction> out;
    for (const auto& e : Logged(v1::EVENT_KIND_PAYMENT_INSTRUCTION))
      if (e.payment_instruction().claim_id() == claim_id)
        out.push_back(e.payment_instruction().action());
    return out;
  }
  bool HasActions(const std::string& claim_id, std::vector<v1::PaymentAction> want) {
    return ActionsOn(claim_id) == want;
  }

  probity::testing::IngestStack stack_;
  rules::RuleSet rule_set_;
  HoldPolicy policy_;
  // Targets.
  std::atomic<bool> stop_{false};
  std::unique_ptr<bus::KafkaBus> bus_;
  std::unique_ptr<follow::StoreSource> rules_source_, pay_source_;
  std::unique_ptr<rules::RulesRunner> rules_;
  std::unique_ptr<PaymentsTarget> pay_;
  std::thread rules_thread_, pay_thread_;
  Status rules_status_, pay_status_;
};

using v1::PAYMENT_ACTION_APPROVE;
using v1::PAYMENT_ACTION_HOLD;
using v1::PAYMENT_ACTION_RELEASE;
using v1::PAYMENT_ACTION_REVERSE;
using v1::PAYMENT_ACTION_WITHHOLD;

TEST_F(PaymentsEndToEndTest, EveryPathAndTheWholeChainToAnExport) {
  StartTargets();
  const int64_t t = 1656633600;  // 2022-07-01
  Produce(bus::kPracticesTopic, TickEnv("reg-a", "A81001", t - kDay));
  Produce(bus::kPracticesTopic, TickEnv("reg-b", "B82002", t - kDay, "QOQ"));
  // A81001: ld-1, then ld-3 for the same patient in the same year (flagged by the rules).
  // B82002: bd-1, then bd-2 for the same patient (flagged; to be dismissed).
  Produce(bus::kClaimsTopic, Ldhc("ld-1", "A81001", "P1", t));
  Produce(bus::kClaimsTopic, Ldhc("bd-1", "B82002", "P7", t));
  Produce(bus::kClaimsTopic, Ldhc("ld-3", "A81001", "P1", t + 20 * kDay));
  Produce(bus::kClaimsTopic, Ldhc("bd-2", "B82002", "P7", t + 20 * kDay));
  // Approve: the first claims waited 10 days of log time with no flag.
  ASSERT_TRUE(WaitFor([&] { return HasActions("ld-1", {PAYMENT_ACTION_APPROVE}); }))
      << ActionsOn("ld-1").size();
  ASSERT_TRUE(WaitFor([&] { return HasActions("bd-1", {PAYMENT_ACTION_APPROVE}); }));
  // The duplicates: flagged by the rules, held by payments.
  ASSERT_TRUE(WaitFor([&] { return HasActions("ld-3", {PAYMENT_ACTION_HOLD}); }));
  ASSERT_TRUE(WaitFor([&] { return HasActions("bd-2", {PAYMENT_ACTION_HOLD}); }));
  auto flags = Logged(v1::EVENT_KIND_FLAG);
  ASSERT_EQ(flags.size(), 2u);
  std::string flag_a, flag_b;
  for (const auto& f : flags)
    (f.practice_code() == "A81001" ? flag_a : flag_b) = f.flag().flag_id();

  // Hold -> withhold (A), hold -> release (B): decisions come in on the decisions topic.
  v1::Envelope uphold = Base("dec-a", v1::EVENT_KIND_FLAG_DECISION, "A81001", t + 21 * kDay);
  uphold.mutable_flag_decision()->set_flag_id(flag_a);
  uphold.mutable_flag_decision()->set_outcome(v1::DECISION_OUTCOME_UPHOLD);
  uphold.mutable_flag_decision()->set_reason("patient P1 had one check this year");
  uphold.mutable_flag_decision()->set_decided_by("cm@qhm");
  Produce(bus::kDecisionsTopic, uphold);
  v1::Envelope dismiss = uphold;
  dismiss.set_event_id("dec-b");
  dismiss.set_practice_code("B82002");
  dismiss.mutable_flag_decision()->set_flag_id(flag_b);
  dismiss.mutable_flag_decision()->set_outcome(v1::DECISION_OUTCOME_DISMISS);
  Produce(bus::kDecisionsTopic, dismiss);
  ASSERT_TRUE(WaitFor([&] {
    return HasActions("ld-3", {PAYMENT_ACTION_HOLD, PAYMENT_ACTION_WITHHOLD});
  }));
  ASSERT_TRUE(WaitFor([&] {
    return HasActions("bd-2", {PAYMENT_ACTION_HOLD, PAYMENT_ACTION_RELEASE});
  }));

  // Approved -> reverse: a flag on the approved ld-1 (raised by a reviewer's rule run elsewhere,
  // sent on the flags topic), upheld.
  v1::Envelope late = FlagEnv("late-on-ld-1", "A81001", "ios-duplicate",
                              "duplicate_item_of_service", "ld-1", t + 22 * kDay);
  Produce(bus::kFlagsTopic, late);
  v1::Envelope uphold_late = uphold;
  uphold_late.set_event_id("dec-late");
  uphold_late.mutable_flag_decision()->set_flag_id(late.flag().flag_id());
  Produce(bus::kDecisionsTopic, uphold_late);
  ASSERT_TRUE(WaitFor([&] {
    return HasActions("ld-1", {PAYMENT_ACTION_APPROVE, PAYMENT_ACTION_REVERSE});
  }));

  // Hold -> escalation: a claim held and left undecided past 20 days of log time.
  Produce(bus::kClaimsTopic, Ldhc("ld-4", "A81001", "P1", t + 23 * kDay));
  ASSERT_TRUE(WaitFor([&] { return HasActions("ld-4", {PAYMENT_ACTION_HOLD}); }));
  Produce(bus::kPracticesTopic, TickEnv("reg-a2", "A81001", t + 50 * kDay));
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& f : Logged(v1::EVENT_KIND_FLAG))
      if (f.flag().rule_kind() == "hold_escalation" && f.flag().claim_id() == "ld-4") return true;
    return false;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(ActionsOn("ld-4"), std::vector{PAYMENT_ACTION_HOLD}) << "escalation holds nothing";

  // Every logged instruction is well formed and logged once.
  std::set<std::string> ids;
  for (const auto& e : Logged(v1::EVENT_KIND_PAYMENT_INSTRUCTION)) {
    const auto& i = e.payment_instruction();
    EXPECT_TRUE(ids.insert(i.instruction_id()).second) << i.instruction_id();
    EXPECT_EQ(i.policy_version(), "e2e-holds@1");
    EXPECT_EQ(i.paycode(), "IOS");
    EXPECT_FALSE(i.payment_date().empty());
    EXPECT_EQ(e.source_system(), "probity-payments");
  }
  EXPECT_EQ(Logged(v1::EVENT_KIND_HOLD_POLICY).size(), 1u);
  // Money at stake, as the api would read it (and as /metrics exports it).
  StopTargets();
  const MoneyAtStake m = pay_->follower().money();
  EXPECT_EQ(m.total.withheld, 14000);
  EXPECT_EQ(m.total.released, 14000);
  EXPECT_EQ(m.total.reversed, 14000);
  EXPECT_EQ(m.total.held, 14000);
  EXPECT_EQ(m.by_icb.at("QHM").withheld, 14000);
  EXPECT_EQ(m.by_practice.at("B82002").released, 14000);
  EXPECT_EQ(m.by_rule.at("ios-duplicate").held, 14000);

  // The export of the withhold's payment run, reproducible from the log, its hash logged.
  std::string run;
  for (const auto& e : Logged(v1::EVENT_KIND_PAYMENT_INSTRUCTION))
    if (e.payment_instruction().action() == PAYMENT_ACTION_WITHHOLD)
      run = e.payment_instruction().payment_date();
  ASSERT_FALSE(run.empty());
  const uint64_t size = *stack_.store->TreeSize();
  int64_t log_time = 0;
  auto ex = ExportFromLog(*stack_.store, run, "", size, &log_time);
  ASSERT_TRUE(ex.ok()) << ex.status().ToString();
  EXPECT_NE(ex->variation.content.find(",ld-3,"), std::string::npos);
  EXPECT_NE(ex->variation.content.find(",WITHHOLD,140.00,0.00,"), std::string::npos)
      << ex->variation.content;
  EXPECT_NE(ex->holds.content.find("PROBITY UPHELD"), std::string::npos) << ex->holds.content;
  for (const ExportFile* f : {&ex->variation, &ex->holds})
    Produce(bus::kPaymentInstructionsTopic, MakeExportEnvelope(*ex, *f, log_time));
  ASSERT_TRUE(WaitFor([&] { return Logged(v1::EVENT_KIND_PAYMENT_EXPORT).size() == 2; }));
  // Rebuilt later from the same prefix: the same bytes, the hash in the log.
  auto again = ExportFromLog(*stack_.store, run, "", size);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->variation.content, ex->variation.content);
  std::set<std::string> logged_hashes;
  for (const auto& e : Logged(v1::EVENT_KIND_PAYMENT_EXPORT)) {
    logged_hashes.insert(e.payment_export().sha256_hex());
    EXPECT_EQ(e.payment_export().covers_tree_size(), size);
  }
  EXPECT_TRUE(logged_hashes.count(again->variation.sha256_hex));
  EXPECT_TRUE(logged_hashes.count(again->holds.sha256_hex));
}

// The payments target killed at random (seeded) moments, with its state saved at random points
// or not at all, and restarted, while claims, flags and decisions stream in: every instruction an
// uninterrupted run gives is in the log exactly once, and nothing else is.
TEST_F(PaymentsEndToEndTest, KilledAtRandomMomentsNoInstructionLostOrRepeated) {
  const int64_t t = 1656633600;
  std::mt19937 rng(14);
  constexpr int kClaims = 600;
  {
    // The policy is logged first (payments applies the policy the log holds).
    follow::StoreSource source(stack_.store.get());
    PaymentsTarget target({.state_dir = (stack_.dir / "payments").string()}, policy_, &source,
                          bus_.get(), &stack_.clock, nullptr);
    ASSERT_TRUE(target.Start().ok());
    ASSERT_TRUE(WaitFor([&] { return Logged(v1::EVENT_KIND_HOLD_POLICY).size() == 1; }));
  }
  Produce(bus::kPracticesTopic, TickEnv("reg", "A81001", t - kDay));
  for (int i = 0; i < kClaims; ++i) {
    const std::string id = "k-" + std::to_string(i);
    v1::Envelope c = ClaimEnv(id, "A81001", 100 + i, t + i * 3600);
    ASSERT_TRUE(
        stack_.producer->Produce(bus::kClaimsTopic, 0, "A81001", c.SerializeAsString()).ok());
    if (i % 7 == 0) {
      v1::Envelope f = FlagEnv("kf-" + std::to_string(i), "A81001", "ios-duplicate",
                               "duplicate_item_of_service", id, t + i * 3600);
      ASSERT_TRUE(
          stack_.producer->Produce(bus::kFlagsTopic, 0, "A81001", f.SerializeAsString()).ok());
    }
    if (i % 7 == 3 && i >= 3) {
      v1::Envelope d = DecisionEnv(
          "kd-" + std::to_string(i), "kf-" + std::to_string(i - 3), "A81001",
          i % 2 ? v1::DECISION_OUTCOME_UPHOLD : v1::DECISION_OUTCOME_DISMISS, t + i * 3600);
      ASSERT_TRUE(
          stack_.producer->Produce(bus::kDecisionsTopic, 0, "A81001", d.SerializeAsString()).ok());
    }
  }
  ASSERT_TRUE(stack_.producer->Flush(10000).ok());
  ASSERT_TRUE(WaitFor([&] { return Logged(v1::EVENT_KIND_CLAIM).size() == kClaims; }))
      << "claims logged " << Logged(v1::EVENT_KIND_CLAIM).size() << ", tree size "
      << *stack_.store->TreeSize() << ", consumed " << stack_.ingest->stats().consumed
      << ", dead letters " << stack_.ingest->stats().dead_letters;

  uint64_t kills = 0, published_total = 0;
  for (int life = 0; life < 40; ++life) {
    follow::StoreSource source(stack_.store.get());
    PaymentsTarget target({.state_dir = (stack_.dir / "payments").string(),
                           .save_every_ms = 1000000,
                           .max_batch = 1 + rng() % 60},
                          policy_, &source, bus_.get(), &stack_.clock, nullptr);
    ASSERT_TRUE(target.Start().ok());
    const int rounds = static_cast<int>(rng() % 8);
    for (int r = 0; r < rounds; ++r) {
      ASSERT_TRUE(target.RunOnce().ok());
      if (rng() % 3 == 0) ASSERT_TRUE(target.Checkpoint().ok());
    }
    published_total += target.follower().stats().instructions;
    ++kills;  // the target goes away with whatever it did since its last save unsaved
  }
  // A last life runs to the end of the log and stays until its instructions are logged.
  {
    follow::StoreSource source(stack_.store.get());
    PaymentsTarget target({.state_dir = (stack_.dir / "payments").string()}, policy_, &source,
                          bus_.get(), &stack_.clock, nullptr);
    ASSERT_TRUE(target.Start().ok());
    uint64_t last_size = 0;
    for (int i = 0; i < 400; ++i) {
      ASSERT_TRUE(target.RunOnce().ok());
      ASSERT_TRUE(target.Checkpoint().ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      const uint64_t size = *stack_.store->TreeSize();
      if (size == last_size && target.next_index() == size && i > 20) break;
      last_size = size;
    }
    published_total += target.follower().stats().instructions;
  }
  // The reference: one uninterrupted follower over the final log.
  TestLog reference_log;
  std::vector<v1::Envelope> all;
  const uint64_t size = *stack_.store->TreeSize();
  std::set<std::string> want;
  {
    PaymentsFollower f({}, std::nullopt);
    ASSERT_TRUE(f.Restore().ok());
    FakePublisher out;
    for (uint64_t i = 0; i < size; ++i) {
      v1::LogRecord rec;
      ASSERT_TRUE(rec.ParseFromString(stack_.store->Get(i)->record_bytes));
      auto env = follow::DecodeRecordEnvelope(rec);
      ASSERT_TRUE(env.ok());
      const std::string leaf = stack_.store->Get(i)->record_bytes;
      follow::Event ev{
          .index = i, .leaf = leaf, .record = &rec, .envelope = &*env, .tree_size = i + 1};
      ASSERT_TRUE(f.Apply(ev, &out).ok());
    }
    for (const auto& i : Instructions(out.out)) want.insert(i.instruction_id());
  }
  std::set<std::string> got;
  for (const auto& e : Logged(v1::EVENT_KIND_PAYMENT_INSTRUCTION)) {
    EXPECT_TRUE(got.insert(e.payment_instruction().instruction_id()).second)
        << "logged twice: " << e.payment_instruction().instruction_id();
  }
  EXPECT_EQ(got, want);
  EXPECT_GT(want.size(), static_cast<size_t>(kClaims) / 2);
  // The restarts did republish: the receivers' dedupe by instruction id (ingest's exact
  // redelivery check) is what kept the log to one of each.
  EXPECT_GT(published_total, want.size());
  std::cout << "payments kill test: " << kills << " kills, " << want.size()
            << " instructions logged once each, " << published_total
            << " publications (repeats dropped by id: " << published_total - want.size() << ")\n";
}

}  // namespace
}  // namespace probity::payments::testing
