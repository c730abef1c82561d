// `probity webhooks` (run the webhooks target), `probity webhooks check|status|failed`, and the
// webhooks target inside `probity up --routing FILE` (docs/webhooks.md, docs/operations.md).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/follow/checkpoint_source.h"
#include "common/follow/entry_source.h"
#include "common/metrics/health.h"
#include "common/note/note.h"
#include "services/cli/commands.h"
#include "services/webhooks/webhooks.h"

namespace CLI {
class App;
}
namespace prometheus {
class Registry;
}

namespace probity::cli {

struct WebhooksCommandOptions {
  bus::ClientConfig bus{kDefaultBootstrapServers, {}};
  std::string routing_file;
  std::string data_dir = "./probity-webhooks";  // state: DATA_DIR/webhooks
  std::string key_dir;        // default DATA_DIR/keys/webhooks (created if missing)
  std::string catch_up_from;  // a verified copy of the log, for what retention took
  std::string log_key;        // the log's verifier key file (probity.pub): checkpoints are checked
  std::string origin = "probity.example/log";  // the log's checkpoint origin
  HttpOptions http{.port = 9467};
  int64_t first_retry_ms = 5000;  // the webhook retry schedule's first delay
  std::string endpoint;           // `webhooks enable`
};

// Everything the webhooks target needs, checked before anything starts: the routing file, the
// signing keys (the Ed25519 pair created under key_dir if missing, its whpk_ public key written
// to public_key_file), one transport per endpoint.
struct WebhooksSetup {
  webhooks::Routing routing;
  std::vector<std::unique_ptr<webhooks::HttpTransport>> transports;
  std::string public_key;  // "whpk_..."
};
StatusOr<WebhooksSetup> PrepareWebhooks(const std::string& routing_file, const std::string& key_dir,
                                        const std::string& public_key_file);

// Where the webhooks target reads the log, and how it checks it (the follower runtime,
// common/follow/runtime.h): entries, checkpoints (null: none verified), the log's origin and keys.
struct WebhooksLog {
  follow::EntrySource* entries = nullptr;
  follow::CheckpointSource* checkpoints = nullptr;
  std::string origin;
  std::vector<note::Verifier> log_keys;
  bus::ClientConfig bus;  // the runtime's publisher (webhooks publish nothing on the bus)
};

// Runs the webhooks follower on the follower runtime until *rt.stop; its delivery threads run
// meanwhile. State in state_dir. `health`, if given, is set to the runtime's health function
// while it runs. REQUIRES: setup, the sources and registry outlive the call.
Status RunWebhooksTarget(WebhooksSetup* setup, const WebhooksLog& log, const std::string& state_dir,
                         int64_t first_retry_ms, const Runtime& rt, prometheus::Registry* registry,
                         std::function<void(std::function<metrics::Health()>)> health = {});

int RunWebhooks(const WebhooksCommandOptions& o, const Runtime& rt);

// Adds `probity webhooks` and its subcommands, and --routing to `probity up`. The chosen
// command's function is stored in *action (as app.cc does for every command).
void AddWebhooksCommands(CLI::App& app, WebhooksCommandOptions* o, CLI::App* up,
                         UpOptions* up_options, const Runtime& rt, std::function<int()>* action);

}  // namespace probity::cli
