#include "services/rules/rule_set.h"

#include <gtest/gtest.h>

#include "services/rules/kinds.h"
#include "tests/services/rules/test_util.h"

namespace probity::rules::testing {
namespace {

const char kHeader[] =
    "name: t\nversion: \"1\"\nrules:\n  - id: a\n    version: 1\n    severity: warning\n"
    "    description: d\n";

TEST(RuleSetTest, DefaultRuleSetLoadsWithEveryKind) {
  auto rs = LoadRuleSetFile(PROBITY_DEFAULT_RULES);
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  std::vector<std::string> kinds;
  for (const auto& r : rs->rules) kinds.push_back(r.kind);
  // The catalogue in its order, then the ledger's rules (hold_escalation).
  std::vector<std::string> want = RuleKinds();
  want.insert(want.end(), kLedgerRuleKinds.begin(), kLedgerRuleKinds.end());
  EXPECT_EQ(kinds, want);
  EXPECT_EQ(rs->sha256_hex.size(), 64u);
  EXPECT_EQ(rs->rules[0].Map("intervals").at("LDHC"), "financial_year");
}

TEST(RuleSetTest, DefaultsFilledIn) {
  auto rs = LoadRuleSet(std::string(kHeader) + "    kind: late_or_resubmitted_claim\n");
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  EXPECT_EQ(rs->rules[0].Number("late_days"), 90);
  EXPECT_TRUE(rs->rules[0].Bool("flag_paid_reclaim"));
}

TEST(RuleSetTest, ClearErrors) {
  struct Case {
    std::string yaml;
    std::string expect;
  } cases[] = {
      {std::string(kHeader) + "    kind: no_such_kind\n", "unknown kind 'no_such_kind'"},
      {std::string(kHeader) + "    kind: list_inflation\n    params: {threshold: 5}\n",
       "unknown parameter 'threshold'"},
      {std::string(kHeader) + "    kind: list_inflation\n    params: {threshold_pct: -5}\n",
       "params.threshold_pct"},
      {std::string(kHeader) + "    kind: list_inflation\n    params: {window_days: 1.5}\n",
       "whole number"},
      {std::string(kHeader) +
           "    kind: referral_rate_outlier\n    params: {overdispersion: magic}\n",
       "must be one of"},
      {std::string(kHeader) +
           "    kind: payment_per_patient_outlier\n    params: {streams: [GOLD]}\n",
       "unknown item 'GOLD'"},
      {std::string(kHeader) +
           "    kind: duplicate_item_of_service\n    params: {intervals: {LDHC: weekly}}\n",
       "financial_year"},
      {std::string(kHeader) + "    kind: referral_rate_outlier\n    params: {warning_z: 4}\n",
       "warning_z"},
      {"name: t\nversion: 1\nrules: [{id: a, version: 0, kind: list_inflation, severity: warning, "
       "description: d}]\n",
       "'version' must be a positive integer"},
      {"name: t\nversion: 1\nrules: [{id: a, version: 1, kind: list_inflation, severity: loud, "
       "description: d}]\n",
       "severity"},
      {"name: t\nversion: 1\nrules: [{id: a, version: 1, kind: list_inflation, severity: info, "
       "description: d},"
       " {id: a, version: 1, kind: list_inflation, severity: info, description: d}]\n",
       "duplicate rule id"},
      {"name: t\nversion: 1\nrules: [{id: a, version: 1, kind: list_inflation, severity: info}]\n",
       "description"},
      {"name: [unclosed\n", "YAML error"},
      {"just a string", "top level"},
      {"name: t\nversion: 1\nrules: []\n", "non-empty"},
  };
  for (const auto& c : cases) {
    auto rs = LoadRuleSet(c.yaml);
    ASSERT_FALSE(rs.ok()) << c.yaml;
    EXPECT_EQ(rs.status().code(), Code::kInvalidArgument);
    EXPECT_NE(rs.status().message().find(c.expect), std::string::npos) << rs.status().message();
  }
}

TEST(RuleSetTest, MissingFileIsIoError) {
  auto rs = LoadRuleSetFile("/nonexistent/rules.yaml");
  EXPECT_EQ(rs.status().code(), Code::kIoError);
}

TEST(RuleSetTest, PublishedEnvelopeCarriesContentAndHash) {
  auto rs = LoadRuleSetFile(PROBITY_DEFAULT_RULES);
  ASSERT_TRUE(rs.ok());
  auto env = MakeRuleSetEnvelope(*rs, 1'700'000'000'123'456);
  EXPECT_EQ(env.kind(), v1::EVENT_KIND_RULE_SET);
  EXPECT_EQ(env.rule_set().sha256_hex(), Sha256Hex(env.rule_set().yaml_content()));
  EXPECT_EQ(env.rule_set().yaml_content(), rs->yaml_content);
  EXPECT_EQ(env.event_id(), "ruleset-" + rs->sha256_hex);
  EXPECT_EQ(env.occurred_at().seconds(), 1'700'000'000);
  EXPECT_EQ(env.occurred_at().nanos(), 123'456'000);
  EXPECT_EQ(env.source_system(), "probity-rules");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace probity::rules::testing
