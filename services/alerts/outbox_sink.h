// Delivery to Alertmanager through a durable outbox (common/deliver): the alerts runner hands its
// alerts to an OutboxAlertSink, whose Send() returns once they are written to RocksDB, so the
// runner's cursor moves only past alerts that are safe on disk; the outbox then retries
// Alertmanager from its own queue, with backoff, for as long as it is down. Delivery never depends
// on re-reading the log (issue 15: a single 503 used to strand a batch the reader had consumed).
//
// Each alert is one queued item keyed by its flag id: a newer state of the same alert (resolved,
// or re-sent while Alertmanager is down) replaces a queued older one, so an outage of any length
// queues at most one item per open alert. Alertmanager merges repeats of a label set, so a
// repeat after a crash is harmless: one alert per flag.
//
// With a routing file, each alert also gets the alertmanager_labels of every route matching it
// (services/webhooks/routing.h), for Alertmanager's own routing by team or watch-list.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/deliver/outbox.h"
#include "services/alerts/alerts.h"
#include "services/webhooks/routing.h"

namespace probity::alerts {

// Posts queued alerts (up to the batch size) to Alertmanager as one JSON array.
class AlertmanagerTransport final : public deliver::Transport {
 public:
  // REQUIRES: client outlives the transport.
  explicit AlertmanagerTransport(AlertmanagerClient* client) : client_(client) {}
  deliver::Outcome Send(const std::vector<const v1::OutboxItem*>& items, Micros now) override;

 private:
  AlertmanagerClient* client_;
};

// Alertmanager's retry policy: from 1 s, doubling to at most 1 min, never given up.
deliver::RetryPolicy AlertmanagerRetryPolicy();

class OutboxAlertSink final : public AlertSink {
 public:
  // Opens the outbox at `path`. REQUIRES: transport, clock, routing and registry (the last two
  // may be null) outlive the sink.
  static StatusOr<std::unique_ptr<OutboxAlertSink>> Open(const std::string& path,
                                                         deliver::Transport* transport,
                                                         const webhooks::Routing* routing,
                                                         const Clock* clock,
                                                         prometheus::Registry* registry);
  // Queues the alerts durably; delivery happens on the outbox's thread (Start()).
  Status Send(const std::vector<Alert>& alerts) override;
  void Start() { outbox_->Start(); }
  void Stop() { outbox_->Stop(); }
  deliver::Outbox* outbox() { return outbox_.get(); }

 private:
  std::unique_ptr<deliver::Outbox> outbox_;
  const webhooks::Routing* routing_ = nullptr;
};

}  // namespace probity::alerts
