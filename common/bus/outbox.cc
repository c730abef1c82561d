#include "common/bus/outbox.h"

#include <algorithm>

#include "common/time/proto_time.h"

namespace probity::bus {
namespace {

constexpr int kSeqBits = 48;
constexpr uint64_t kSeqMask = (uint64_t{1} << kSeqBits) - 1;

}  // namespace

PublicationStream::PublicationStream(std::string topic, uint64_t confirmed, const Clock* clock,
                                     Options options)
    : topic_(std::move(topic)),
      clock_(clock),
      options_(options),
      next_(confirmed),
      confirmed_(confirmed) {}

uint64_t PublicationStream::Tag(uint64_t seq) const {
  MutexLock l(&mu_);
  return ((generation_ & 0xffff) << kSeqBits) | (seq & kSeqMask);
}

void PublicationStream::Sent(uint64_t seq) {
  MutexLock l(&mu_);
  if (seq == next_) ++next_;
}

void PublicationStream::SendFailed(uint64_t seq, const Status& status) {
  MutexLock l(&mu_);
  Fail(seq, status);
}

void PublicationStream::Delivered(uint64_t tag, const Status& status) {
  MutexLock l(&mu_);
  if ((tag >> kSeqBits) != (generation_ & 0xffff)) return;  // sent before a rewind
  const uint64_t seq = tag & kSeqMask;
  if (!status.ok()) {
    Fail(seq, status);
    return;
  }
  if (seq < confirmed_) return;
  acked_ahead_.insert(seq);
  Advance();
}

void PublicationStream::Advance() {
  while (!acked_ahead_.empty() && *acked_ahead_.begin() == confirmed_) {
    acked_ahead_.erase(acked_ahead_.begin());
    ++confirmed_;
  }
  if (stuck_ && confirmed_ > stuck_->sequence()) stuck_.reset();
  if (!stuck_ && !paused_) backoff_ = 0;
}

void PublicationStream::Fail(uint64_t seq, const Status& status) {
  ++failures_;
  if (paused_ && stuck_ && stuck_->sequence() <= seq) return;  // already waiting on an earlier one
  const Micros now = clock_->NowMicros();
  const bool same = stuck_ && stuck_->sequence() == seq;
  if (!same) {
    stuck_.emplace();
    stuck_->set_topic(topic_);
    stuck_->set_sequence(seq);
    SetTimestamp(stuck_->mutable_since(), now);
  }
  stuck_->set_error(status.message());
  stuck_->set_permanent(status.code() == Code::kFailedPrecondition);
  stuck_->set_attempts(stuck_->attempts() + 1);
  backoff_ = backoff_ == 0 ? options_.first_retry : std::min(backoff_ * 2, options_.max_retry);
  retry_at_ = now + backoff_;
  SetTimestamp(stuck_->mutable_next_attempt_at(), retry_at_);
  paused_ = true;
}

uint64_t PublicationStream::next() const {
  MutexLock l(&mu_);
  return next_;
}

uint64_t PublicationStream::confirmed() const {
  MutexLock l(&mu_);
  return confirmed_;
}

bool PublicationStream::paused() const {
  MutexLock l(&mu_);
  return paused_;
}

bool PublicationStream::RetryDue() {
  MutexLock l(&mu_);
  if (!paused_ || clock_->NowMicros() < retry_at_) return false;
  paused_ = false;
  ++generation_;
  acked_ahead_.clear();
  next_ = confirmed_;
  return true;
}

std::optional<v1::StuckPublication> PublicationStream::stuck() const {
  MutexLock l(&mu_);
  return stuck_;
}

uint64_t PublicationStream::failures() const {
  MutexLock l(&mu_);
  return failures_;
}

}  // namespace probity::bus
