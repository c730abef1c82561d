// The `probity payments` target: runs the PaymentsFollower over the log (an EntrySource) and
// publishes its instructions with a bus producer, saving the follower's state only after the bus
// confirmed every instruction published before it (the follower contract, follower.h). A crash
// replays from the last save and republishes the same bytes, which ingest drops as exact
// redeliveries.
//
// This is the small driver the target uses until the one follower runtime
// (common/follow/runtime.h) is on main; it does not check checkpoints itself.
//
// Metrics (declared together in PaymentsMetrics): probity_payments_instructions_total{action},
// probity_payments_next_index, and money at stake, in pence, by current claim state:
// probity_payments_money_pence{state, scope="total|practice|icb|rule", key}.
#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <string>

#include "common/bus/kafka.h"
#include "common/follow/entry_source.h"
#include "common/metrics/health.h"
#include "common/metrics/http_server.h"
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
  };
  // REQUIRES: source, producer, clock and registry outlive the target.
  PaymentsTarget(Options options, std::optional<HoldPolicy> policy, follow::EntrySource* source,
                 bus::Producer* producer, const Clock* clock, prometheus::Registry* registry);
  ~PaymentsTarget();

  // Restores the state and publishes the hold policy (same bytes at every start).
  Status Start();
  // Applies what the source has (up to max_batch entries); saves when due. Returns the count.
  StatusOr<size_t> RunOnce();
  // Until *stop; retries what a retry can fix (from the last saved state), else returns the error.
  Status Run(const std::atomic<bool>* stop);
  // Waits for the bus to confirm every instruction, then saves.
  Status Checkpoint();
  uint64_t next_index() const { return next_.load(); }
  const PaymentsFollower& follower() const { return *follower_; }
  metrics::Health health() const;

 private:
  class BusPublisher;
  struct Metrics;
  Status Restart();
  // Updates the money gauges from follower().money() (on the run thread).
  void ExportMoney();
  Options options_;
  std::optional<HoldPolicy> policy_;
  follow::EntrySource* source_;
  bus::Producer* producer_;
  const Clock* clock_;
  std::unique_ptr<BusPublisher> publisher_;
  std::unique_ptr<PaymentsFollower> follower_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<metrics::ProgressWatch> watch_;
  std::atomic<uint64_t> next_{0};  // read by the health thread
  Micros last_save_ = 0;
  uint64_t retries_ = 0;
};

}  // namespace probity::payments
