// One write at a time on a background thread, for a follower whose Save() would otherwise hold
// the runtime while it writes: follower.h lets a Save finish in the background provided the
// previous one is durable when it returns, so the runtime reads, verifies and applies the next
// round while this round is written (the rules engine's snapshot, the replica's copy).
#pragma once

#include <atomic>
#include <functional>
#include <thread>

#include "common/status/status.h"

namespace probity::follow {

class BackgroundWriter {
 public:
  BackgroundWriter() = default;
  BackgroundWriter(const BackgroundWriter&) = delete;
  BackgroundWriter& operator=(const BackgroundWriter&) = delete;
  // Waits for the running write (its status is dropped: whoever destroys a follower mid-write
  // restarts from what is durable).
  ~BackgroundWriter() { (void)Wait(); }

  // Waits for the previous write; when it failed, returns its status and starts nothing.
  // Otherwise starts `write` on a new thread and returns OK.
  Status Start(std::function<Status()> write) {
    PROBITY_RETURN_IF_ERROR(Wait());
    done_ = false;
    thread_ = std::thread([this, w = std::move(write)] {
      status_ = w();
      done_ = true;
    });
    return Status::Ok();
  }

  // Without waiting: the finished write's status (reported once, as by Wait()), or OK while one
  // is still running or none ran.
  Status Poll() { return done_.load() ? Wait() : Status::Ok(); }

  // Waits for the running write, if any; its status is kept for the next Wait() or Start().
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  // Waits for the running write, if any, and returns its status (OK when none ran since the
  // last Wait()).
  Status Wait() {
    Join();
    Status st = std::move(status_);
    status_ = Status::Ok();
    return st;
  }

 private:
  std::thread thread_;
  Status status_;                  // written by thread_; read only after it is joined
  std::atomic<bool> done_{false};  // thread_ has written status_
};

}  // namespace probity::follow
