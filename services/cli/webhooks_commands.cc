#include "services/cli/webhooks_commands.h"

#include <prometheus/registry.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/codec/codec.h"
#include "common/follow/bus_publisher.h"
#include "common/follow/runtime.h"
#include "common/metrics/http_server.h"
#include "common/sync/mutex.h"

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

StatusOr<WebhooksSetup> PrepareWebhooks(const std::string& routing_file, const std::string& key_dir,
                                        const std::string& public_key_file) {
  WebhooksSetup s;
  PROBITY_ASSIGN_OR_RETURN(s.routing, webhooks::Routing::LoadFile(routing_file));
  PROBITY_ASSIGN_OR_RETURN(webhooks::SigningKey ed,
                           webhooks::LoadOrCreateEd25519Key(key_dir, true, public_key_file));
  s.public_key = ed.public_key();
  // Rotation: a previous key kept in KEY_DIR.previous/ still signs (after the current one), so
  // receivers that trust either accept every webhook until they have moved to the new key.
  std::vector<webhooks::SigningKey> ed_keys = {ed};
  if (std::filesystem::exists(key_dir + ".previous/probity.key")) {
    PROBITY_ASSIGN_OR_RETURN(webhooks::SigningKey previous,
                             webhooks::LoadOrCreateEd25519Key(key_dir + ".previous", false, ""));
    ed_keys.push_back(std::move(previous));
  }
  for (const webhooks::EndpointConfig& ep : s.routing.endpoints()) {
    PROBITY_ASSIGN_OR_RETURN(auto keys, webhooks::EndpointKeys(ep, ed_keys));
    PROBITY_ASSIGN_OR_RETURN(auto t, webhooks::HttpTransport::Create(ep.url, std::move(keys)));
    s.transports.push_back(std::move(t));
  }
  return s;
}

Status RunWebhooksTarget(WebhooksSetup* setup, const WebhooksLog& log, const std::string& state_dir,
                         int64_t first_retry_ms, const Runtime& rt, prometheus::Registry* registry,
                         std::function<void(std::function<metrics::Health()>)> health) {
  std::vector<deliver::Transport*> transports;
  for (auto& t : setup->transports) transports.push_back(t.get());
  webhooks::WebhooksFollower::Options options{.state_dir = state_dir};
  options.seed = static_cast<uint64_t>(rt.clock->NowMicros());
  options.policy.first_delay = first_retry_ms * 1000;
  webhooks::WebhooksFollower follower(options, setup->routing, transports, rt.clock, registry);
  bus::KafkaBus bus(log.bus);
  PROBITY_ASSIGN_OR_RETURN(auto publisher, follow::BusPublisher::Create(&bus));
  follow::Runtime runtime({.data_dir = state_dir + "/runtime",
                           .origin = log.origin,
                           .log_keys = log.log_keys,
                           .save_every = 1'000'000},
                          &follower, log.entries, log.checkpoints, publisher.get(), rt.clock);
  PROBITY_RETURN_IF_ERROR(runtime.Start());  // restores the follower: its outbox is open
  if (health) health([&runtime] { return runtime.health(); });
  follower.StartDelivery();
  Status st = runtime.Run(rt.stop);
  follower.StopDelivery();
  if (health) health({});
  if (st.ok()) st = follower.outbox()->thread_status();
  return st;
}

int RunWebhooks(const WebhooksCommandOptions& o, const Runtime& rt) {
  const std::string key_dir = o.key_dir.empty() ? o.data_dir + "/keys/webhooks" : o.key_dir;
  auto setup = PrepareWebhooks(o.routing_file, key_dir, key_dir + ".pub");
  if (!setup.ok()) return Fail("webhooks", setup.status());
  WebhooksLog log{.origin = o.origin, .bus = o.bus};
  std::unique_ptr<follow::CheckpointTopicSource> checkpoints;
  if (!o.log_key.empty()) {
    std::ifstream in(o.log_key);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    auto key = note::Verifier::FromVerifierKey(text);
    if (!in || !key.ok()) {
      return Fail("webhooks", InvalidArgument("--log-key " + o.log_key + ": " +
                                              (in ? key.status().message() : "cannot read")));
    }
    log.log_keys.push_back(*key);
    auto cs = follow::CheckpointTopicSource::Create(o.bus);
    if (!cs.ok()) return Fail("webhooks", cs.status());
    checkpoints = std::move(cs).value();
    log.checkpoints = checkpoints.get();
  }
  auto topic = follow::LogTopicSource::Create(o.bus);
  if (!topic.ok()) return Fail("webhooks", topic.status());
  follow::CatchUpSource source(topic->get(), o.catch_up_from);
  log.entries = &source;
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
  st = RunWebhooksTarget(&*setup, log, o.data_dir + "/webhooks", o.first_retry_ms, rt,
                         registry.get(), [&](std::function<metrics::Health()> f) {
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
  wh->add_option("--origin", o->origin, "The log's checkpoint origin")->capture_default_str();
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
