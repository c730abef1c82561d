// The first failure among targets running together in one process (`probity up`): the first
// error any of them reports is kept, named after its target, and the process-wide stop request
// is raised so that every other target winds down. The process then exits with that error.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "common/status/status.h"
#include "common/sync/mutex.h"

namespace probity::cli {

class FirstFailure {
 public:
  // REQUIRES: stop outlives this object.
  explicit FirstFailure(std::atomic<bool>* stop) : stop_(stop) {}

  // Keeps st (as "<target>: <message>", same code) when it is the first failure, and raises the
  // stop request. An ok st changes nothing. Thread-safe.
  void Record(std::string_view target, const Status& st) EXCLUDES(mu_) {
    if (st.ok()) return;
    {
      MutexLock l(&mu_);
      if (first_.ok()) first_ = Status(st.code(), std::string(target) + ": " + st.message());
    }
    *stop_ = true;
  }

  // The first failure recorded; ok when there was none.
  Status status() const EXCLUDES(mu_) {
    MutexLock l(&mu_);
    return first_;
  }

 private:
  std::atomic<bool>* stop_;
  mutable Mutex mu_;
  Status first_ GUARDED_BY(mu_);
};

}  // namespace probity::cli
