#include "services/alerts/outbox_sink.h"

namespace probity::alerts {

deliver::Outcome AlertmanagerTransport::Send(const std::vector<const v1::OutboxItem*>& items,
                                             Micros) {
  // Each item's body is a one-alert array (AlertsJson of one alert): join their elements.
  std::string json = "[";
  for (const v1::OutboxItem* item : items) {
    const std::string& b = item->body();
    if (json.size() > 1) json += ",";
    json.append(b, 1, b.size() - 2);
  }
  json += "]";
  int http_status = 0;
  const Status st = client_->PostJson(json, &http_status);
  if (http_status == 0) {
    return {.kind = deliver::Outcome::kFailed, .detail = st.message()};
  }
  // Alertmanager answers 200; anything else (410 included) is a failure to retry: alerts must
  // get through however long it takes.
  deliver::Outcome o = deliver::Outcome::FromHttpStatus(http_status, st.message());
  if (http_status != 200) o.kind = deliver::Outcome::kFailed;
  return o;
}

deliver::RetryPolicy AlertmanagerRetryPolicy() {
  deliver::RetryPolicy p;
  p.first_delay = deliver::kSecond;
  p.multiplier = 2;
  p.max_delay = 60 * deliver::kSecond;
  p.slow_down_min = 5 * deliver::kSecond;
  p.give_up_after = 0;
  return p;
}

StatusOr<std::unique_ptr<OutboxAlertSink>> OutboxAlertSink::Open(const std::string& path,
                                                                 deliver::Transport* transport,
                                                                 const webhooks::Routing* routing,
                                                                 const Clock* clock,
                                                                 prometheus::Registry* registry) {
  auto sink = std::unique_ptr<OutboxAlertSink>(new OutboxAlertSink());
  std::vector<deliver::DestinationConfig> d;
  d.push_back({.name = "alertmanager",
               .transport = transport,
               .policy = AlertmanagerRetryPolicy(),
               .max_batch = 500});
  PROBITY_ASSIGN_OR_RETURN(sink->outbox_,
                           deliver::Outbox::Open({.path = path}, std::move(d), clock, registry));
  sink->routing_ = routing;
  return sink;
}

Status OutboxAlertSink::Send(const std::vector<Alert>& alerts) {
  if (alerts.empty()) return Status::Ok();
  std::vector<deliver::NewItem> items;
  for (Alert a : alerts) {
    if (routing_) {
      const webhooks::Subject s{.event = webhooks::kFlagRaised,
                                .practice = a.labels["practice"],
                                .icb = a.labels["icb"],
                                .rule = a.labels["rule_id"],
                                .severity = a.labels["severity"]};
      for (const auto& [k, v] : routing_->AlertLabelsFor(s)) a.labels.emplace(k, v);
    }
    const std::string flag = a.labels["flag_id"];
    items.push_back({.destination = 0,
                     .id = flag + (a.ends_at.empty() ? "/firing" : "/resolved"),
                     .body = AlertsJson({a}),
                     .coalesce_key = flag});
  }
  // The alerts runner keeps its own cursor; the outbox's is not used.
  return outbox_->Enqueue(items, 0);
}

}  // namespace probity::alerts
