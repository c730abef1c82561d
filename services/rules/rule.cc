#include "services/rules/rule.h"

#include <map>

namespace probity::rules::internal {
namespace {

using Registry = std::map<std::string_view, RuleKind, std::less<>>;

const Registry& Kinds() {
  static const Registry* kinds = [] {
    auto* r = new Registry;
    for (auto list : {ClaimRuleKinds(), RateRuleKinds(), TimerRuleKinds()}) {
      for (auto& k : list) r->emplace(k.name, std::move(k));
    }
    return r;
  }();
  return *kinds;
}

const Registry& LedgerKinds() {
  static const Registry* kinds = [] {
    auto* r = new Registry;
    for (auto& k : LedgerRuleKinds()) r->emplace(k.name, std::move(k));
    return r;
  }();
  return *kinds;
}

}  // namespace

const RuleKind* FindRuleKind(std::string_view name) {
  for (const Registry* r : {&Kinds(), &LedgerKinds()}) {
    if (auto it = r->find(name); it != r->end()) return &it->second;
  }
  return nullptr;
}

size_t RegisteredRuleKindCount() { return Kinds().size(); }
size_t RegisteredLedgerRuleKindCount() { return LedgerKinds().size(); }

std::unique_ptr<Rule> MakeRule(const RuleSpec& spec) {
  const RuleKind* kind = FindRuleKind(spec.kind);
  return kind == nullptr ? nullptr : kind->make(spec);
}

}  // namespace probity::rules::internal
