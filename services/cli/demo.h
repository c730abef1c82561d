// The demo of `probity up --demo`: a generated slice of the national feed produced onto the
// embedded bus, and a one-screen live summary.
#pragma once

#include <atomic>

#include "common/bus/kafka.h"
#include "common/status/status.h"
#include "services/ingest/ingest.h"
#include "services/rules/runner.h"

namespace probity::cli {

struct DemoOptions {
  // About 350 real practices with half the national per-practice volumes: enough events for the
  // rate rules' minimum expected counts, so every anomaly kind is detectable (docs/generator.md).
  double practice_fraction = 0.05;
  double volume_fraction = 0.5;
  double anomaly_share = 0.05;
  // The embedded bus keeps about 5 MB per partition: the feed is paced so ingest never falls
  // that far behind. About 1.2 M events: the simulated year takes about a minute.
  double events_per_second = 20000;
  uint64_t seed = 1;
  std::string truth_file;  // where the ground truth goes
};

// Produces the demo stream onto the bus (in a background thread, paced by `clock`) and prints a
// live summary every two seconds until `stop` becomes true, or the feed fails: returns the feed's
// error then (ok when it was stopped). REQUIRES: clock outlives the call.
Status RunDemo(const bus::ClientConfig& bus, const DemoOptions& options,
               const ingest::IngestService& ingest, const rules::RulesRunner* rules,
               const std::string& links, const std::atomic<bool>& stop, const Clock* clock);

}  // namespace probity::cli
