// hold_escalation: a rule over the payments ledger raises a flag on a hold left undecided past
// its limit (in log time), once; a hold moved on in time raises nothing.
#include <gtest/gtest.h>

#include "services/payments/payments.h"
#include "services/rules/engine.h"
#include "services/rules/kinds.h"
#include "services/rules/rule.h"
#include "tests/services/payments/test_log.h"

namespace probity::payments::testing {
namespace {

constexpr char kRules[] = R"(name: esc
version: "1"
rules:
  - id: ios-duplicate
    version: 1
    kind: duplicate_item_of_service
    severity: warning
    description: Duplicate.
  - id: hold-escalation
    version: 1
    kind: hold_escalation
    severity: critical
    description: A claim held too long with no decision on its flag.
    params: {max_hold_days: 5}
)";

constexpr char kPolicy[] = R"(name: p
version: "1"
approve_after_days: 30
holds:
  - rule: ios-duplicate
    scope: claim
)";

std::vector<v1::Envelope> RunRules(const TestLog& log) {
  auto rs = rules::LoadRuleSet(kRules);
  EXPECT_TRUE(rs.ok()) << rs.status().ToString();
  auto engine = rules::Engine::Create(*rs);
  EXPECT_TRUE(engine.ok());
  std::vector<v1::Envelope> out;
  for (uint64_t i = 0; i < log.size(); ++i) {
    const auto& e = log.entries()[i];
    std::vector<v1::Envelope> flags;
    EXPECT_TRUE((*engine)->Process(rules::LogEvent{i, e.record, e.env}, &flags).ok());
    for (auto& f : flags)
      if (f.flag().rule_kind() == rules::kHoldEscalation) out.push_back(f);
  }
  return out;
}

// Payments over the log so far; its instructions appended as ingest would.
void RunPayments(TestLog* log) {
  auto rs = rules::LoadRuleSet(kRules);
  auto policy = LoadHoldPolicy(kPolicy, *rs);
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  log->Add(MakeHoldPolicyEnvelope(*policy, kT0 * 1000000));
}

TEST(HoldEscalationTest, RegisteredApartFromTheDetectionCatalogue) {
  EXPECT_NE(rules::internal::FindRuleKind(rules::kHoldEscalation), nullptr);
  EXPECT_EQ(rules::internal::RegisteredLedgerRuleKindCount(), rules::kLedgerRuleKinds.size());
  EXPECT_EQ(rules::RuleKindIndex(rules::kHoldEscalation), rules::kRuleKinds.size());
}

TEST(HoldEscalationTest, AHoldUndecidedPastItsLimitIsFlaggedOnce) {
  TestLog log;
  RunPayments(&log);
  log.Add(TickEnv("pu", "A81001", kT0));
  log.Add(ClaimEnv("C1", "A81001", 4200, kT0));
  log.Add(ClaimEnv("C2", "A81001", 100, kT0));
  log.Add(FlagEnv("f1", "A81001", "ios-duplicate", "duplicate_item_of_service", "C1", kT0));
  log.Add(FlagEnv("f2", "A81001", "ios-duplicate", "duplicate_item_of_service", "C2", kT0));
  PaymentsFollower f({}, std::nullopt);
  ASSERT_TRUE(f.Restore().ok());
  FakePublisher out;
  ASSERT_TRUE(log.Feed(&f, &out, 0, log.size()).ok());
  ASSERT_EQ(Instructions(out.out).size(), 2u);
  log.AddPublished(out.out);
  uint64_t fed = log.size();
  // C2's flag dismissed in time: released, never escalated.
  log.Add(DecisionEnv("d2", "f2", "A81001", v1::DECISION_OUTCOME_DISMISS, kT0 + kDay));
  log.Add(TickEnv("pu2", "A81001", kT0 + 3 * kDay));
  out.out.clear();
  ASSERT_TRUE(log.Feed(&f, &out, fed, log.size()).ok());
  ASSERT_EQ(Instructions(out.out).size(), 1u);
  EXPECT_EQ(Instructions(out.out)[0].action(), v1::PAYMENT_ACTION_RELEASE);
  log.AddPublished(out.out);
  const uint64_t fed2 = log.size();
  EXPECT_TRUE(RunRules(log).empty()) << "3 days held: within the 5-day limit";
  log.Add(TickEnv("pu3", "A81001", kT0 + 5 * kDay));
  EXPECT_TRUE(RunRules(log).empty()) << "exactly at the limit is not past it";
  log.Add(TickEnv("pu4", "A81001", kT0 + 6 * kDay));
  log.Add(TickEnv("pu5", "A81001", kT0 + 9 * kDay));
  auto flags = RunRules(log);
  ASSERT_EQ(flags.size(), 1u);
  const auto& fl = flags[0].flag();
  EXPECT_EQ(fl.claim_id(), "C1");
  EXPECT_EQ(fl.rule_id(), "hold-escalation");
  EXPECT_EQ(fl.severity(), v1::SEVERITY_CRITICAL);
  ASSERT_EQ(fl.evidence_size(), 1);
  EXPECT_EQ(log.entries()[fl.evidence(0).log_index()].env.payment_instruction().action(),
            v1::PAYMENT_ACTION_HOLD);
  EXPECT_NE(fl.summary().find("held since 2023-04-03"), std::string::npos) << fl.summary();
  // Payments neither holds nor releases on an escalation flag (C1 stays held, undecided).
  log.Add(flags[0]);
  out.out.clear();
  ASSERT_TRUE(log.Feed(&f, &out, fed2, log.size()).ok());
  EXPECT_TRUE(out.out.empty());
  EXPECT_EQ(f.money().total.held, 4200);
}

TEST(HoldEscalationTest, OpenHoldsSurviveASnapshot) {
  auto rs = rules::LoadRuleSet(kRules);
  ASSERT_TRUE(rs.ok());
  TestLog log;
  log.Add(TickEnv("pu", "A81001", kT0));
  v1::Envelope hold = Base("hold-1", v1::EVENT_KIND_PAYMENT_INSTRUCTION, "A81001", kT0);
  hold.mutable_payment_instruction()->set_claim_id("C1");
  hold.mutable_payment_instruction()->set_instruction_id("hold-1");
  hold.mutable_payment_instruction()->set_action(v1::PAYMENT_ACTION_HOLD);
  log.Add(hold);
  log.Add(TickEnv("pu2", "A81001", kT0 + 10 * kDay));
  auto a = rules::Engine::Create(*rs);
  std::vector<v1::Envelope> flags;
  for (uint64_t i = 0; i < 2; ++i)
    ASSERT_TRUE((*a)->Process({i, log.entries()[i].record, log.entries()[i].env}, &flags).ok());
  auto b = rules::Engine::Create(*rs);
  ASSERT_TRUE((*b)->Restore((*a)->Snapshot()).ok());
  ASSERT_TRUE((*b)->Process({2, log.entries()[2].record, log.entries()[2].env}, &flags).ok());
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].flag().rule_kind(), "hold_escalation");
}

}  // namespace
}  // namespace probity::payments::testing
