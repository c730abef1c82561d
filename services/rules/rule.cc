#include "services/rules/rule.h"

namespace probity::rules::internal {

std::unique_ptr<Rule> MakeRule(const RuleSpec& spec) {
  if (auto r = MakeClaimRule(spec)) return r;
  if (auto r = MakeRateRule(spec)) return r;
  return MakeTimerRule(spec);
}

}  // namespace probity::rules::internal
