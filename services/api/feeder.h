// Feeds a Follower (the api's View) from an EntrySource in index order on its own thread: what
// the follower runtime (common/follow/runtime.h) will do once it is on main; until then this
// checks each leaf hash, parses each entry once and hands it over, and nothing more (it checks no
// checkpoint; the answers the api serves carry proofs a client checks itself).
#pragma once

#include <atomic>
#include <thread>

#include "common/follow/entry_source.h"
#include "common/follow/follower.h"
#include "common/status/status.h"
#include "common/sync/mutex.h"

namespace probity::api {

class ViewFeeder {
 public:
  // REQUIRES: source and follower outlive the feeder.
  ViewFeeder(follow::EntrySource* source, follow::Follower* follower)
      : source_(source), follower_(follower) {}
  ~ViewFeeder() { Stop(); }

  // Restores the follower and applies what the source has now (so a new api answers from a
  // view of the whole log), then follows on a background thread.
  Status Start();
  // Applies what the source has (at most max entries). Returns how many.
  StatusOr<size_t> RunOnce(size_t max = 10000);
  void Stop();
  // The error that stopped the background thread, if any.
  Status status() const EXCLUDES(mu_);

 private:
  follow::EntrySource* source_;
  follow::Follower* follower_;
  uint64_t next_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable Mutex mu_;
  Status status_ GUARDED_BY(mu_);
};

}  // namespace probity::api
