// Money at stake read from the log alone (docs/payments.md, "Money at stake"): the claims' current
// states as their latest PAYMENT_INSTRUCTION entries state them. What the api answers with, away
// from the payments target: a pure function of a log prefix, kept up to date incrementally.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "common/logstore/reader.h"
#include "common/status/status.h"
#include "services/payments/payments.h"

namespace probity::payments {

class InstructionLedger {
 public:
  // Reads the PAYMENT_INSTRUCTION entries in [size(), size); a size at or below size() reads
  // nothing. DataLoss when an entry does not parse (the ledger is then unchanged past the last
  // entry read). REQUIRES: size <= log.TreeSize(); the same log at every call.
  Status CatchUp(const logstore::LogReader& log, uint64_t size);
  // The log prefix read.
  uint64_t size() const { return next_; }

  // Money at stake over the claims `visible(practice, icb)` accepts (every claim when null): by
  // the claim's latest instruction (HOLD: held, RELEASE: released, WITHHOLD: withheld, REVERSE:
  // reversed; APPROVE counts nothing), its amount, the practice's ICB the instruction states,
  // and the rule of the flag the latest instruction names.
  MoneyAtStake Money(
      const std::function<bool(std::string_view practice, std::string_view icb)>& visible) const;

 private:
  struct Claim {
    std::string practice, icb, rule;
    int32_t action = 0;
    int64_t amount = 0;
  };
  std::map<std::string, Claim, std::less<>> claims_;
  std::map<std::string, std::string, std::less<>> rule_of_flag_;
  uint64_t next_ = 0;
};

}  // namespace probity::payments
