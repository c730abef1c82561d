// The registry of anomaly kinds (anomaly.h) against the catalogue of rule kinds.
#include "services/generate/anomaly.h"

#include <gtest/gtest.h>

#include <set>

#include "services/generate/rule_kinds.h"
#include "services/rules/kinds.h"

namespace probity::generate::internal {
namespace {

TEST(AnomalyRegistry, EveryRuleKindHasAnAnomalyInCatalogueOrder) {
  const auto& kinds = AnomalyKinds();
  std::set<std::string_view> detected;
  std::set<std::string_view> names;
  size_t last = 0;
  for (const AnomalyKind* k : kinds) {
    ASSERT_NE(k, nullptr);
    const size_t index = rules::RuleKindIndex(k->rule_kind());
    EXPECT_LT(index, rules::kRuleKinds.size()) << "not a rule kind: " << k->rule_kind();
    EXPECT_GE(index, last) << k->name() << " is out of catalogue order";
    last = index;
    detected.insert(k->rule_kind());
    EXPECT_TRUE(names.insert(k->name()).second) << "two anomaly kinds named " << k->name();
  }
  for (std::string_view kind : kRuleKinds) {
    EXPECT_TRUE(detected.count(kind)) << "no anomaly injects " << kind;
  }
}

TEST(AnomalyRegistry, DefaultInjectionChangesNothing) {
  Injection none;
  EXPECT_EQ(none.ColumnTotal(0, 12345), 12345);
  std::array<double, 4> shares = {0.5, 0.3, 0.1, 0.1};
  double ooh = 0.02;
  none.AdjustContacts(&shares, &ooh);
  EXPECT_EQ(shares, (std::array<double, 4>{0.5, 0.3, 0.1, 0.1}));
  EXPECT_EQ(ooh, 0.02);
  Rng rng(1);
  Rng untouched(1);
  ClaimDraft draft;
  draft.claim_id = "CLM-1";
  int queued = 0;
  none.QueueClaim(rng, draft, [&](ClaimDraft d) {
    ++queued;
    EXPECT_EQ(d.claim_id, "CLM-1");
  });
  EXPECT_EQ(queued, 1);
  EXPECT_EQ(rng.Next(), untouched.Next());  // nothing drawn
}

}  // namespace
}  // namespace probity::generate::internal
