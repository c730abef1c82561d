// The rules engine: reads the log in index order and raises flags.
//
// A flag is a pure function of (log prefix, rule set): the engine uses event time and the
// watermark only (never a clock), keeps its state in ordered containers and computes floating
// point in a fixed order, so the same log and rule set give byte-identical flags on every replay,
// and an engine restored from a snapshot continues exactly as an uninterrupted one would.
//
// Watermark: the largest occurred_at of any input event (claim, referral, contact, visit,
// practice update), capped at that entry's received_at + 1 day when received_at is set so one
// far-future timestamp cannot fire every timer. Timers and month-end evaluations run when the
// watermark enters a new UTC day, after the entry that moved it has been applied.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status/status.h"
#include "probity/v1/events.pb.h"
#include "services/rules/log_event.h"
#include "services/rules/rule_set.h"

namespace probity::rules {

struct EngineOptions {
  // When true (production), FLAG entries in the log are remembered and a flag whose id is already
  // in the log is never emitted again. Backtests set it false so that a candidate identical to the
  // active rule set still reports what it would raise.
  bool learn_flags_from_log = true;
  // When true, a flag judged against a peer comparison is preceded in the output by the
  // comparison's Baseline entry (EVENT_KIND_BASELINE, event id = baseline_id, once per baseline:
  // BASELINE entries in the log and those already emitted are not emitted again) and names it in
  // Flag.baseline_id. Production (the rules target, `probity score offline`) sets it; false keeps
  // the output to flags only.
  bool log_baselines = false;
};

// The engine's state as opaque byte strings: one blob of global state and one per practice,
// in practice-code order. Format in docs/rules.md ("Saved state").
struct EngineSnapshot {
  std::string rule_set_hash;
  bool has_last_index = false;
  uint64_t last_index = 0;
  std::string global;
  std::vector<std::pair<std::string, std::string>> practices;  // (practice code, state)
};

class Engine {
 public:
  // Builds an engine for a loaded rule set. Fails only if the set names a kind this build lacks.
  static StatusOr<std::unique_ptr<Engine>> Create(RuleSet rule_set, EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Applies one log entry and appends the flags it raises (Envelope kind FLAG, see docs) to
  // *flags, in a deterministic order, each preceded by the Baseline entry it names when
  // options.log_baselines is set. An END_OF_DATA entry judges every window ending at or before
  // its data_complete_until (docs/rules.md, "End of data"). REQUIRES: event.index is greater than
  // every index processed before; otherwise returns FailedPrecondition and changes nothing. Entries
  // the engine does not evaluate (decisions, payment instructions) only advance the index. MUST NOT
  // throw.
  Status Process(const LogEvent& event, std::vector<probity::v1::Envelope>* flags);

  bool has_processed() const;
  // REQUIRES: has_processed().
  uint64_t last_index() const;
  const RuleSet& rule_set() const;

  // A copy of the whole state. Restore(Snapshot()) on a fresh engine built from the same rule set
  // gives an engine indistinguishable from this one.
  EngineSnapshot Snapshot() const;
  // REQUIRES: a fresh engine (nothing processed). FailedPrecondition when the snapshot was taken
  // under another rule set; DataLoss when it does not decode. On failure the engine is unchanged.
  Status Restore(const EngineSnapshot& snapshot);

 private:
  class Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Serializes a flag envelope deterministically (the bytes compared across replays).
std::string SerializeDeterministic(const probity::v1::Envelope& envelope);

}  // namespace probity::rules
