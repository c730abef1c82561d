// Internal to probity_rules: the extension point of the rules engine, one rule of the catalogue.
// docs/rules.md lists the catalogue; docs/architecture.md says where a new kind of rule goes.
//
// Life of a rule. The engine builds one Rule per RuleSpec of its rule set, in rule-set order,
// with the kind's factory (MakeRule). The Rule keeps its own copy of the RuleSpec (id, version,
// kind, severity, every parameter validated and defaulted by LoadRuleSet): nothing it was built
// from has to outlive it. The engine then calls the hooks below on one thread, in log order, and
// for each event in rule-set order.
//
// What a rule receives: the facts of the practice the event is about (Practice, owned by the
// engine, const), the decoded log entry (LogEvent), and an Env for the watermarks, every
// practice's facts, and Emit. All of these are borrowed for the duration of the call only.
//
// What a rule MUST NOT do:
//  - keep a pointer or reference to a Practice, LogEvent, Claim or the Env after the call
//    returns (FlagDraft::practice is handed to Env::Emit within the call, and copied there);
//  - read a clock, a random source, a file or any global: a flag is a pure function of (log
//    prefix, rule set), and time is event time, Env::watermark() and Env::visits_watermark();
//  - let the order of an unordered container, or of floating-point accumulation, reach a flag;
//  - keep per-practice state: facts live in Practice, which the engine alone updates and saves.
//    A rule's own state is at most global cursors (which month it evaluated last), saved by
//    EncodeGlobal and restored by DecodeGlobal, so that a restored engine continues exactly as an
//    uninterrupted one;
//  - throw (the engine turns an escaped std::exception into an Internal status and stops).
//
// Emitting: env.Emit(spec(), draft). The engine derives the flag id from (rule set, rule id,
// rule version, practice, window, draft.key) and drops a flag whose id was already emitted or is
// in the log, so a rule may judge the same condition again on every tick.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.h"
#include "probity/v1/events.pb.h"
#include "services/rules/facts.h"
#include "services/rules/kinds.h"
#include "services/rules/log_event.h"
#include "services/rules/rule_set.h"
#include "services/rules/state_codec.h"

namespace probity::rules::internal {

// What a rule hands to the engine when it judges a flag. The engine fills in the rest (id,
// severity, rule id and version, rule-set hash, judged-at tree size, time).
struct FlagDraft {
  const Practice* practice = nullptr;  // REQUIRES: non-null, one of env.practices()
  int64_t window_start = 0;            // event time, seconds
  int64_t window_end = 0;
  std::string key;  // rule-specific, makes the flag id unique within (rule, practice, window)
  double observed = 0, expected = 0, lower_limit = 0, upper_limit = 0;
  bool has_baseline = false;
  probity::v1::PeerBaseline baseline;
  // The whole peer comparison behind the flag (values, method, limits; no id or rule-set hash,
  // which the engine fills in), shared by every flag judged against it. When the engine logs
  // baselines (EngineOptions::log_baselines) it emits the entry once, before the first flag
  // naming it, and sets Flag.baseline_id. nullptr for rules without a peer comparison.
  std::shared_ptr<const probity::v1::Baseline> baseline_entry;
  std::vector<EventRef> evidence;  // log entries behind the flag, in the order to print them
  std::string summary;             // plain English for a contract manager
  std::string claim_id;
};

// The engine as a rule sees it during a hook.
class Env {
 public:
  virtual ~Env() = default;
  virtual int64_t watermark() const = 0;
  // The watermark of the visits feed alone (the lowest of its partitions'): what timers that
  // judge a missing visit compare with.
  virtual int64_t visits_watermark() const = 0;
  // The latest data_complete_until of any END_OF_DATA entry in the log (INT64_MIN / 4 when
  // none): no input with event time before it is still to come, so every window ending at or
  // before it can be judged now. visits_watermark() is never below it.
  virtual int64_t data_complete_until() const = 0;
  virtual const PracticeMap& practices() const = 0;
  // Emits unless a flag with the same id was already emitted or seen in the log. `spec` is
  // borrowed for the call; pass the calling rule's spec().
  virtual void Emit(const RuleSpec& spec, FlagDraft draft) = 0;
};

class Rule {
 public:
  explicit Rule(RuleSpec spec) : spec_(std::move(spec)) {}
  virtual ~Rule() = default;
  Rule(const Rule&) = delete;
  Rule& operator=(const Rule&) = delete;

  const RuleSpec& spec() const { return spec_; }

  // Before the claim is applied to the practice's facts (`prior` is the same claim id's record,
  // nullptr for a claim id not seen before).
  virtual void OnClaim(Env& env, const Practice& p, const LogEvent& ev, const probity::v1::Claim& c,
                       const ClaimRec* prior) {}
  // After the practice update is applied.
  virtual void OnPracticeUpdate(Env& env, const Practice& p, const LogEvent& ev) {}
  // After the visit is applied.
  virtual void OnVisit(Env& env, const Practice& p, const LogEvent& ev) {}
  // A payment instruction in the log (kinds over the payments ledger: kLedgerRuleKinds).
  virtual void OnPaymentInstruction(Env& env, const LogEvent& ev) {}
  // After an event of `kind` is applied: lets rules note the first day of data they measure.
  virtual void OnActivity(probity::v1::EventKind kind, int64_t day) {}
  // When the watermark (or the visits feed's) enters a new UTC day, after the event that moved
  // it was applied.
  virtual void OnTick(Env& env) {}
  // The rule's global cursors, and back. DecodeGlobal is called on a freshly made rule with
  // what EncodeGlobal wrote; false when it does not decode.
  virtual void EncodeGlobal(Encoder* e) const {}
  virtual bool DecodeGlobal(Decoder* d) { return true; }

 protected:
  const RuleSpec spec_;  // the rule's own copy
};

// ---- Registration: one RuleKind per kind of the catalogue (kinds.h) ----

enum class ParamType { kInt, kDouble, kBool, kString, kStringList, kStringMap };

// One parameter of a kind, as LoadRuleSet validates it.
struct ParamSchema {
  const char* name;
  ParamType type;
  const char* default_yaml;  // parsed with the same code as user input
  double min = 0;            // kInt, kDouble: inclusive range
  double max = 1e18;
  std::vector<std::string> choices = {};  // kString (and kStringList items) when non-empty
};

// A kind of rule: what LoadRuleSet validates a rule of this kind against and how the engine
// builds one. Registered once, in the file that implements the rule, by listing it in that
// file's *RuleKinds() below.
struct RuleKind {
  std::string_view name;            // one of kinds.h
  std::vector<ParamSchema> params;  // every parameter, in the order errors list them
  // Checks across parameters, after each passed its schema: InvalidArgument prefixed with
  // `where`, or Ok. nullptr when the kind has none.
  Status (*check)(const std::string& where, const RuleSpec& spec) = nullptr;
  // REQUIRES: spec.kind == name and spec passed LoadRuleSet.
  std::unique_ptr<Rule> (*make)(const RuleSpec& spec) = nullptr;
};

// RuleKind::make for a rule class constructible from a RuleSpec.
template <typename R>
std::unique_ptr<Rule> MakeRuleOf(const RuleSpec& spec) {
  return std::make_unique<R>(spec);
}

// The kinds each file implements (claim_rules.cc, rate_rules.cc, timer_rules.cc).
std::vector<RuleKind> ClaimRuleKinds();
std::vector<RuleKind> RateRuleKinds();
std::vector<RuleKind> TimerRuleKinds();
// The kinds over the payments ledger (hold_escalation_rule.cc), outside the detection catalogue.
std::vector<RuleKind> LedgerRuleKinds();

// The registered kind named `name`, or nullptr. Built once from the lists above; thread-safe.
const RuleKind* FindRuleKind(std::string_view name);
// How many kinds of the detection catalogue are registered (a test holds it to the catalogue's
// size); the ledger kinds (kLedgerRuleKinds) are registered apart and counted by
// RegisteredLedgerRuleKindCount().
size_t RegisteredRuleKindCount();
size_t RegisteredLedgerRuleKindCount();

// A new rule for `spec`, or nullptr when this build has no rule of spec.kind.
std::unique_ptr<Rule> MakeRule(const RuleSpec& spec);

}  // namespace probity::rules::internal
