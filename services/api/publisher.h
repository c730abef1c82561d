// How the api puts records on the bus and knows they are there: every access record and decision
// is produced and the request waits for the bus's delivery report before it answers.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/bus/kafka.h"
#include "common/status/status.h"
#include "common/sync/mutex.h"

namespace probity::api {

class ConfirmedPublisher {
 public:
  virtual ~ConfirmedPublisher() = default;
  // Produces one message and returns once the bus confirmed it (Ok), refused it, or did not
  // answer within timeout_ms (kUnavailable). Thread-safe. On an error the caller MUST NOT act as
  // if the message was delivered (it may still arrive: what it carries is idempotent).
  virtual Status Publish(std::string_view topic, std::string_view key, std::string_view value,
                         int timeout_ms) = 0;
};

// Over a bus producer made by a BusFactory. One thread owns the producer: it produces what
// Publish() calls queue, in batches, and serves delivery reports, blocking in the producer's poll
// (up to 1 ms) while reports are awaited and sleeping while none is; each Publish() waits for its
// own report.
class ConfirmingBusPublisher final : public ConfirmedPublisher {
 public:
  // REQUIRES: bus outlives the call.
  static StatusOr<std::unique_ptr<ConfirmingBusPublisher>> Create(bus::BusFactory* bus);
  // REQUIRES: no Publish() is running. Produces nothing more; flushes what was produced.
  ~ConfirmingBusPublisher() override;
  Status Publish(std::string_view topic, std::string_view key, std::string_view value,
                 int timeout_ms) override EXCLUDES(mu_);

 private:
  ConfirmingBusPublisher() = default;
  // The producer's thread.
  void Run() EXCLUDES(mu_);
  void OnDelivery(const bus::DeliveryReport& r) EXCLUDES(mu_);
  // Hands `status` to the Publish() waiting for `tag`, if one still does.
  void Finish(uint64_t tag, const Status& status) REQUIRES(mu_);
  // One Publish() waiting for its report: woken alone (not every waiter at each report).
  struct Waiter {
    CondVar delivered;
    std::optional<Status> status;
  };
  // A message queued for the producer's thread.
  struct Pending {
    uint64_t tag;
    std::string topic, key, value;
  };
  // Used on the producer's thread only (and by the destructor once that thread has ended).
  std::unique_ptr<bus::MessageProducer> producer_;
  Mutex mu_;
  CondVar work_;  // a message queued, or stop_
  uint64_t next_tag_ GUARDED_BY(mu_) = 1;
  std::vector<Pending> pending_ GUARDED_BY(mu_);
  // Tags whose report is awaited; a Publish() that timed out removes its own, and the report
  // that comes later finds no one.
  std::map<uint64_t, Waiter*> waiting_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace probity::api
