#include "services/bundle/reevaluate.h"

#include <google/protobuf/util/message_differencer.h>

#include <cmath>
#include <memory>

#include "common/follow/entry_source.h"
#include "services/rules/engine.h"
#include "services/rules/kinds.h"
#include "services/rules/log_event.h"
#include "services/rules/rule_set.h"

namespace probity::bundle::internal {

StatusOr<DecodedEntry> DecodeEntry(uint64_t index, std::string_view leaf) {
  DecodedEntry d;
  d.index = index;
  if (!d.record.ParseFromString(std::string(leaf))) {
    return DataLoss("entry " + std::to_string(index) + ": leaf is not a LogRecord");
  }
  auto env = follow::DecodeRecordEnvelope(d.record);
  if (!env.ok()) {
    return DataLoss("entry " + std::to_string(index) + ": " + env.status().message());
  }
  d.envelope = std::move(env).value();
  return d;
}

v1::ReevaluationMethod MethodFor(std::string_view kind) {
  using rules::RuleKindIndex;
  switch (RuleKindIndex(kind)) {
    case RuleKindIndex(rules::kDuplicateItemOfService):
    case RuleKindIndex(rules::kClaimExceedsCohort):
    case RuleKindIndex(rules::kQofPointsOverMaximum):
    case RuleKindIndex(rules::kLateOrResubmittedClaim):
    case RuleKindIndex(rules::kListInflation):
      return v1::REEVALUATION_METHOD_REPLAY;
    case RuleKindIndex(rules::kPaymentPerPatientOutlier):
    case RuleKindIndex(rules::kReferralRateOutlier):
    case RuleKindIndex(rules::kContactRateOutlier):
    case RuleKindIndex(rules::kClaimedValueShift):
    case RuleKindIndex(rules::kMonitoringVisitOverdue):
    // Timers judge the absence of a visit by the visits feed's clock (the lowest of its
    // partitions' watermarks over the whole log prefix), which no bundle carries.
    case RuleKindIndex(rules::kRemedialDeadlineMissed):
      return v1::REEVALUATION_METHOD_LIMITS;
    default:
      return v1::REEVALUATION_METHOD_UNSPECIFIED;
  }
}

Status Replay(std::string_view rule_set_yaml, const v1::Flag& flag,
              const std::vector<const DecodedEntry*>& entries) {
  auto loaded = rules::LoadRuleSet(rule_set_yaml);
  if (!loaded.ok()) return InvalidArgument("rule set: " + loaded.status().message());
  rules::RuleSet rs = std::move(loaded).value();
  // Only the flag's rule runs: the flag id depends on the whole set's hash, not on its other
  // rules, and no other rule can change what this one raises.
  std::vector<rules::RuleSpec> only;
  for (auto& spec : rs.rules) {
    if (spec.id == flag.rule_id()) only.push_back(std::move(spec));
  }
  if (only.size() != 1 || only[0].version != flag.rule_version() ||
      only[0].kind != flag.rule_kind()) {
    return InvalidArgument("rule set " + rs.sha256_hex + " has no rule " + flag.rule_id() +
                           " version " + std::to_string(flag.rule_version()) + " of kind " +
                           flag.rule_kind());
  }
  rs.rules = std::move(only);
  PROBITY_ASSIGN_OR_RETURN(auto engine, rules::Engine::Create(std::move(rs)));
  std::vector<v1::Envelope> raised;
  for (const DecodedEntry* e : entries) {
    PROBITY_RETURN_IF_ERROR(
        engine->Process(rules::LogEvent{e->index, e->record, e->envelope}, &raised));
  }
  for (const auto& env : raised) {
    if (env.flag().flag_id() != flag.flag_id()) continue;
    std::string diff;
    google::protobuf::util::MessageDifferencer d;
    d.ReportDifferencesToString(&diff);
    if (d.Compare(flag, env.flag())) return Status::Ok();
    if (!diff.empty() && diff.back() == '\n') diff.pop_back();
    return DataLoss("re-evaluation raised flag " + flag.flag_id() +
                    " with other figures than the logged one: " + diff);
  }
  return DataLoss("re-evaluation: the evidence does not reproduce flag " + flag.flag_id() + " (" +
                  std::to_string(raised.size()) + " other flag(s) raised)");
}

Status CheckLimits(const v1::Flag& f, const v1::Baseline* b) {
  const std::string kind = f.rule_kind();
  auto finite = [](double v) { return std::isfinite(v); };
  if (!finite(f.observed()) || !finite(f.expected()) || !finite(f.lower_limit()) ||
      !finite(f.upper_limit())) {
    return DataLoss("flag figures are not finite numbers");
  }
  if (kind == rules::kClaimedValueShift) {
    // CUSUM: the month closed is itself above the usual level (z > k >= 0).
    if (!(f.observed() > f.expected())) {
      return DataLoss("claimed_value_shift: observed " + std::to_string(f.observed()) +
                      " is not above the expected " + std::to_string(f.expected()));
    }
  } else if (kind == rules::kMonitoringVisitOverdue || kind == rules::kRemedialDeadlineMissed) {
    // Months since the last visit, or days past the remedy's due date, above the limit.
    if (!(f.observed() > f.upper_limit())) {
      return DataLoss(kind + ": " + std::to_string(f.observed()) + " is not above the limit of " +
                      std::to_string(f.upper_limit()));
    }
  } else if (!(f.observed() > f.upper_limit() || f.observed() < f.lower_limit())) {
    return DataLoss(kind + ": observed " + std::to_string(f.observed()) + " lies within [" +
                    std::to_string(f.lower_limit()) + ", " + std::to_string(f.upper_limit()) + "]");
  }
  if (f.has_baseline() && f.baseline().peers() == 0) {
    return DataLoss("the flag's baseline names no peers");
  }
  if (b == nullptr) return Status::Ok();
  // The logged baseline the flag was judged against: the same rule, rule set, window and limits,
  // and the peer values it states.
  if (b->baseline_id() != f.baseline_id() || b->rule_id() != f.rule_id() ||
      b->rule_set_hash() != f.rule_set_hash()) {
    return DataLoss("baseline " + b->baseline_id() + " is not the one flag " + f.flag_id() +
                    " names");
  }
  if (b->lower_limit() != f.lower_limit() || b->upper_limit() != f.upper_limit()) {
    return DataLoss("the flag's limits are not its baseline's");
  }
  if (f.has_baseline() && static_cast<uint64_t>(b->values_size()) != f.baseline().peers()) {
    return DataLoss("the baseline holds " + std::to_string(b->values_size()) +
                    " values, the flag states " + std::to_string(f.baseline().peers()) + " peers");
  }
  return Status::Ok();
}

}  // namespace probity::bundle::internal
