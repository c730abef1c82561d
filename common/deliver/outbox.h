// A durable outbox per destination: what a follower has to deliver outside the bus (webhooks,
// Alertmanager) is written here BEFORE the follower's cursor moves, and each destination then
// retries from its own queue, with exponential backoff and jitter on the injected clock, for as
// long as it takes. Delivery never depends on re-reading the source.
//
// Guarantees:
//  - Enqueue() writes its items and the follower's next index in ONE RocksDB write: after a
//    crash, source_next() says where to resume, and nothing enqueued before it is lost or
//    enqueued twice.
//  - An item leaves its queue only when its destination accepted it (2xx), or is moved to the
//    failed records (f/...) with its reason when the destination is disabled (410 Gone) or the
//    item is older than RetryPolicy::give_up_after; it is never dropped silently.
//  - Destinations are independent: each has its own queue, backoff and (with Start()) thread;
//    one that is down or slow never holds up another.
//  - A destination is sent its queue in sequence order; a failed head is retried before anything
//    behind it. A crash after the destination accepted an item and before it left the queue sends
//    it again with the same id (receivers dedupe by id: webhook-id, Alertmanager's label set).
//
// On-disk layout (one RocksDB, default column family; integers big-endian):
//   "cursor"                        -> be64: the follower's next log index (source_next())
//   "q/" dest "\0" be64(seq)        -> v1::OutboxItem, queued
//   "k/" dest "\0" coalesce_key     -> be64(seq) of the queued item with that key
//   "d/" dest                       -> v1::DestinationState
//   "f/" dest "\0" be64(seq)        -> v1::FailedDelivery
// docs/operations.md ("Delivery") describes the same in prose.
//
// Thread-safety: Enqueue/SetSourceNext from one thread (the follower's); DeliverDue for
// destination d from one thread at a time (Start() runs one per destination); accessors from any.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/status/status.h"
#include "common/time/clock.h"
#include "probity/v1/delivery.pb.h"

namespace rocksdb {
class DB;
}
namespace prometheus {
class Registry;
}

namespace probity::deliver {

inline constexpr Micros kSecond = 1'000'000;
inline constexpr Micros kNever = INT64_MAX;

// When to try again after a failure. The n-th consecutive failure (n >= 1) waits
// min(max_delay, first_delay * multiplier^(n-1)), scaled by a uniform factor in
// [1 - jitter, 1 + jitter]; a Retry-After, or slow_down_min for a destination asking to slow
// down (429, 502, 504), is a lower bound.
struct RetryPolicy {
  Micros first_delay = 5 * kSecond;
  double multiplier = 4.0;
  Micros max_delay = 12 * 3600 * kSecond;
  double jitter = 0.2;
  Micros slow_down_min = 60 * kSecond;
  // An item that has been failing this long is given up (recorded as failed). 0: never, for a
  // destination that must get everything however long it is down (Alertmanager).
  Micros give_up_after = 0;
};

// The webhook schedule: 5 s, 20 s, 80 s, ... up to 12 h between attempts, given up after 3 days
// (Standard Webhooks' example schedule spans about three days).
RetryPolicy WebhookRetryPolicy();

// What one attempt came to.
struct Outcome {
  enum Kind {
    kDelivered,  // 2xx: the items leave the queue
    kFailed,     // anything else that may succeed later (5xx, 4xx, 3xx, timeout, refused)
    kSlowDown,   // 429, 502, 504: back off at least RetryPolicy::slow_down_min
    kGone,       // 410: disable the destination; its queue becomes failed records
  };
  Kind kind = kFailed;
  int http_status = 0;  // 0 when there was no HTTP answer
  std::string detail;   // for last_error, logs and failed records
  Micros retry_after = 0;

  // Classifies an HTTP status as Standard Webhooks asks: 2xx delivered, 410 gone, 429/502/504
  // slow down, anything else (redirects included) failed.
  static Outcome FromHttpStatus(int status, std::string detail, Micros retry_after = 0);
};

// Sends to one destination. Called from that destination's delivery thread only.
class Transport {
 public:
  virtual ~Transport() = default;
  // Sends `items` (1..max_batch of them, in queue order) as one attempt at time `now`.
  virtual Outcome Send(const std::vector<const v1::OutboxItem*>& items, Micros now) = 0;
};

struct DestinationConfig {
  std::string name;                // stable: the queue's key. Non-empty, no '\0'.
  Transport* transport = nullptr;  // REQUIRES: outlives the outbox
  RetryPolicy policy;
  size_t max_batch = 1;  // items per attempt
};

// One thing to queue for one destination (by index into the configured destinations).
struct NewItem {
  size_t destination = 0;
  std::string id;    // the delivery id the destination dedupes by
  std::string body;  // the exact bytes to send
  // Non-empty: replaces a queued item of this destination with the same key (its newer state,
  // e.g. an alert resolved before the firing one was delivered). The replacement goes to the
  // back of the queue.
  std::string coalesce_key;
};

class Outbox {
 public:
  struct Options {
    std::string path;      // the RocksDB directory (created if missing)
    bool sync = false;     // fsync every write (survive power loss, not only crashes)
    uint64_t seed = 1;     // jitter randomness (injected: tests are deterministic)
    Micros poll = 50'000;  // Start(): longest real-time sleep before looking at the clock again
  };
  // Opens (or creates) the outbox. Destinations may be added or removed between runs; the queue
  // of a destination no longer configured stays on disk untouched.
  // REQUIRES: clock (and registry, if given) outlive the outbox.
  static StatusOr<std::unique_ptr<Outbox>> Open(Options options,
                                                std::vector<DestinationConfig> destinations,
                                                const Clock* clock,
                                                prometheus::Registry* registry = nullptr);
  ~Outbox();  // stops the delivery threads

  // The follower's next index, as last written by Enqueue/SetSourceNext (0 when fresh).
  uint64_t source_next() const { return source_next_.load(); }
  // Queues `items` and sets source_next() to `source_next`, in one write. An item for a disabled
  // destination is recorded as failed at once. On failure nothing is written.
  Status Enqueue(const std::vector<NewItem>& items, uint64_t source_next);
  Status SetSourceNext(uint64_t source_next);

  // One delivery step for destination d at `now`: if it is due, sends up to max_batch items from
  // the head of its queue and records the outcome. Returns when it next wants to run (kNever when
  // its queue is empty or it is disabled; `now` when more items are ready at once). An error
  // only when the store fails.
  StatusOr<Micros> DeliverDue(size_t d, Micros now);

  // Runs DeliverDue for every destination, each on its own thread, until Stop(). Enqueue wakes
  // the destinations it queued for.
  void Start();
  void Stop();
  // The first store error a delivery thread met (they stop on it); OK otherwise.
  Status thread_status() const;

  // A read-only look at an outbox on disk, while its owner runs or not: every destination's
  // status (queued, delivered, failed, disabled, schedule) and every failed delivery.
  struct Snapshot {
    std::vector<v1::DestinationStatus> destinations;
    std::vector<v1::FailedDelivery> failed;
  };
  static StatusOr<Snapshot> Inspect(const std::string& path);
  // Enables a destination disabled by a 410 again (its failed records stay), and clears its
  // backoff. REQUIRES: no process has the outbox open (kIoError names the lock otherwise).
  // kNotFound if the outbox has no state for that destination.
  static Status Enable(const std::string& path, const std::string& destination);

  size_t destinations() const { return dests_.size(); }
  v1::DestinationStatus status(size_t d) const;
  // The failed deliveries of every destination, in destination then sequence order.
  StatusOr<std::vector<v1::FailedDelivery>> Failed(size_t limit = SIZE_MAX) const;

 private:
  struct Dest;
  Outbox(Options options, const Clock* clock);
  Status Load(Dest* d);
  Status SaveState(Dest* d, void* batch);
  Micros Backoff(Dest* d, const Outcome& o);
  void Loop(size_t d);

  Options options_;
  const Clock* clock_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<std::unique_ptr<Dest>> dests_;
  std::atomic<uint64_t> source_next_{0};
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  mutable std::mutex status_mu_;
  Status thread_status_;
};

}  // namespace probity::deliver
