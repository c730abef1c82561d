// The demo feed of `probity up --demo` and its one-screen live summary.
#pragma once

#include <atomic>

#include "common/bus/kafka.h"
#include "common/status/status.h"
#include "services/cli/commands.h"
#include "services/ingest/ingest.h"

namespace probity::cli {

// Produces the demo stream onto the bus and prints a live summary until *stop.
Status RunDemoFeed(const bus::ClientConfig& bus, const ServeFlags& flags,
                   const ingest::IngestService& ingest, const std::atomic<bool>& stop);

}  // namespace probity::cli
