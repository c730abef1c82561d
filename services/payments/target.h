// The `probity payments` target: the PaymentsFollower on the one follower runtime
// (common/follow/runtime.h), which verifies every leaf and checkpoint, publishes the follower's
// instructions through its BusPublisher and saves the follower's state only after the bus
// confirmed every instruction published before it. A crash replays from the last save and
// republishes the same bytes, which ingest drops as exact redeliveries.
//
// Metrics (declared together in PaymentsTarget::Metrics): probity_payments_instructions_total
// {action}, probity_payments_next_index, and money at stake, in pence, by current claim state:
// probity_payments_money_pence{state, scope="total|practice|icb|rule", key}, updated at each save.
#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/bus/kafka.h"
#include "common/follow/bus_publisher.h"
#include "common/follow/checkpoint_source.h"
#include "common/follow/entry_source.h"
#include "common/follow/runtime.h"
#include "common/metrics/health.h"
#include "common/metrics/http_server.h"
#include "common/note/note.h"
#include "common/status/status.h"
#include "common/time/clock.h"
#include "services/payments/payments.h"

namespace probity::payments {

class PaymentsTarget {
 public:
  struct Options {
    std::string state_dir;
    int save_every_ms = 2000;
    size_t max_batch = 10000;
    // Checkpoints to verify the log against, with the log's origin and key (all or none).
    follow::CheckpointSource* checkpoints = nullptr;
    std::string origin;
    std::vector<note::Verifier> log_keys;
  };
  // REQUIRES: source, bus, clock and registry (when given) outlive the target.
  PaymentsTarget(Options options, std::optional<HoldPolicy> policy, follow::EntrySource* source,
                 bus::BusFactory* bus, const Clock* clock, prometheus::Registry* registry);
  ~PaymentsTarget();

  // Restores the state and publishes the hold policy (same bytes at every start).
  Status Start();
  // One runtime round (up to max_batch entries); saves when due. Returns the entries applied.
  StatusOr<size_t> RunOnce();
  // Until *stop; the runtime retries what a retry can fix from the last saved state.
  Status Run(const std::atomic<bool>* stop);
  // Waits for the bus to confirm every instruction, then saves.
  Status Checkpoint();
  uint64_t next_index() const;
  follow::RuntimeStats runtime_stats() const;
  // REQUIRES: not running on another thread (read after Run returned, or between RunOnce calls).
  const PaymentsFollower& follower() const { return *follower_; }
  metrics::Health health() const;

 private:
  struct Metrics;
  // Updates the metrics from the follower (on the run thread).
  void ExportMetrics();
  Options options_;
  const Clock* clock_;
  bus::BusFactory* bus_;
  follow::EntrySource* source_;
  std::unique_ptr<PaymentsFollower> follower_;
  std::unique_ptr<follow::BusPublisher> publisher_;
  std::unique_ptr<follow::Runtime> runtime_;
  std::unique_ptr<Metrics> metrics_;
  uint64_t exported_saves_ = 0;
};

}  // namespace probity::payments
