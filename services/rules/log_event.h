// The rules engine's input: one sequenced, decoded log entry.
#pragma once

#include <cstdint>

#include "probity/v1/events.pb.h"
#include "probity/v1/log.pb.h"

namespace probity::rules {

// One sequenced log entry, decoded. The engine sees entries in strictly increasing index order.
// The references MUST outlive the call they are passed to; the engine keeps no pointer to them.
struct LogEvent {
  uint64_t index;
  const probity::v1::LogRecord& record;
  const probity::v1::Envelope& envelope;
};

}  // namespace probity::rules
