// The rules target: a Follower (common/follow/follower.h) on the one follower runtime. It feeds
// each entry of the log to the rules engine, publishes the flags it raises on probity.flags.v1
// (ingest logs them), and saves the engine state in its own RocksDB directory.
//
// Crash safety (the runtime's contract): state is saved only after every flag raised so far is
// confirmed by the bus, so after a crash the runner replays from the last saved index and
// re-raises the same flags, byte for byte (flags are deterministic); ingest drops them as exact
// redeliveries. No flag is lost and none is logged twice. The rule set is published at every
// start with the time of its first publication, stored before that first publication, so its
// bytes never change and ingest logs it once.
//
// Resilience: the runtime's (1 s doubling to 60 s, from the last saved state). Only evidence of a
// damaged or dishonest log, or a failing state store, ends Run() with an error.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/bus/kafka.h"
#include "common/follow/background_writer.h"
#include "common/follow/bus_publisher.h"
#include "common/follow/checkpoint_source.h"
#include "common/follow/entry_source.h"
#include "common/follow/follower.h"
#include "common/follow/runtime.h"
#include "common/metrics/http_server.h"
#include "common/note/note.h"
#include "common/status/status.h"
#include "common/sync/mutex.h"
#include "common/time/clock.h"
#include "services/rules/engine.h"
#include "services/rules/rule_set.h"
#include "services/rules/state_store.h"

namespace prometheus {
class Registry;
}

namespace probity::rules {

struct RulesStats {
  uint64_t processed = 0;   // entries evaluated
  uint64_t next_index = 0;  // next log index to evaluate
  uint64_t flags = 0;       // flags raised (and published) by this process
  std::map<std::string, uint64_t> flags_by_kind;
};

// The rules engine as a Follower. State lives in <state_dir>/state (RocksDB); the rule set's
// first publication time in <state_dir>/published-<rule set sha256>.
class RulesFollower final : public follow::Follower {
 public:
  // `started_at`: the time of the rule set's publication if it was never published before.
  RulesFollower(std::string state_dir, RuleSet rule_set, Micros started_at);
  ~RulesFollower() override;

  std::string_view name() const override { return "rules"; }
  StatusOr<uint64_t> Restore() override;
  Status PublishAtStart(follow::Publisher* out) override;
  Status Apply(const follow::Event& event, follow::Publisher* out) override;
  // Takes the engine's snapshot here and writes it on a background thread (tens of ms for a large
  // state), after waiting for the previous write: the saved state is at most one save behind,
  // which the runtime allows for (it keeps the tree of the previous save too).
  Status Save(uint64_t next_index) override;
  // Waits for a background write; its status.
  Status WaitForSave();

  RulesStats stats() const EXCLUDES(mu_);

 private:
  std::string state_dir_;
  RuleSet rule_set_;
  Micros started_at_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<StateStore> state_;
  std::vector<v1::Envelope> flags_;  // scratch
  follow::BackgroundWriter saver_;   // after state_: joined before the state it writes goes
  mutable Mutex mu_;
  RulesStats stats_ GUARDED_BY(mu_);  // the evaluation thread writes; stats() reads from any
};

// The rules target wired on the runtime: what `probity rules` and `probity up` run.
class RulesRunner {
 public:
  struct Options {
    std::string state_dir;
    // State is saved this often (see RulesFollower::Save).
    int save_every_ms = 10000;
    size_t max_batch = 10000;
    // Checkpoints to verify the log against, with the log's origin and key (all or none).
    follow::CheckpointSource* checkpoints = nullptr;
    std::string origin;
    std::vector<note::Verifier> log_keys;
    // The follower runtime's gauges (follow::Runtime::Options::registry); null: none.
    prometheus::Registry* registry = nullptr;
  };
  // REQUIRES: source, bus and clock (when given; the system clock otherwise) outlive the runner.
  RulesRunner(Options options, RuleSet rule_set, follow::EntrySource* source, bus::BusFactory* bus,
              const Clock* clock = nullptr);
  ~RulesRunner();

  // Restores the engine (when the saved state is for the same rule set) and publishes the rule
  // set so that it is sequenced into the log. `now`: the publication time if it is the first.
  Status Start(Micros now);
  // Evaluates what the source has (up to max_batch entries). Returns how many were evaluated.
  StatusOr<size_t> RunOnce();
  Status Run(const std::atomic<bool>* stop);
  // Waits for the bus to confirm the flags, then saves the state (and waits for the write).
  Status Checkpoint();
  RulesStats stats() const;
  follow::RuntimeStats runtime_stats() const;
  // /healthz: a probity.v1.HealthReport for target "rules".
  metrics::Health health() const;

 private:
  Options options_;
  RuleSet rule_set_;
  follow::EntrySource* source_;
  bus::BusFactory* bus_;
  SystemClock system_clock_;
  const Clock* clock_;
  std::unique_ptr<follow::BusPublisher> publisher_;
  std::unique_ptr<RulesFollower> follower_;
  std::unique_ptr<follow::Runtime> runtime_;
};

}  // namespace probity::rules
