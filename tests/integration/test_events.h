// Valid events for integration tests, built in code so each test states what it sends.
#pragma once

#include <string>

#include "probity/v1/events.pb.h"

namespace probity::testing {

inline v1::Envelope Claim(const std::string& event_id, const std::string& practice, int64_t pence,
                          int64_t occurred_seconds = 1656633600 /* 2022-07-01 */) {
  v1::Envelope e;
  e.set_event_id(event_id);
  e.set_kind(v1::EVENT_KIND_CLAIM);
  e.set_schema_version(1);
  e.set_practice_code(practice);
  e.mutable_occurred_at()->set_seconds(occurred_seconds);
  e.set_source_system("test");
  auto* c = e.mutable_claim();
  c->set_claim_id("C-" + event_id);
  c->set_stream(v1::PAYMENT_STREAM_GLOBAL_SUM);
  c->set_service_code("GSUM");
  c->mutable_period_start()->set_seconds(occurred_seconds - 30 * 86400);
  c->mutable_period_end()->set_seconds(occurred_seconds - 86400);
  c->set_quantity(1);
  c->set_unit_price_pence(pence);
  c->set_amount_pence(pence);
  c->set_status(v1::CLAIM_STATUS_SUBMITTED);
  return e;
}

}  // namespace probity::testing
