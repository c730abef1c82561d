// `probity webhooks` (run the webhooks target), `probity webhooks check|status|failed`, and the
// webhooks target inside `probity up --routing FILE` (docs/webhooks.md, docs/operations.md).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/follow/entry_source.h"
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
  HttpOptions http{.port = 9467};
  int64_t first_retry_ms = 5000;  // the webhook retry schedule's first delay
  bool json = false;
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

// Runs the webhooks follower over `source` until *rt.stop; its delivery threads run meanwhile.
// State in state_dir. REQUIRES: setup, source and registry outlive the call.
Status RunWebhooksTarget(WebhooksSetup* setup, follow::EntrySource* source,
                         const std::string& state_dir, int64_t first_retry_ms, const Runtime& rt,
                         prometheus::Registry* registry);

int RunWebhooks(const WebhooksCommandOptions& o, const Runtime& rt);

// Adds `probity webhooks` and its subcommands, and --routing to `probity up`. The chosen
// command's function is stored in *action (as app.cc does for every command).
void AddWebhooksCommands(CLI::App& app, WebhooksCommandOptions* o, CLI::App* up,
                         UpOptions* up_options, const Runtime& rt, std::function<int()>* action);

}  // namespace probity::cli
