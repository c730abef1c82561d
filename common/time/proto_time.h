// Micros (microseconds since the Unix epoch, UTC) to and from google.protobuf.Timestamp: the one
// conversion every component uses for envelope and record timestamps. Pure, header-only.
#pragma once

#include <cstdint>

#include "common/time/clock.h"
#include "google/protobuf/timestamp.pb.h"

namespace probity {

// Sets *ts to `t`: seconds = floor(t / 1e6), nanos = the remaining microseconds * 1000, so nanos
// is always in [0, 1e9) as the Timestamp contract requires, also before 1970.
inline void SetTimestamp(google::protobuf::Timestamp* ts, Micros t) {
  int64_t secs = t / 1'000'000;
  int64_t rem = t % 1'000'000;
  if (rem < 0) {
    rem += 1'000'000;
    --secs;
  }
  ts->set_seconds(secs);
  ts->set_nanos(static_cast<int32_t>(rem * 1000));
}

inline google::protobuf::Timestamp ToTimestamp(Micros t) {
  google::protobuf::Timestamp ts;
  SetTimestamp(&ts, t);
  return ts;
}

// seconds * 1e6 + nanos / 1000 (sub-microsecond nanos are dropped). Every valid Timestamp (years
// 0001-9999, nanos in [0, 1e9)) fits; REQUIRES: ts is valid, else the result is unspecified.
inline Micros FromTimestamp(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1'000'000 + ts.nanos() / 1000;
}

}  // namespace probity
