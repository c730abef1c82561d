#include "services/cli/webhooks_commands.h"

#include <prometheus/registry.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/codec/codec.h"
#include "common/metrics/http_server.h"
#include "common/sync/mutex.h"
#include "services/cli/follow_support.h"

namespace probity::cli {
namespace {

int PrintInspect(const WebhooksCommandOptions& o, bool failed) {
  auto snap = deliver::Outbox::Inspect(o.data_dir + "/webhooks/outbox");
  if (!snap.ok()) return Fail(failed ? "webhooks failed" : "webhooks status", snap.status());
  if (failed) {
    for (const auto& f : snap->failed) std::cout << codec::ToJson(f) << "\n";
    return kExitOk;
  }
  for (const auto& d : snap->destinations) {
    std::cout << codec::ToJson(d, codec::JsonOptions{.print_defaults = true}) << "\n";
  }
  return kExitOk;
}

}  // namespace

int RunWebhooks(const WebhooksCommandOptions& o, const Runtime& rt) {
  const std::string key_dir = o.key_dir.empty() ? o.data_dir + "/keys/webhooks" : o.key_dir;
  auto setup = webhooks::Setup::Prepare(o.routing_file, key_dir, key_dir + ".pub");
  if (!setup.ok()) return Fail("webhooks", setup.status());
  auto in = OpenBusFollowInputs(o.bus, o.catch_up_from, o.log_key, "webhooks");
  if (!in.ok()) return Fail("webhooks", in.status());
  if (!o.origin.empty() && !o.log_key.empty() && o.origin != in->origin) {
    return Fail("webhooks",
                InvalidArgument("--origin " + o.origin + " is not the name of --log-key " +
                                o.log_key + " (" + in->origin + ")"));
  }
  const webhooks::LogInputs log{.entries = in->entries.get(),
                                .checkpoints = in->checkpoints.get(),
                                .origin = in->origin,
                                .log_keys = in->log_keys,
                                .bus = o.bus};
  auto registry = std::make_shared<prometheus::Registry>();
  Mutex mu;
  std::function<metrics::Health()> health_fn;
  metrics::HttpServer http(registry, [&] {
    MutexLock l(&mu);
    if (health_fn) return health_fn();
    v1::HealthReport r;
    r.set_target("webhooks");
    r.add_not_ready_reasons("starting");
    return metrics::Health{false, codec::ToJson(r, codec::JsonOptions{.print_defaults = true}),
                           true};
  });
  Status st = http.Start(o.http.host, o.http.port);
  if (!st.ok()) return Fail("webhooks", st);
  std::cout << "probity webhooks: following probity.log.v1 on " << o.bus.bootstrap_servers << ", "
            << setup->routing.endpoints().size() << " endpoints; public key " << setup->public_key
            << " (" << key_dir << ".pub); "
            << (o.log_key.empty() ? "checkpoints NOT verified (no --log-key); "
                                  : "checkpoints verified with " + o.log_key + "; ")
            << "metrics on http://" << o.http.host << ":" << http.port() << "/metrics" << std::endl;
  st = webhooks::RunTarget(
      &*setup, log, {.state_dir = o.data_dir + "/webhooks", .first_retry_ms = o.first_retry_ms},
      rt.clock, rt.stop, registry.get(), [&](std::function<metrics::Health()> f) {
        MutexLock l(&mu);
        health_fn = std::move(f);
      });
  http.Stop();
  if (!st.ok()) return Fail("webhooks", st);
  std::cout << "probity webhooks: stopped" << std::endl;
  return kExitOk;
}

void AddWebhooksCommands(CLI::App& app, WebhooksCommandOptions* o, CLI::App* up,
                         UpOptions* up_options, const Runtime& rt, std::function<int()>* action) {
  up->add_option("--routing", up_options->routing_file,
                 "Routing file: run the webhooks target, and label alerts (docs/webhooks.md)");
  up->add_option("--webhook-first-retry-ms", up_options->webhook_first_retry_ms,
                 "First delay of the webhook retry schedule")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  auto* wh = app.add_subcommand(
      "webhooks", "Run the webhooks target: follow probity.log.v1, deliver signed webhooks");
  wh->require_subcommand(0, 1);
  wh->add_option("--routing", o->routing_file, "Routing file (endpoints, routes, watch-lists)");
  wh->add_option("--bootstrap-servers", o->bus.bootstrap_servers, "Kafka bootstrap servers")
      ->capture_default_str();
  wh->add_option("--data-dir", o->data_dir, "Delivery state goes in DATA_DIR/webhooks")
      ->capture_default_str();
  wh->add_option("--key-dir", o->key_dir,
                 "Ed25519 webhook key directory (default DATA_DIR/keys/webhooks; created if "
                 "missing; the whpk_ public key is written beside it as KEY_DIR.pub)");
  wh->add_option("--log-key", o->log_key,
                 "The log's verifier key file (probity.pub): every checkpoint on "
                 "probity.checkpoints.v1 is checked against the follower's own tree");
  wh->add_option("--origin", o->origin,
                 "The log's checkpoint origin (default: the --log-key's name; checked against it)");
  wh->add_option("--catch-up-from", o->catch_up_from,
                 "A verified copy of the log to read entries retention has taken");
  wh->add_option("--http-host", o->http.host, "Address for /metrics and /healthz")
      ->capture_default_str();
  wh->add_option("--http-port", o->http.port, "Port for /metrics and /healthz (0 = any)")
      ->capture_default_str();
  wh->add_option("--first-retry-ms", o->first_retry_ms,
                 "First delay of the retry schedule (x4 per failure, at most 12 h, about 3 days)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  auto* routing_opt = wh->get_option("--routing");
  wh->callback([o, wh, routing_opt, action, &rt] {
    if (!wh->get_subcommands().empty()) return;
    if (routing_opt->count() == 0) throw CLI::RequiredError("--routing");
    *action = [o, &rt] { return RunWebhooks(*o, rt); };
  });

  auto* check = wh->add_subcommand("check", "Validate a routing file (errors name the line)");
  check->add_option("--routing", o->routing_file, "Routing file")->required();
  check->callback([o, action] {
    if (*action) return;
    *action = [o] {
      auto r = webhooks::Routing::LoadFile(o->routing_file);
      if (!r.ok()) return Fail("webhooks check", r.status());
      std::cout << o->routing_file << ": ok, " << r->endpoints().size() << " endpoints\n";
      return static_cast<int>(kExitOk);
    };
  });
  auto* status = wh->add_subcommand("status", "Each endpoint's queue and state (JSON lines)");
  status->add_option("--data-dir", o->data_dir, "The webhooks target's DATA_DIR")
      ->capture_default_str();
  status->callback([o, action] {
    if (!*action) *action = [o] { return PrintInspect(*o, false); };
  });
  auto* enable = wh->add_subcommand(
      "enable", "Enable an endpoint a 410 disabled (stop the webhooks target first)");
  enable->add_option("--data-dir", o->data_dir, "The webhooks target's DATA_DIR")
      ->capture_default_str();
  enable->add_option("--endpoint", o->endpoint, "The endpoint's name in the routing file")
      ->required();
  enable->callback([o, action] {
    if (*action) return;
    *action = [o] {
      Status st = deliver::Outbox::Enable(o->data_dir + "/webhooks/outbox", o->endpoint);
      if (!st.ok()) return Fail("webhooks enable", st);
      std::cout << "endpoint " << o->endpoint << " enabled\n";
      return static_cast<int>(kExitOk);
    };
  });
  auto* failed =
      wh->add_subcommand("failed", "Deliveries that finally failed, with why (JSON lines)");
  failed->add_option("--data-dir", o->data_dir, "The webhooks target's DATA_DIR")
      ->capture_default_str();
  failed->callback([o, action] {
    if (!*action) *action = [o] { return PrintInspect(*o, true); };
  });
}

}  // namespace probity::cli
