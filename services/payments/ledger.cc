#include "services/payments/ledger.h"

#include "common/follow/entry_source.h"

namespace probity::payments {
namespace {

StatusOr<v1::Envelope> Decode(const logstore::LogReader& log, uint64_t index) {
  PROBITY_ASSIGN_OR_RETURN(logstore::Entry e, log.Get(index));
  v1::LogRecord record;
  if (!record.ParseFromString(e.record_bytes)) {
    return DataLoss("entry " + std::to_string(index) + " does not parse as a LogRecord");
  }
  return follow::DecodeRecordEnvelope(record);
}

}  // namespace

Status InstructionLedger::CatchUp(const logstore::LogReader& log, uint64_t size) {
  while (next_ < size) {
    PROBITY_ASSIGN_OR_RETURN(std::vector<uint64_t> page,
                             log.FindByKind(v1::EVENT_KIND_PAYMENT_INSTRUCTION, next_, 100000));
    for (uint64_t index : page) {
      if (index >= size) break;
      PROBITY_ASSIGN_OR_RETURN(v1::Envelope env, Decode(log, index));
      const v1::PaymentInstruction& pi = env.payment_instruction();
      Claim& c = claims_[pi.claim_id()];
      c.practice = env.practice_code();
      c.icb = pi.icb_code();
      c.action = pi.action();
      c.amount = pi.amount_pence();
      c.rule.clear();
      if (!pi.flag_id().empty()) {
        auto it = rule_of_flag_.find(pi.flag_id());
        if (it == rule_of_flag_.end()) {
          PROBITY_ASSIGN_OR_RETURN(v1::Envelope flag, Decode(log, pi.flag_log_index()));
          it = rule_of_flag_.emplace(pi.flag_id(), flag.flag().rule_id()).first;
        }
        c.rule = it->second;
      }
      next_ = index + 1;
    }
    if (page.empty() || page.back() >= size || page.size() < 100000) next_ = size;
  }
  return Status::Ok();
}

MoneyAtStake InstructionLedger::Money(
    const std::function<bool(std::string_view, std::string_view)>& visible) const {
  MoneyAtStake m;
  for (const auto& [id, c] : claims_) {
    MoneyState state;
    switch (c.action) {
      case v1::PAYMENT_ACTION_HOLD:
        state = MoneyState::kHeld;
        break;
      case v1::PAYMENT_ACTION_RELEASE:
        state = MoneyState::kReleased;
        break;
      case v1::PAYMENT_ACTION_WITHHOLD:
        state = MoneyState::kWithheld;
        break;
      case v1::PAYMENT_ACTION_REVERSE:
        state = MoneyState::kReversed;
        break;
      default:
        continue;
    }
    if (visible && !visible(c.practice, c.icb)) continue;
    AddMoney(&m, state, c.amount, c.practice, c.icb, c.rule);
  }
  return m;
}

}  // namespace probity::payments
