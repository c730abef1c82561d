// The payments target: a follower of the audit log (common/follow/follower.h) that turns claims,
// flags and decisions into payment instructions on probity.payment-instructions.v1.
//
// Per claim, a state machine driven by the log alone (docs/payments.md has the diagram):
//   PENDING  --wait passed, no flag stands-->           APPROVED  (APPROVE)
//   PENDING  --a flag holds it-->                       HELD      (HOLD)
//   HELD     --every flag holding it dismissed-->       RELEASED  (RELEASE)
//   HELD     --a flag on it upheld-->                   WITHHELD  (WITHHOLD)
//   APPROVED/RELEASED --a flag on it upheld-->          REVERSED  (REVERSE)
//   WITHHELD/REVERSED --the upholds superseded by dismissals--> HELD (HOLD) while a flag still
//                                                       stands, else RELEASED (RELEASE)
// ACKNOWLEDGE changes nothing. A claim is never approved while a flag stands on it.
//
// Time is LOG time: the watermark of the input events' own timestamps (occurred_at, capped at the
// entry's received_at + 1 day, as the rules engine keeps it), never a clock. The policy in force
// is the latest HoldPolicyPublished in the log; the target publishes its own at start. So the
// instructions are a pure function of the log: a replay gives the same bytes.
//
// Every instruction is one envelope (event id = instruction id = hex SHA-256 of the claim id, the
// causing log index and the action), keyed by claim id, serialized deterministically.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/follow/follower.h"
#include "common/status/status.h"
#include "probity/v1/events.pb.h"
#include "services/payments/policy.h"

namespace rocksdb {
class DB;
}

namespace probity::payments {

// Money at stake, in pence, by the claims' CURRENT state: held (a flag stands, undecided),
// released, withheld (upheld before payment) and reversed (upheld after payment).
struct Money {
  int64_t held = 0, released = 0, withheld = 0, reversed = 0;
  uint64_t held_claims = 0, released_claims = 0, withheld_claims = 0, reversed_claims = 0;
};
struct MoneyAtStake {
  Money total;
  std::map<std::string, Money> by_practice;
  std::map<std::string, Money> by_icb;   // "" when the practice's ICB is not known
  std::map<std::string, Money> by_rule;  // rule id of the flag behind the claim's state
};

struct PaymentsStats {
  uint64_t next_index = 0;
  uint64_t claims = 0;
  uint64_t instructions = 0;  // published by this process
  std::map<std::string, uint64_t> by_action;
  std::string policy;  // "name@version" in force, empty before one is in the log
};

class PaymentsFollower final : public follow::Follower {
 public:
  struct Options {
    std::string state_dir;  // RocksDB state; empty: in memory only (tests, benchmarks)
  };
  // `publish`: the policy this target publishes at start (nullopt: publish none; the follower
  // still applies whatever policy the log holds).
  PaymentsFollower(Options options, std::optional<HoldPolicy> publish);
  ~PaymentsFollower() override;

  std::string_view name() const override { return "payments"; }
  StatusOr<uint64_t> Restore() override;
  // Publishes the policy with the time of its first publication (kept beside the state), so
  // that the bytes are identical at every start. `now` is the publication time used the first
  // time; set it with set_publish_time() before (the runtime's clock), else 0.
  Status PublishAtStart(follow::Publisher* out) override;
  Status Apply(const follow::Event& event, follow::Publisher* out) override;
  Status Save(uint64_t next_index) override;

  void set_publish_time(int64_t micros) { publish_time_ = micros; }
  PaymentsStats stats() const;
  // Money at stake now (the api calls this; the target exports it as metrics).
  MoneyAtStake money() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t publish_time_ = 0;
};

// Serializes an envelope deterministically (the bytes compared across replays): the rules
// engine's SerializeDeterministic.
std::string SerializeInstruction(const v1::Envelope& envelope);

}  // namespace probity::payments
