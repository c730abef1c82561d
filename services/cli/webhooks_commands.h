// `probity webhooks` (run the webhooks target), `probity webhooks check|status|failed`, and the
// webhooks target inside `probity up --routing FILE` (docs/webhooks.md, docs/operations.md).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "services/cli/commands.h"
#include "services/webhooks/target.h"

namespace CLI {
class App;
}

namespace probity::cli {

struct WebhooksCommandOptions {
  bus::ClientConfig bus{kDefaultBootstrapServers, {}};
  std::string routing_file;
  std::string data_dir = "./probity-webhooks";  // state: DATA_DIR/webhooks
  std::string key_dir;        // default DATA_DIR/keys/webhooks (created if missing)
  std::string catch_up_from;  // a verified copy of the log, for what retention took
  std::string log_key;        // the log's verifier key file (probity.pub): checkpoints are checked
  std::string origin;  // the log's checkpoint origin: the --log-key's name (checked if given)
  HttpOptions http{.port = 9467};
  int64_t first_retry_ms = 5000;  // the webhook retry schedule's first delay
  std::string endpoint;           // `webhooks enable`
};

int RunWebhooks(const WebhooksCommandOptions& o, const Runtime& rt);

// Adds `probity webhooks` and its subcommands, and --routing to `probity up`. The chosen
// command's function is stored in *action (as app.cc does for every command).
void AddWebhooksCommands(CLI::App& app, WebhooksCommandOptions* o, CLI::App* up,
                         UpOptions* up_options, const Runtime& rt, std::function<int()>* action);

}  // namespace probity::cli
