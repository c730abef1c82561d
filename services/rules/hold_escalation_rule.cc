// hold_escalation: a rule over the payments ledger. A claim held by payments (a HOLD instruction
// in the log) that no later instruction has moved on (release, withhold, reverse) for more than
// max_hold_days of log time is flagged, once per hold, so that a contract manager decides it: a
// hold never releases itself (docs/payments.md, "Escalation").
//
// Unlike the detection catalogue's rules, this one keeps state of its own: the open holds (claim
// id -> the HOLD instruction), saved with its global cursors by EncodeGlobal, in claim-id order.
#include <map>

#include "services/rules/rule.h"
#include "services/rules/rule_util.h"

namespace probity::rules::internal {
namespace {

class HoldEscalation final : public Rule {
 public:
  using Rule::Rule;

  void OnPaymentInstruction(Env& env, const LogEvent& ev) override {
    const auto& pi = ev.envelope.payment_instruction();
    if (pi.action() != probity::v1::PAYMENT_ACTION_HOLD) {
      open_.erase(pi.claim_id());
      return;
    }
    Hold& h = open_[pi.claim_id()];
    h.practice = ev.envelope.practice_code();
    h.since = ev.envelope.occurred_at().seconds();
    h.amount_pence = pi.amount_pence();
    h.ref = EventRef{ev.index, ev.envelope.event_id()};
    h.flag_id = pi.flag_id();
  }

  void OnTick(Env& env) override {
    const int64_t days = static_cast<int64_t>(spec_.Number("max_hold_days"));
    for (const auto& [claim_id, h] : open_) {
      const int64_t limit = h.since + days * kSecondsPerDay;
      if (env.watermark() <= limit) continue;
      auto p = env.practices().find(h.practice);
      if (p == env.practices().end()) continue;
      FlagDraft d;
      d.practice = &p->second;
      d.window_start = h.since;
      d.window_end = limit;
      d.key = "hold:" + h.ref.event_id;
      d.observed = static_cast<double>(env.watermark() - h.since) / kSecondsPerDay;
      d.upper_limit = static_cast<double>(days);
      d.evidence = {h.ref};
      d.claim_id = claim_id;
      d.summary = "Claim " + claim_id + " of practice " + h.practice + " (" +
                  FormatPounds(static_cast<double>(h.amount_pence)) + ") has been held since " +
                  FormatDate(h.since) + " with no decision on the flag holding it; the limit is " +
                  std::to_string(days) + " days.";
      env.Emit(spec_, std::move(d));
    }
  }

  void EncodeGlobal(Encoder* e) const override {
    e->U64(open_.size());
    for (const auto& [claim_id, h] : open_) {
      e->Str(claim_id);
      e->Str(h.practice);
      e->I64(h.since);
      e->I64(h.amount_pence);
      e->U64(h.ref.index);
      e->Str(h.ref.event_id);
      e->Str(h.flag_id);
    }
  }
  bool DecodeGlobal(Decoder* d) override {
    uint64_t n = 0;
    if (!d->Count(&n)) return false;
    for (uint64_t i = 0; i < n; ++i) {
      std::string claim_id;
      Hold h;
      if (!(d->Str(&claim_id) && d->Str(&h.practice) && d->I64(&h.since) &&
            d->I64(&h.amount_pence) && d->U64(&h.ref.index) && d->Str(&h.ref.event_id) &&
            d->Str(&h.flag_id)))
        return false;
      open_[claim_id] = std::move(h);
    }
    return true;
  }

 private:
  struct Hold {
    std::string practice;
    int64_t since = 0;  // the HOLD instruction's log time, seconds
    int64_t amount_pence = 0;
    EventRef ref;  // the HOLD instruction
    std::string flag_id;
  };
  std::map<std::string, Hold> open_;
};

}  // namespace

std::vector<RuleKind> LedgerRuleKinds() {
  return {
      {kHoldEscalation,
       {{"max_hold_days", ParamType::kInt, "28", 1, 3650}},
       nullptr,
       MakeRuleOf<HoldEscalation>},
  };
}

}  // namespace probity::rules::internal
