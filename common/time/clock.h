// Time is injected: nothing below an entry point reads the wall clock directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

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
  Micros NowMicros() const override {
    std::lock_guard<std::mutex> l(mu_);
    return now_;
  }
  void Set(Micros t) {
    std::lock_guard<std::mutex> l(mu_);
    now_ = t;
  }
  void Advance(Micros d) {
    std::lock_guard<std::mutex> l(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  Micros now_;
};

}  // namespace probity
