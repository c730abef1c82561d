// How the api puts records on the bus and knows they are there: every access record and decision
// is produced and the request waits for the bus's delivery report before it answers.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <thread>

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

// Over a bus producer made by a BusFactory: one thread serves delivery reports; each Publish()
// waits for its own.
class ConfirmingBusPublisher final : public ConfirmedPublisher {
 public:
  // REQUIRES: bus outlives the call.
  static StatusOr<std::unique_ptr<ConfirmingBusPublisher>> Create(bus::BusFactory* bus);
  ~ConfirmingBusPublisher() override;
  Status Publish(std::string_view topic, std::string_view key, std::string_view value,
                 int timeout_ms) override EXCLUDES(mu_);

 private:
  ConfirmingBusPublisher() = default;
  void OnDelivery(const bus::DeliveryReport& r) EXCLUDES(mu_);
  // One Publish() waiting for its report: woken alone (not every waiter at each report).
  struct Waiter {
    CondVar delivered;
    std::optional<Status> status;
  };
  std::unique_ptr<bus::MessageProducer> producer_;
  Mutex produce_mu_;  // Produce and Poll are not called at once (fakes are not thread-safe)
  Mutex mu_;
  uint64_t next_tag_ GUARDED_BY(mu_) = 1;
  // Tags whose report is awaited; a Publish() that timed out removes its own, and the report
  // that comes later finds no one.
  std::map<uint64_t, Waiter*> waiting_ GUARDED_BY(mu_);
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

}  // namespace probity::api
