// The webhooks target's runtime: the routing file, the signing keys and one transport per endpoint
// (Setup), run as a follower of the log on the follower runtime (RunTarget) with each endpoint's
// delivery thread beside it. `probity webhooks` and `probity up --routing FILE` only wire it
// (services/cli/webhooks_commands.cc); docs/webhooks.md, docs/operations.md.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/bus/kafka.h"
#include "common/follow/checkpoint_source.h"
#include "common/follow/entry_source.h"
#include "common/metrics/http_server.h"
#include "common/note/note.h"
#include "common/status/status.h"
#include "common/time/clock.h"
#include "services/webhooks/routing.h"
#include "services/webhooks/webhooks.h"

namespace prometheus {
class Registry;
}

namespace probity::webhooks {

// Everything the target needs, checked before anything starts: the routing file, the signing
// keys (the Ed25519 pair created under key_dir if missing, its whpk_ public key written to
// public_key_file; a previous pair kept in KEY_DIR.previous/ still signs, after the current one,
// so that receivers trusting either accept every webhook during a rotation), one transport per
// endpoint.
struct Setup {
  Routing routing;
  std::vector<std::unique_ptr<HttpTransport>> transports;
  std::string public_key;  // "whpk_..."

  static StatusOr<Setup> Prepare(const std::string& routing_file, const std::string& key_dir,
                                 const std::string& public_key_file);
};

// Where the target reads the log, and how it checks it (common/follow/runtime.h): entries,
// checkpoints (null: none verified), the log's origin and keys.
struct LogInputs {
  follow::EntrySource* entries = nullptr;
  follow::CheckpointSource* checkpoints = nullptr;
  std::string origin;
  std::vector<note::Verifier> log_keys;
  bus::ClientConfig bus;  // the runtime's publisher (webhooks publish nothing on the bus)
};

struct TargetOptions {
  std::string state_dir;          // the outbox and the runtime's state
  int64_t first_retry_ms = 5000;  // the retry schedule's first delay
};

// Runs the webhooks follower on the follower runtime until *stop; its delivery threads run
// meanwhile. `health`, if given, is set to the runtime's health function while it runs (and
// cleared after). REQUIRES: setup, the sources, clock and registry (may be null) outlive the call.
Status RunTarget(Setup* setup, const LogInputs& log, const TargetOptions& options,
                 const Clock* clock, const std::atomic<bool>* stop, prometheus::Registry* registry,
                 std::function<void(std::function<metrics::Health()>)> health = {});

}  // namespace probity::webhooks
