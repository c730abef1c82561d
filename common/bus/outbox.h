// The publication cursor of one ordered stream of numbered records on one topic: log entries on
// probity.log.v1, dead letters, flags. The records themselves stay in their owner's durable store
// (the outbox); this class says which of them to send next, which prefix the bus confirmed, and,
// when the bus refused one, which record, why, and when to try it again.
//
// Guarantees:
//  - confirmed() only grows, and only over a contiguous prefix of confirmed records: a record is
//    never counted as published because a later one was.
//  - A refused record is never skipped: the stream pauses (paused() is true), and when the retry
//    is due, RetryDue() rewinds next() to confirmed() so that the owner sends everything after
//    the confirmed prefix again, in order. Receivers MUST drop repeats by sequence number.
//  - Delivery reports of sends made before a rewind are ignored, so a late report cannot move
//    confirmed() past a record that was not delivered.
// Backoff between attempts doubles from Options::first_retry to Options::max_retry.
//
// Thread-safety: Sent/RetryDue/Tag are called by the owner's thread; Delivered may be called from
// any thread (the producer's delivery-report callback); the accessors from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "common/status/status.h"
#include "common/sync/mutex.h"
#include "common/time/clock.h"
#include "probity/v1/ops.pb.h"

namespace probity::bus {

class PublicationStream {
 public:
  struct Options {
    Micros first_retry = 1'000'000;  // 1 s
    Micros max_retry = 60'000'000;   // 1 min
  };
  // `confirmed`: records below it are known to be on the bus (from the owner's store).
  // REQUIRES: clock outlives the stream.
  PublicationStream(std::string topic, uint64_t confirmed, const Clock* clock, Options options);
  PublicationStream(std::string topic, uint64_t confirmed, const Clock* clock)
      : PublicationStream(std::move(topic), confirmed, clock, Options{}) {}

  const std::string& topic() const { return topic_; }

  // The delivery tag to produce record `seq` with; Delivered() takes it back. It carries the
  // stream's send generation in its top 16 bits and seq in the low 48 (seq < 2^48).
  uint64_t Tag(uint64_t seq) const EXCLUDES(mu_);
  // Owner: record `seq` was handed to the producer. REQUIRES: seq == next().
  void Sent(uint64_t seq) EXCLUDES(mu_);
  // Owner: handing record `seq` to the producer failed with `status` (it was not enqueued).
  // kFailedPrecondition means retrying alone cannot fix it.
  void SendFailed(uint64_t seq, const Status& status) EXCLUDES(mu_);
  // Any thread: the delivery report of the record sent with `tag`.
  // kFailedPrecondition means retrying alone cannot fix it.
  void Delivered(uint64_t tag, const Status& status) EXCLUDES(mu_);

  // The next record to send. While paused() the owner MUST NOT send.
  uint64_t next() const EXCLUDES(mu_);
  uint64_t confirmed() const EXCLUDES(mu_);
  bool paused() const EXCLUDES(mu_);
  // Owner: if paused and the retry is due, rewinds next() to confirmed(), clears the pause and
  // returns true; the owner then sends from next() again.
  bool RetryDue() EXCLUDES(mu_);

  // The refused record, while the stream is paused or retrying it; nullopt once it is confirmed.
  std::optional<v1::StuckPublication> stuck() const EXCLUDES(mu_);
  // Refusals seen so far (a metric).
  uint64_t failures() const EXCLUDES(mu_);

 private:
  void Fail(uint64_t seq, const Status& status) REQUIRES(mu_);
  void Advance() REQUIRES(mu_);

  const std::string topic_;
  const Clock* clock_;
  const Options options_;
  mutable Mutex mu_;
  uint64_t generation_ GUARDED_BY(mu_) = 0;
  uint64_t next_ GUARDED_BY(mu_);
  uint64_t confirmed_ GUARDED_BY(mu_);
  // Delivered above confirmed_, waiting for the gap to fill.
  std::set<uint64_t> acked_ahead_ GUARDED_BY(mu_);
  bool paused_ GUARDED_BY(mu_) = false;
  std::optional<v1::StuckPublication> stuck_ GUARDED_BY(mu_);
  Micros retry_at_ GUARDED_BY(mu_) = 0;
  Micros backoff_ GUARDED_BY(mu_) = 0;
  uint64_t failures_ GUARDED_BY(mu_) = 0;
};

}  // namespace probity::bus
