// Honest health for a target (docs/operations.md, "Health"): liveness says the main loop turns;
// readiness says the target is doing its job. A target is NOT ready when
//  - work is pending (consumer lag, unpublished entries, an unsigned tail, ...) and nothing has
//    moved for `stall_after`; or
//  - a publication is stuck with an error that retrying alone cannot fix; or
//  - it reports a reason of its own (starting, catching up after retention, stopping).
// A quiet night with nothing to do stays ready. The body is a probity.v1.HealthReport.
#pragma once

#include <string>
#include <vector>

#include "common/sync/mutex.h"
#include "common/time/clock.h"
#include "probity/v1/ops.pb.h"

namespace probity::metrics {

class ProgressWatch {
 public:
  struct Options {
    Micros stall_after = 60'000'000;  // pending work and no progress for this long: not ready
    Micros live_after = 120'000'000;  // no Observe() for this long: not live
  };
  // REQUIRES: clock outlives the watch.
  ProgressWatch(std::string target, const Clock* clock, Options options);
  ProgressWatch(std::string target, const Clock* clock)
      : ProgressWatch(std::move(target), clock, Options{}) {}

  // Called every round of the target's loop. `progress`: counters that only grow (consumed,
  // published, checkpointed, ...); any change counts as progress. `pending`: work is waiting.
  void Observe(const std::vector<uint64_t>& progress, bool pending) EXCLUDES(mu_);
  // A reason the target is not ready regardless of progress ("" clears it).
  void SetBlocker(std::string reason) EXCLUDES(mu_);

  // Judges `report`, whose counts and `stuck` the caller filled: sets target, live, ready,
  // not_ready_reasons and the progress fields. A permanent stuck publication makes it not ready.
  void Judge(v1::HealthReport* report) const EXCLUDES(mu_);

 private:
  const std::string target_;
  const Clock* clock_;
  const Options options_;
  mutable Mutex mu_;
  std::vector<uint64_t> last_progress_ GUARDED_BY(mu_);
  Micros last_progress_at_ GUARDED_BY(mu_) = 0;
  Micros last_observed_at_ GUARDED_BY(mu_) = 0;
  bool pending_ GUARDED_BY(mu_) = false;
  bool observed_ GUARDED_BY(mu_) = false;
  std::string blocker_ GUARDED_BY(mu_);
};

}  // namespace probity::metrics
