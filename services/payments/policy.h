// Hold policies: which flags hold which claims, and how long a claim waits for the rules before
// it is approved. A YAML file (docs/payments.md, "The hold policy"), published into the log like a
// rule set (HoldPolicyPublished on probity.policies.v1); payments applies the policy it reads
// from the log, so instructions are a pure function of the log.
//
//   name: probity-holds
//   version: "2026.1"
//   approve_after_days: 35        # log-time wait after a claim before APPROVE
//   payment_day: 1                # payment runs fall on this day of each month (1-28)
//   cutoff_days: 5                # an instruction targets the first run at least this far ahead
//   paycodes: {GLOBAL_SUM: GSUM}  # the payment agency's paycode per stream (default: the name)
//   holds:
//     - rule: ios-duplicate       # a rule id of the rule set, or `kind: <catalogue kind>`
//       scope: claim              # claim | practice_stream | none, or per severity:
//     - kind: payment_per_patient_outlier
//       scope: {info: none, warning: practice_stream, critical: practice_stream}
//       streams: [GLOBAL_SUM]     # practice_stream: the streams held when the flag names no claim
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.h"
#include "probity/v1/events.pb.h"
#include "services/rules/rule_set.h"

namespace probity::payments {

// What a flag holds.
enum class Scope {
  kNone,            // alert only: the flag holds nothing
  kClaim,           // the claim the flag names (Flag.claim_id)
  kPracticeStream,  // every claim of the practice in the flag's streams while the flag is open
};
std::string_view ScopeName(Scope s);

struct HoldRule {
  std::string rule_id;  // exactly one of rule_id and kind is set
  std::string kind;
  std::array<Scope, 4> scope_by_severity{};  // indexed by probity.v1.Severity
  std::vector<int32_t> streams;              // PaymentStream values; empty: the flagged claim's
  int line = 0;                              // 1-based line in the policy file
};

struct HoldPolicy {
  std::string name;
  std::string version;
  std::string yaml_content;  // exactly the bytes loaded
  std::string sha256_hex;    // of yaml_content
  int64_t approve_after_days = 0;
  int payment_day = 1;
  int64_t cutoff_days = 0;
  std::map<int32_t, std::string> paycodes;  // PaymentStream -> paycode
  std::vector<HoldRule> holds;

  // "name@version", as instructions carry it.
  std::string label() const { return name + "@" + version; }
  // What a flag of (rule id, kind, severity) holds: the entry naming the rule id, else the entry
  // naming the kind, else kNone. `entry` (optional) receives the matching entry or nullptr.
  Scope ScopeFor(std::string_view rule_id, std::string_view kind, int32_t severity,
                 const HoldRule** entry = nullptr) const;
  std::string Paycode(int32_t stream) const;
  // The payment run (YYYY-MM-DD) an instruction made at log time `secs` targets: the first
  // `payment_day` of a month that is at least cutoff_days after `secs`.
  std::string PaymentDate(int64_t secs) const;
};

// How long after a claim's own time (occurred_at) a rule of this spec may still raise a flag that
// names or covers the claim, in days: 0 for rules judged when the claim (or register update)
// arrives; a month plus lateness_days for rules judged when a month closes. Holds on a rule are
// only meaningful when the approval wait covers this. -1 for a kind that never flags a payment
// (hold_escalation).
int64_t JudgingDelayDays(const rules::RuleSpec& spec);

// Parses and validates a policy against the rule set the rules target runs. InvalidArgument
// naming the line ("hold policy line 12: ...") for a YAML error, an unknown key, a missing or
// out-of-range value, an unknown rule id, kind, scope, severity or stream, or a hold on a rule
// whose judging delay exceeds approve_after_days (naming both). MUST NOT throw.
StatusOr<HoldPolicy> LoadHoldPolicy(std::string_view yaml_content, const rules::RuleSet& rules);
// Reads the file, then LoadHoldPolicy; errors are prefixed with the path.
StatusOr<HoldPolicy> LoadHoldPolicyFile(const std::string& path, const rules::RuleSet& rules);
// The same checks without the rule set (what payments does with a policy read from the log: the
// judging-delay check was made when it was published). Rule ids are not checked.
StatusOr<HoldPolicy> ParseHoldPolicy(std::string_view yaml_content);

// The envelope that sequences the policy into the log: kind HOLD_POLICY, event_id
// "holdpolicy-<sha256>", source_system "probity-payments", occurred_at = recorded_at =
// published_at_micros (supplied by the caller).
v1::Envelope MakeHoldPolicyEnvelope(const HoldPolicy& policy, int64_t published_at_micros);

}  // namespace probity::payments
