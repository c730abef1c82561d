// Time is injected: nothing below an entry point reads the wall clock directly.
#pragma once

#include <chrono>
#include <cstdint>

#include "common/sync/mutex.h"

namespace probity {

// Microseconds since the Unix epoch, UTC.
using Micros = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Micros NowMicros() const = 0;
};

// The real clock. Only entry points construct one.
class SystemClock final : public Clock {
 public:
  Micros NowMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock a test moves by hand. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Micros start = 0) : now_(start) {}
  Micros NowMicros() const override EXCLUDES(mu_) {
    MutexLock l(&mu_);
    return now_;
  }
  void Set(Micros t) EXCLUDES(mu_) {
    MutexLock l(&mu_);
    now_ = t;
  }
  void Advance(Micros d) EXCLUDES(mu_) {
    MutexLock l(&mu_);
    now_ += d;
  }

 private:
  mutable Mutex mu_;
  Micros now_ GUARDED_BY(mu_);
};

}  // namespace probity
