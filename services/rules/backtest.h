// Backtesting a candidate rule set over the log, and rebuilding engine state from scratch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status/status.h"
#include "services/rules/engine.h"
#include "services/rules/log_event.h"
#include "services/rules/rule_set.h"

namespace probity::rules {

// A read-only sequence of log entries in index order (the log store is adapted to this).
class EventSource {
 public:
  virtual ~EventSource() = default;
  // Calls fn for each entry in increasing index order; stops at and returns the first non-OK
  // status from fn or from reading. The LogEvent's references are valid only during the call.
  virtual Status ForEach(const std::function<Status(const LogEvent&)>& fn) = 0;
};

// An EventSource over owned records (tests, tools). Entry i has index first_index + i.
class VectorEventSource final : public EventSource {
 public:
  struct Entry {
    probity::v1::LogRecord record;
    probity::v1::Envelope envelope;
  };
  explicit VectorEventSource(std::vector<Entry> entries, uint64_t first_index = 0)
      : entries_(std::move(entries)), first_index_(first_index) {}
  Status ForEach(const std::function<Status(const LogEvent&)>& fn) override;

 private:
  std::vector<Entry> entries_;
  uint64_t first_index_;
};

struct BacktestRow {
  std::string rule_id;
  std::string practice_code;
  uint64_t would_fire = 0;  // flags the candidate raises
  uint64_t raised = 0;      // FLAG entries already in the log for this rule id
};

struct BacktestReport {
  std::string candidate_rule_set_hash;
  uint64_t entries = 0;
  std::vector<BacktestRow> rows;             // sorted by (rule_id, practice_code)
  std::vector<probity::v1::Envelope> flags;  // what the candidate would raise, in order
};

// Runs `candidate` over `source` without publishing: nothing is written anywhere. Flags already
// in the log do not suppress the candidate's (EngineOptions::learn_flags_from_log = false).
StatusOr<BacktestReport> Backtest(const RuleSet& candidate, EventSource& source);

// A fresh engine over the whole log: its state, and the flags it raised that the log does not
// already hold (learn_flags_from_log = true), i.e. what a follower restarted from nothing emits.
struct RebuildResult {
  std::unique_ptr<Engine> engine;
  std::vector<probity::v1::Envelope> flags;
};
StatusOr<RebuildResult> Rebuild(const RuleSet& rule_set, EventSource& source);

}  // namespace probity::rules
