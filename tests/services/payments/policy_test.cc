// Hold policies: loading, the judging-delay check, and errors that name the line.
#include "services/payments/policy.h"

#include <gtest/gtest.h>

namespace probity::payments {
namespace {

rules::RuleSet DefaultRules() {
  auto rs = rules::LoadRuleSetFile(PROBITY_DEFAULT_RULES);
  EXPECT_TRUE(rs.ok()) << rs.status().ToString();
  return *rs;
}

std::string Error(const std::string& yaml) {
  auto p = LoadHoldPolicy(yaml, DefaultRules());
  EXPECT_FALSE(p.ok()) << yaml;
  return p.ok() ? "" : p.status().message();
}

constexpr char kHead[] = "name: t\nversion: \"1\"\napprove_after_days: 10\n";

TEST(HoldPolicyTest, DefaultPolicyLoadsAgainstTheDefaultRules) {
  auto p = LoadHoldPolicyFile(PROBITY_DEFAULT_POLICY, DefaultRules());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->label(), "probity-holds@2026.1");
  EXPECT_EQ(p->sha256_hex.size(), 64u);
  EXPECT_EQ(p->ScopeFor("ios-duplicate", "duplicate_item_of_service", v1::SEVERITY_WARNING),
            Scope::kClaim);
  EXPECT_EQ(p->ScopeFor("list-inflation", "list_inflation", v1::SEVERITY_WARNING),
            Scope::kPracticeStream);
  EXPECT_EQ(p->ScopeFor("referral-rate", "referral_rate_outlier", v1::SEVERITY_CRITICAL),
            Scope::kNone);
  EXPECT_EQ(p->Paycode(v1::PAYMENT_STREAM_GLOBAL_SUM), "GSUM");
}

TEST(HoldPolicyTest, RuleIdBeatsKindAndSeverityPicksTheScope) {
  auto p = LoadHoldPolicy(std::string(kHead) +
                              "holds:\n"
                              "  - kind: duplicate_item_of_service\n"
                              "    scope: none\n"
                              "  - rule: ios-duplicate\n"
                              "    scope: {warning: claim, critical: practice_stream}\n",
                          DefaultRules());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->ScopeFor("ios-duplicate", "duplicate_item_of_service", v1::SEVERITY_WARNING),
            Scope::kClaim);
  EXPECT_EQ(p->ScopeFor("ios-duplicate", "duplicate_item_of_service", v1::SEVERITY_CRITICAL),
            Scope::kPracticeStream);
  EXPECT_EQ(p->ScopeFor("ios-duplicate", "duplicate_item_of_service", v1::SEVERITY_INFO),
            Scope::kNone);
  EXPECT_EQ(p->ScopeFor("other", "duplicate_item_of_service", v1::SEVERITY_WARNING), Scope::kNone);
  EXPECT_EQ(p->Paycode(v1::PAYMENT_STREAM_PREMISES), "PREMISES");
}

TEST(HoldPolicyTest, PaymentDateIsTheNextRunAfterTheCutoff) {
  auto p = LoadHoldPolicy(std::string(kHead) + "payment_day: 15\ncutoff_days: 5\n", DefaultRules());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->PaymentDate(1680480000), "2023-04-15");              // 2023-04-03 + 5 = 04-08
  EXPECT_EQ(p->PaymentDate(1680480000 + 8 * 86400), "2023-05-15");  // 04-11 + 5 = 04-16
  EXPECT_EQ(p->PaymentDate(1703980800), "2024-01-15");              // 2023-12-31
}

TEST(HoldPolicyTest, AWaitShorterThanAHeldRulesJudgingDelayIsRefusedNamingBoth) {
  const std::string e = Error(std::string(kHead) +
                              "holds:\n"
                              "  - rule: ios-duplicate\n"
                              "    scope: claim\n"
                              "  - rule: payment-per-patient\n"
                              "    scope: practice_stream\n");
  EXPECT_NE(e.find("line 7"), std::string::npos) << e;
  EXPECT_NE(e.find("approve_after_days 10"), std::string::npos) << e;
  EXPECT_NE(e.find("payment-per-patient"), std::string::npos) << e;
  EXPECT_NE(e.find("62 days"), std::string::npos) << e;  // a month + lateness_days 31
  // Long enough: accepted. Alert only: accepted whatever the wait.
  EXPECT_TRUE(LoadHoldPolicy("name: t\nversion: \"1\"\napprove_after_days: 62\nholds:\n"
                             "  - rule: payment-per-patient\n    scope: practice_stream\n",
                             DefaultRules())
                  .ok());
  EXPECT_TRUE(LoadHoldPolicy(
                  std::string(kHead) + "holds:\n  - kind: claimed_value_shift\n    scope: none\n",
                  DefaultRules())
                  .ok());
  // By kind: every rule of the kind is checked.
  const std::string k =
      Error(std::string(kHead) + "holds:\n  - kind: referral_rate_outlier\n    scope: claim\n");
  EXPECT_NE(k.find("referral-rate"), std::string::npos) << k;
  EXPECT_NE(k.find("33 days"), std::string::npos) << k;
}

TEST(HoldPolicyTest, BadFilesNameTheLine) {
  struct Case {
    std::string yaml;
    std::string line, words;
  };
  const std::vector<Case> cases = {
      {"name: t\nversion: \"1\"\napprove_after_days: [1,\n", "line 4", "YAML error"},
      {"name: t\nversion: \"1\"\napprove_after_days: 10\nwait: 3\n", "line 4",
       "unknown key 'wait'"},
      {"name: t\nversion: \"1\"\napprove_after_days: soon\n", "line 3", "approve_after_days"},
      {"name: t\nversion: \"1\"\n", "line 1", "'approve_after_days' is required"},
      {"version: \"1\"\napprove_after_days: 3\n", "line 1", "'name' is required"},
      {std::string(kHead) + "payment_day: 31\n", "line 4", "payment_day"},
      {std::string(kHead) + "holds:\n  - rule: ios-duplicate\n    scope: hold\n", "line 6",
       "scope must be claim, practice_stream or none, got 'hold'"},
      {std::string(kHead) + "holds:\n  - rule: ios-duplicate\n    scope: {urgent: claim}\n",
       "line 6", "severity must be info, warning or critical"},
      {std::string(kHead) + "holds:\n  - rule: no-such-rule\n    scope: claim\n", "line 5",
       "rule 'no-such-rule' is not in rule set"},
      {std::string(kHead) + "holds:\n  - kind: no_such_kind\n    scope: claim\n", "line 5",
       "unknown rule kind"},
      {std::string(kHead) + "holds:\n  - kind: hold_escalation\n    scope: claim\n", "line 5",
       "they hold nothing"},
      {std::string(kHead) + "holds:\n  - rule: ios-duplicate\n    kind: list_inflation\n"
                            "    scope: claim\n",
       "line 5", "exactly one of 'rule' and 'kind'"},
      {std::string(kHead) + "holds:\n  - rule: ios-duplicate\n    scope: claim\n"
                            "    streams: [GLOBAL_SUMS]\n",
       "line 7", "unknown payment stream 'GLOBAL_SUMS'"},
      {std::string(kHead) + "holds:\n  - rule: ios-duplicate\n    scope: claim\n"
                            "  - rule: ios-duplicate\n    scope: none\n",
       "line 7", "named twice"},
      {std::string(kHead) + "paycodes: {GLOBAL: X}\n", "line 4", "unknown payment stream"},
      {"- just\n- a list\n", "line 1", "must be a mapping"},
  };
  for (const auto& c : cases) {
    const std::string e = Error(c.yaml);
    EXPECT_EQ(e.rfind("hold policy " + c.line + ":", 0), 0u) << c.yaml << "\n=> " << e;
    EXPECT_NE(e.find(c.words), std::string::npos) << c.yaml << "\n=> " << e;
  }
}

TEST(HoldPolicyTest, FileErrorsNameThePath) {
  auto p = LoadHoldPolicyFile("/nonexistent/policy.yaml", DefaultRules());
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("/nonexistent/policy.yaml"), std::string::npos);
}

TEST(HoldPolicyTest, EnvelopeCarriesTheExactBytes) {
  auto p = LoadHoldPolicy(std::string(kHead), DefaultRules());
  ASSERT_TRUE(p.ok());
  v1::Envelope env = MakeHoldPolicyEnvelope(*p, 1000000);
  EXPECT_EQ(env.event_id(), "holdpolicy-" + p->sha256_hex);
  EXPECT_EQ(env.hold_policy().yaml_content(), kHead);
  EXPECT_EQ(env.kind(), v1::EVENT_KIND_HOLD_POLICY);
}

}  // namespace
}  // namespace probity::payments
