#include "common/metrics/health.h"

#include <cstdio>

#include "common/time/proto_time.h"

namespace probity::metrics {
namespace {

std::string Seconds(Micros us) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", static_cast<double>(us) / 1e6);
  return buf;
}

}  // namespace

ProgressWatch::ProgressWatch(std::string target, const Clock* clock, Options options)
    : target_(std::move(target)), clock_(clock), options_(options) {}

void ProgressWatch::Observe(const std::vector<uint64_t>& progress, bool pending) {
  const Micros now = clock_->NowMicros();
  MutexLock l(&mu_);
  if (!observed_ || progress != last_progress_) {
    last_progress_ = progress;
    last_progress_at_ = now;
  }
  // Work that has just appeared has not stalled yet: the clock starts when it appears.
  if (pending && !pending_) last_progress_at_ = now;
  pending_ = pending;
  last_observed_at_ = now;
  observed_ = true;
}

void ProgressWatch::SetBlocker(std::string reason) {
  MutexLock l(&mu_);
  blocker_ = std::move(reason);
}

void ProgressWatch::Judge(v1::HealthReport* r) const {
  const Micros now = clock_->NowMicros();
  r->set_target(target_);
  r->clear_not_ready_reasons();
  MutexLock l(&mu_);
  r->set_work_pending(pending_);
  if (!observed_) {
    r->set_live(true);
    r->set_ready(false);
    r->add_not_ready_reasons("starting");
    return;
  }
  SetTimestamp(r->mutable_last_progress_at(), last_progress_at_);
  r->set_seconds_since_progress(static_cast<double>(now - last_progress_at_) / 1e6);
  r->set_live(now - last_observed_at_ <= options_.live_after);
  if (!r->live()) {
    r->add_not_ready_reasons("the main loop has not turned for " +
                             Seconds(now - last_observed_at_) + " s");
  }
  if (!blocker_.empty()) r->add_not_ready_reasons(blocker_);
  if (pending_ && now - last_progress_at_ > options_.stall_after) {
    r->add_not_ready_reasons("work is pending and nothing has moved for " +
                             Seconds(now - last_progress_at_) + " s");
  }
  for (const auto& s : r->stuck()) {
    if (s.permanent()) {
      r->add_not_ready_reasons("publication of " + s.topic() + " #" + std::to_string(s.sequence()) +
                               " refused: " + s.error());
    }
  }
  r->set_ready(r->not_ready_reasons().empty());
}

}  // namespace probity::metrics
