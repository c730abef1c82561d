// Conversions between Micros (µs since the Unix epoch, UTC) and google.protobuf.Timestamp: the
// one copy every component uses.
#pragma once

#include <google/protobuf/timestamp.pb.h>

#include "common/time/clock.h"

namespace probity {

// Floors towards minus infinity, so that times before 1970 keep nanos in [0, 1e9).
inline void SetTimestamp(google::protobuf::Timestamp* ts, Micros t) {
  Micros s = t / 1000000, us = t % 1000000;
  if (us < 0) {
    us += 1000000;
    s -= 1;
  }
  ts->set_seconds(s);
  ts->set_nanos(static_cast<int32_t>(us * 1000));
}

inline google::protobuf::Timestamp ToTimestamp(Micros t) {
  google::protobuf::Timestamp ts;
  SetTimestamp(&ts, t);
  return ts;
}

// Truncates nanoseconds to whole microseconds.
inline Micros FromTimestamp(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000000 + ts.nanos() / 1000;
}

}  // namespace probity
