// The registry of rule kinds (rule.h) against the catalogue (kinds.h).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "services/rules/kinds.h"
#include "services/rules/rule.h"
#include "services/rules/rule_set.h"
#include "tests/services/rules/test_util.h"

namespace probity::rules::testing {
namespace {

TEST(RuleRegistryTest, EveryCatalogueKindIsRegisteredExactlyOnce) {
  std::set<std::string_view> names;
  for (std::string_view kind : kRuleKinds) {
    EXPECT_TRUE(names.insert(kind).second) << "listed twice in kinds.h: " << kind;
    const internal::RuleKind* k = internal::FindRuleKind(kind);
    ASSERT_NE(k, nullptr) << "no RuleKind registered for " << kind;
    EXPECT_EQ(k->name, kind);
    EXPECT_NE(k->make, nullptr) << kind;
  }
  // Nothing registered outside the catalogue.
  EXPECT_EQ(internal::RegisteredRuleKindCount(), kRuleKinds.size());
  EXPECT_EQ(internal::FindRuleKind("no_such_kind"), nullptr);
}

TEST(RuleRegistryTest, RuleKindsIsTheCatalogueInOrder) {
  ASSERT_EQ(RuleKinds().size(), kRuleKinds.size());
  for (size_t i = 0; i < kRuleKinds.size(); ++i) EXPECT_EQ(RuleKinds()[i], kRuleKinds[i]);
}

TEST(RuleRegistryTest, EveryKindLoadsWithItsDefaultsAndBuildsItsRule) {
  for (std::string_view kind : kRuleKinds) {
    RuleSet rs = OneRule(std::string(kind));
    ASSERT_EQ(rs.rules.size(), 1u) << kind;
    const RuleSpec& spec = rs.rules[0];
    EXPECT_EQ(spec.params.size(), internal::FindRuleKind(kind)->params.size()) << kind;
    auto rule = internal::MakeRule(spec);
    ASSERT_NE(rule, nullptr) << kind;
    EXPECT_EQ(rule->spec().kind, kind);
  }
}

TEST(RuleRegistryTest, RuleOwnsACopyOfItsSpec) {
  auto rule = [] {
    RuleSet rs = OneRule(std::string(kListInflation), "{threshold_pct: 12}");
    return internal::MakeRule(rs.rules.at(0));
  }();  // the RuleSet is gone
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->spec().id, "r1");
  EXPECT_EQ(rule->spec().Number("threshold_pct"), 12);
}

}  // namespace
}  // namespace probity::rules::testing
