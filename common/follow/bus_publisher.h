// The one Publisher of every follower: produces to the bus and tells the runtime when everything
// published so far is confirmed.
//
// Why not bus::PublicationStream (common/bus/outbox.h): that stream re-sends records its owner
// keeps in a durable outbox. A follower keeps no outbox: its outputs are a deterministic function
// of the log, so after a refusal the runtime goes back to the follower's last saved state and
// replays, which publishes the same bytes again (receivers drop them as exact redeliveries). What
// is needed here is only "has every message since the last save been confirmed?".
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/bus/kafka.h"
#include "common/follow/follower.h"
#include "common/status/status.h"
#include "common/sync/mutex.h"

namespace probity::follow {

class BusPublisher final : public Publisher {
 public:
  // A publisher with its own producer made by `bus` (delivery reports wired to this).
  // REQUIRES: bus outlives the publisher.
  static StatusOr<std::unique_ptr<BusPublisher>> Create(bus::BusFactory* bus);
  // Over a producer the caller made; the caller passes its delivery reports to OnDelivery().
  // REQUIRES: producer outlives the publisher.
  explicit BusPublisher(bus::MessageProducer* producer) : producer_(producer) {}

  // Enqueues (partition chosen by key). Errors: those of MessageProducer::Produce.
  Status Publish(std::string_view topic, std::string_view key, std::string_view value,
                 const bus::Headers& headers = {}) override;

  // Waits (up to timeout_ms) until every message published so far is delivered; Ok only if the
  // bus confirmed every one of them. Otherwise the first refusal (kUnavailable, or
  // kFailedPrecondition when resending cannot help), or kUnavailable on timeout. After a
  // failure, Reset() before publishing again.
  Status Confirm(int timeout_ms) EXCLUDES(mu_);
  // Forgets what was published and failed (the runtime replays from the last saved state); makes
  // a new producer when the old one failed for good and this publisher made it.
  Status Reset() EXCLUDES(mu_);
  // Fetches the topic's metadata now when the producer is librdkafka's (bus::Producer::WarmUp),
  // so that the first message does not wait for a leader lookup; Ok otherwise.
  Status WarmUp(const std::string& topic, int timeout_ms);
  // Serves delivery reports without blocking.
  void Poll() { producer_->Poll(0); }

  // A delivery report of a message this publisher produced (any thread).
  void OnDelivery(const bus::DeliveryReport& report) EXCLUDES(mu_);

  uint64_t published() const EXCLUDES(mu_);
  uint64_t confirmed() const EXCLUDES(mu_);
  bus::MessageProducer* producer() { return producer_; }

 private:
  BusPublisher() = default;
  bus::BusFactory* bus_ = nullptr;
  std::unique_ptr<bus::MessageProducer> owned_;
  bus::MessageProducer* producer_ = nullptr;
  mutable Mutex mu_;
  uint64_t generation_ GUARDED_BY(mu_) = 0;  // tags of earlier generations are ignored
  uint64_t sent_ GUARDED_BY(mu_) = 0;        // this generation
  uint64_t delivered_ GUARDED_BY(mu_) = 0;   // this generation
  Status failure_ GUARDED_BY(mu_);           // first refusal of this generation
  uint64_t published_total_ GUARDED_BY(mu_) = 0;
  uint64_t confirmed_total_ GUARDED_BY(mu_) = 0;
};

}  // namespace probity::follow
