// The rules target's runtime: follows the log in index order, feeds each entry to the rules
// engine (services/rules), publishes the flags it raises on probity.flags.v1 (ingest logs them),
// and saves the engine state in its own RocksDB directory.
//
// Crash safety: state is saved only after every flag raised so far is confirmed by the bus, so
// after a crash the runner replays from the last saved index and re-raises the same flags, byte
// for byte (flags are deterministic); ingest drops them as exact redeliveries. No flag is lost
// and none is logged twice.
//
// Resilience: what a retry can fix never stops it. When the bus refuses a flag, or the log topic
// moves under the reader, or the entries it needs are past the topic's retention (and no
// catch-up store is given), Run() reports it in health(), waits (1 s doubling to 60 s), goes
// back to its last saved state and carries on from there. Only evidence of a damaged log (an
// entry that does not match its hash) or a failing state store ends Run() with an error.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/bus/kafka.h"
#include "common/follow/entry_source.h"
#include "common/logstore/store.h"
#include "common/metrics/health.h"
#include "common/metrics/http_server.h"
#include "common/status/status.h"
#include "common/sync/mutex.h"
#include "common/time/clock.h"
#include "services/rules/engine.h"
#include "services/rules/rule_set.h"
#include "services/rules/state_store.h"

namespace probity::cli {

using follow::EntrySource;
using follow::LogTopicSource;
using follow::StoreSource;

struct RulesStats {
  uint64_t processed = 0;   // entries evaluated
  uint64_t next_index = 0;  // next log index to evaluate
  uint64_t flags = 0;       // flags raised (and published) by this process
  std::map<std::string, uint64_t> flags_by_kind;
};

class RulesRunner {
 public:
  struct Options {
    std::string state_dir;
    // State is saved this often, written on a background thread; only the in-memory snapshot is
    // taken on the evaluation thread (tens of ms for a large state).
    int save_every_ms = 10000;
    size_t max_batch = 10000;
  };
  // REQUIRES: source and producer outlive the runner; so does clock, when given (health and
  // retry backoff use it; the system clock otherwise).
  RulesRunner(Options options, rules::RuleSet rule_set, EntrySource* source,
              bus::Producer* producer, const Clock* clock = nullptr);
  ~RulesRunner();

  // Opens the state, restores the engine (when the saved state is for the same rule set), and
  // publishes the rule set so that it is sequenced into the log.
  Status Start(Micros now);
  // Evaluates what the source has (up to max_batch entries). Returns how many were evaluated.
  StatusOr<size_t> RunOnce();
  Status Run(const std::atomic<bool>* stop);
  // Waits for the bus to confirm the flags, then saves the state (in the background unless
  // `wait`, which also waits for an earlier background save).
  Status Checkpoint(bool wait = true);
  RulesStats stats() const EXCLUDES(mu_);
  // /healthz: a probity.v1.HealthReport for target "rules".
  metrics::Health health() const EXCLUDES(mu_);

 private:
  // Back to the last saved state: engine, next index, source position.
  Status Restart();
  // Whether Run() may wait and restart after `st` rather than stop.
  static bool Retriable(const Status& st);
  Options options_;
  rules::RuleSet rule_set_;
  EntrySource* source_;
  bus::Producer* producer_;
  std::unique_ptr<rules::Engine> engine_;
  std::unique_ptr<rules::StateStore> state_;
  uint64_t next_ = 0;
  std::thread saver_;
  Status save_status_;  // written by saver_; read only after saver_ is joined
  int64_t last_save_ms_ = 0;
  mutable Mutex mu_;
  RulesStats stats_ GUARDED_BY(mu_);  // the evaluation thread writes; stats() reads from any
  SystemClock system_clock_;
  const Clock* clock_;
  std::unique_ptr<metrics::ProgressWatch> watch_;
  uint64_t retries_ = 0;
};

using follow::DecodeRecordEnvelope;

}  // namespace probity::cli
