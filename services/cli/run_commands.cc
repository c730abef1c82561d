// `probity bus`, `probity ingest`, `probity up`, `probity alerts`, `probity keygen`: the
// long-running targets.
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "common/bus/embedded_cluster.h"
#include "common/bus/topics.h"
#include "common/logstore/store.h"
#include "common/metrics/http_server.h"
#include "common/note/key_files.h"
#include "common/note/note.h"
#include "services/alerts/alerts.h"
#include "services/alerts/outbox_sink.h"
#include "services/cli/analysis_commands.h"
#include "services/cli/api_commands.h"
#include "services/cli/commands.h"
#include "services/cli/demo.h"
#include "services/cli/first_failure.h"
#include "services/cli/follow_support.h"
#include "services/cli/payments_commands.h"
#include "services/cli/webhooks_commands.h"
#include "services/ingest/ingest.h"
#include "services/payments/target.h"
#include "services/rules/rule_set.h"
#include "services/rules/runner.h"
#include "services/tiles/tiles.h"
#include "services/witness/collector.h"
#include "services/witness/witness.h"

namespace probity::cli {
namespace {

void WaitForStop(const Runtime& rt) {
  while (!rt.stop->load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

Status MakeDirectories(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create directory " + dir + ": " + ec.message());
  return Status::Ok();
}

// Loads the checkpoint signing key, creating a key pair first when asked to.
StatusOr<note::Signer> LoadSigner(const ServeOptions& s, bool generate_if_missing) {
  std::string path = s.signing_key.empty() ? s.data_dir + "/keys/probity.key" : s.signing_key;
  if (!std::filesystem::exists(path)) {
    if (!generate_if_missing) {
      return NotFound("no checkpoint signing key at " + path +
                      " (create one with `probity keygen --out-dir DIR` and pass --signing-key)");
    }
    std::string dir = std::filesystem::path(path).parent_path().string();
    PROBITY_RETURN_IF_ERROR(MakeDirectories(dir));
    PROBITY_ASSIGN_OR_RETURN(note::KeyPair kp, note::GenerateKey(s.ingest.checkpoint_origin));
    PROBITY_RETURN_IF_ERROR(note::WriteKeyFiles(kp, dir));
    std::cerr << "probity: created checkpoint signing key " << dir
              << "/probity.key (verifier key: " << kp.verifier_key << ")\n";
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string key = ss.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  return note::Signer::FromSignerKey(key);
}

// Everything ingest needs, started together; stopped in reverse order by Stop() or the destructor.
struct IngestStack {
  std::unique_ptr<logstore::LogStore> store;
  std::optional<note::Signer> signer;
  std::unique_ptr<witness::WitnessCollector> witnesses;  // outlives the service
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<ingest::IngestService> service;
  std::unique_ptr<metrics::HttpServer> http;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<bool> finished{false};  // Run returned; result is set
  Status result;

  ~IngestStack() { (void)Stop(); }

  // Opens the log, starts /metrics and /healthz, and runs ingest on its own thread until Stop().
  // Ingest failing is recorded in *failures (which stops the process). `embedded_bus`: the bus is
  // new, so ingest reads it from the beginning. REQUIRES: failures outlives the stack.
  Status Start(const bus::ClientConfig& bus, const ServeOptions& s, const Runtime& rt,
               bool generate_key_if_missing, bool embedded_bus, FirstFailure* failures) {
    PROBITY_RETURN_IF_ERROR(MakeDirectories(s.data_dir));
    PROBITY_ASSIGN_OR_RETURN(store,
                             logstore::LogStore::Open(s.data_dir + "/log", {.sync = s.sync}));
    PROBITY_ASSIGN_OR_RETURN(note::Signer key, LoadSigner(s, generate_key_if_missing));
    signer = std::move(key);
    ingest::IngestOptions o = s.ingest;
    // An embedded bus starts empty every time: offsets stored against an earlier one mean nothing.
    o.ignore_stored_offsets = embedded_bus;
    service = std::make_unique<ingest::IngestService>(o, bus, store.get(), rt.clock, registry.get(),
                                                      &*signer);
    if (!s.witnesses.empty()) {
      std::vector<witness::WitnessEndpoint> endpoints;
      for (const std::string& w : s.witnesses) {
        const size_t eq = w.find('=');
        if (eq == std::string::npos) {
          return InvalidArgument("--witness '" + w + "' is not URL=VKEY");
        }
        endpoints.push_back({w.substr(0, eq), w.substr(eq + 1)});
      }
      PROBITY_ASSIGN_OR_RETURN(witnesses, witness::WitnessCollector::Create(endpoints, store.get(),
                                                                            5000, registry.get()));
      service->SetCosigner(witnesses.get());
    }
    http = std::make_unique<metrics::HttpServer>(registry, [this] { return service->health(); });
    PROBITY_RETURN_IF_ERROR(http->Start(s.http.host, s.http.port));
    PROBITY_RETURN_IF_ERROR(service->Start());
    thread = std::thread([this, failures] {
      result = service->Run(&stop);
      finished = true;
      failures->Record("ingest", result);
    });
    return Status::Ok();
  }
  // Waits (up to max_ms) until ingest has read everything on the bus: nothing new consumed for
  // half a second.
  void Settle(int max_ms) {
    uint64_t last = service->stats().consumed;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
    int quiet_ms = 0;
    while (quiet_ms < 500 && std::chrono::steady_clock::now() < deadline && !finished) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      uint64_t now = service->stats().consumed;
      quiet_ms = now == last ? quiet_ms + 50 : 0;
      last = now;
    }
  }
  // Stops ingest (it drains first) and the HTTP server. Returns how ingest ended.
  Status Stop() {
    stop = true;
    if (thread.joinable()) thread.join();
    if (http) http->Stop();
    http.reset();
    return result;
  }
};

}  // namespace

int RunBus(const BusServerOptions& o, const Runtime& rt) {
  auto cluster = bus::EmbeddedCluster::Start({.brokers = o.brokers, .bootstrap_port = o.port});
  if (!cluster.ok()) return Fail("bus", cluster.status());
  std::cout << "probity bus: Kafka-protocol bus (in memory) at " << (*cluster)->bootstrap_servers()
            << "\n  brokers: " << (*cluster)->broker_addresses() << "\n  topics:";
  for (const auto& t : bus::kTopics) std::cout << " " << t.name << "(" << t.partitions << ")";
  std::cout << "\n  try: kcat -b " << (*cluster)->bootstrap_servers() << " -L\n"
            << "Serving until Ctrl-C or SIGTERM." << std::endl;
  WaitForStop(rt);
  std::cout << "probity bus: stopped" << std::endl;
  return kExitOk;
}

int RunIngest(const IngestCommandOptions& o, const Runtime& rt) {
  FirstFailure failures(rt.stop);
  IngestStack stack;
  Status st = stack.Start(o.bus, o.serve, rt, /*generate_key_if_missing=*/false,
                          /*embedded_bus=*/false, &failures);
  if (!st.ok()) return Fail("ingest", st);
  std::cout << "probity ingest: consuming from " << o.bus.bootstrap_servers << " into "
            << o.serve.data_dir << "/log; metrics and health on http://" << o.serve.http.host << ":"
            << stack.http->port() << "/metrics and /healthz" << std::endl;
  WaitForStop(rt);
  st = stack.Stop();
  if (!st.ok()) return Fail("ingest", st);
  auto s = stack.service->stats();
  std::cout << "probity ingest: drained; log has " << s.log_size << " entries, " << s.dead_letters
            << " dead letters" << std::endl;
  return kExitOk;
}

int RunUp(const UpOptions& o, const Runtime& rt) {
  // Everything that can be refused is checked before anything starts.
  auto rule_set = rules::LoadRuleSetFile(o.rules_file.empty() ? DefaultRulesFile() : o.rules_file);
  if (!rule_set.ok()) return Fail("up", rule_set.status());
  auto hold_policy = payments::LoadHoldPolicyFile(
      o.hold_policy_file.empty() ? DefaultHoldPolicyFile() : o.hold_policy_file, *rule_set);
  if (!hold_policy.ok()) return Fail("up", hold_policy.status());
  std::unique_ptr<alerts::AlertmanagerClient> am;
  if (!o.alertmanager_url.empty()) {
    auto client = alerts::AlertmanagerClient::Create(o.alertmanager_url);
    if (!client.ok()) return Fail("up", client.status());
    am = std::move(client).value();
  }
  // Webhooks, when a routing file is given; its public key is published beside the log's.
  std::optional<webhooks::Setup> hooks;
  if (!o.routing_file.empty()) {
    auto setup = webhooks::Setup::Prepare(o.routing_file, o.serve.data_dir + "/keys/webhooks",
                                          o.serve.data_dir + "/keys/webhooks.pub");
    if (!setup.ok()) return Fail("up", setup.status());
    hooks = std::move(setup).value();
  }
  // The embedded bus, unless --bootstrap-servers names another.
  std::unique_ptr<bus::EmbeddedCluster> cluster;
  bus::ClientConfig cfg = o.bus;
  if (cfg.bootstrap_servers.empty()) {
    auto started = bus::EmbeddedCluster::Start({.brokers = 1, .bootstrap_port = o.port});
    if (!started.ok()) return Fail("up", started.status());
    cluster = std::move(started).value();
    cfg.bootstrap_servers = cluster->bootstrap_servers();
  }
  const std::string& data_dir = o.serve.data_dir;

  // From here on the first target to fail stops the others, and `up` exits with its error.
  FirstFailure failures(rt.stop);
  IngestStack stack;  // declared first: stopped last
  Status st = stack.Start(cfg, o.serve, rt, /*generate_key_if_missing=*/true,
                          /*embedded_bus=*/cluster != nullptr, &failures);
  if (!st.ok()) return Fail("up", Status(st.code(), "ingest: " + st.message()));

  // The rules target reads the log in this process directly; its flags go back through ingest.
  // Flags are few and their latency matters: the rules producer does not linger.
  bus::ClientConfig rules_cfg = cfg;
  rules_cfg.properties.emplace("linger.ms", "0");
  bus::KafkaBus rules_bus(rules_cfg);
  // Followers in this process read the store directly, through the same runtime as the separate
  // targets, and verify its checkpoints with the log's keys: the one ingest signs with (pinned at
  // its start, first) and any a key rotation retired, which signed the older checkpoints.
  auto pinned_keys = stack.store->LogKeys();
  if (!pinned_keys.ok()) return Fail("up", pinned_keys.status());
  auto parsed_keys = note::ParseLogKeys(*pinned_keys);
  if (!parsed_keys.ok()) return Fail("up", parsed_keys.status());
  const std::vector<note::Verifier>& log_keys = *parsed_keys;
  const note::Verifier* log_key = &log_keys.front();
  follow::StoreSource source(stack.store.get());
  follow::StoreCheckpointSource rules_checkpoints(stack.store.get());
  rules::RulesRunner rules({.state_dir = data_dir + "/rules",
                            .checkpoints = &rules_checkpoints,
                            .origin = log_key->name(),
                            .log_keys = log_keys,
                            .registry = stack.registry.get()},
                           *rule_set, &source, &rules_bus, rt.clock);
  st = rules.Start(rt.clock->NowMicros());
  if (!st.ok()) return Fail("up", Status(st.code(), "rules: " + st.message()));

  // Payments: another follower of the same store; its instructions go back through ingest.
  bus::KafkaBus payments_bus(cfg);
  follow::StoreSource payments_source(stack.store.get());
  follow::StoreCheckpointSource payments_checkpoints(stack.store.get());
  payments::PaymentsTarget payments_target({.state_dir = data_dir + "/payments",
                                            .checkpoints = &payments_checkpoints,
                                            .origin = log_key->name(),
                                            .log_keys = log_keys},
                                           *hold_policy, &payments_source, &payments_bus, rt.clock,
                                           stack.registry.get());
  st = payments_target.Start();
  if (!st.ok()) return Fail("up", Status(st.code(), "payments: " + st.message()));

  // Alerts, when an Alertmanager is given: a third follower of the same store.
  // It hands its alerts to a durable outbox, which retries Alertmanager for as long as it is down.
  follow::StoreSource alert_source(stack.store.get());
  follow::StoreCheckpointSource alert_checkpoints(stack.store.get());
  std::unique_ptr<alerts::AlertsRunner> alerter;
  std::unique_ptr<alerts::AlertmanagerTransport> am_transport;
  std::unique_ptr<alerts::OutboxAlertSink> am_outbox;
  if (am) {
    am_transport = std::make_unique<alerts::AlertmanagerTransport>(am.get());
    auto sink = alerts::OutboxAlertSink::Open(data_dir + "/alerts/outbox", am_transport.get(),
                                              hooks ? &hooks->routing : nullptr, rt.clock,
                                              stack.registry.get());
    if (!sink.ok())
      return Fail("up", Status(sink.status().code(), "alerts: " + sink.status().message()));
    am_outbox = std::move(sink).value();
    alerter = std::make_unique<alerts::AlertsRunner>(
        alerts::AlertsRunner::Options{.state_dir = data_dir + "/alerts",
                                      .checkpoints = &alert_checkpoints,
                                      .origin = log_key->name(),
                                      .log_keys = log_keys,
                                      .registry = stack.registry.get()},
        &alert_source, am_outbox.get(), rt.clock);
    st = alerter->Start();
    if (!st.ok()) return Fail("up", Status(st.code(), "alerts: " + st.message()));
  }
  follow::StoreSource webhook_source(stack.store.get());
  follow::StoreCheckpointSource webhook_checkpoints(stack.store.get());
  const webhooks::LogInputs webhook_log{.entries = &webhook_source,
                                        .checkpoints = &webhook_checkpoints,
                                        .origin = log_key->name(),
                                        .log_keys = log_keys,
                                        .bus = cfg};

  // The hash tiles and /checkpoint, from the same store, verified with the same key.
  tiles::TileServer tile_server(stack.store.get(), *log_key);
  st = tile_server.Start(o.serve.http.host, o.tiles.port);
  if (!st.ok()) return Fail("up", st);

  // The api, when an access file is given: a fourth follower of the same store, answering from it.
  follow::StoreSource api_source(stack.store.get());
  follow::StoreCheckpointSource api_checkpoints(stack.store.get());
  ApiStack api;
  if (!o.api.access_file.empty()) {
    ApiServeOptions serve = o.api;
    if (serve.state_dir.empty()) serve.state_dir = data_dir + "/api";
    if (serve.bundle_policy_file.empty()) {
      // Bundles name this log's key; a deployment with witnesses passes --bundle-policy.
      v1::VerifierPolicy policy;
      policy.set_log_origin(o.serve.ingest.checkpoint_origin);
      policy.set_log_vkey(stack.signer->verifier_key());
      serve.api.bundle_policy = policy;
    }
    serve.log_keys = log_keys;  // its follower checks the older checkpoints too
    const logstore::LogStore* store = stack.store.get();
    st = api.Start(
        serve, cfg,
        [store] {
          return std::shared_ptr<const logstore::LogReader>(store,
                                                            [](const logstore::LogReader*) {});
        },
        &api_source, &api_checkpoints, rt, stack.registry.get());
    if (!st.ok()) return Fail("up", Status(st.code(), "api: " + st.message()));
  }

  // Every target is started: no return before the threads are joined.
  std::thread rules_thread([&] { failures.Record("rules", rules.Run(rt.stop)); });
  std::thread payments_thread([&] { failures.Record("payments", payments_target.Run(rt.stop)); });
  std::thread alerts_thread;
  if (alerter) {
    am_outbox->Start();
    alerts_thread = std::thread([&] { failures.Record("alerts", alerter->Run(rt.stop)); });
  }
  std::thread webhooks_thread;
  if (hooks) {
    webhooks_thread = std::thread([&] {
      failures.Record("webhooks", webhooks::RunTarget(&*hooks, webhook_log,
                                                      {.state_dir = data_dir + "/webhooks",
                                                       .first_retry_ms = o.webhook_first_retry_ms},
                                                      rt.clock, rt.stop, stack.registry.get()));
    });
  }

  std::ostringstream links;
  links << "  bus          " << cfg.bootstrap_servers
        << (cluster ? " (embedded, in memory; kcat -b " + cfg.bootstrap_servers + " -L)\n"
                    : std::string("\n"))
        << "  audit log    " << data_dir << "/log   (probity log list|verify|checkpoint --data-dir "
        << data_dir << ")\n"
        << "  metrics      http://" << o.serve.http.host << ":" << stack.http->port()
        << "/metrics\n"
        << "  health       http://" << o.serve.http.host << ":" << stack.http->port()
        << "/healthz\n"
        << "  tiles        http://" << o.serve.http.host << ":" << tile_server.port()
        << "/checkpoint and /tile/<L>/<N> (c2sp.org/tlog-tiles)\n"
        << "  rules        " << rule_set->name << " " << rule_set->version << " ("
        << rule_set->rules.size() << " rules)\n"
        << "  payments     hold policy " << hold_policy->label() << " (approve after "
        << hold_policy->approve_after_days << " days of log time; probity payments export --date "
        << "YYYY-MM-DD --data-dir " << data_dir << ")\n"
        << (am ? "  alerts       " + o.alertmanager_url + "\n" : std::string())
        << (hooks ? "  webhooks     " + std::to_string(hooks->routing.endpoints().size()) +
                        " endpoints from " + o.routing_file + "; public key " + hooks->public_key +
                        "\n"
                  : std::string())
        << (api.port() != 0
                ? "  api          http" + std::string(o.api.api.tls_cert_file.empty() ? "" : "s") +
                      "://" + o.api.api.host + ":" + std::to_string(api.port()) + "/v1/\n"
                : std::string())
        << "Ctrl-C stops everything cleanly.\n";
  if (o.demo) {
    DemoOptions d;
    d.truth_file = data_dir + "/demo-truth.jsonl";
    failures.Record("demo feed",
                    RunDemo(cfg, d, *stack.service, &rules, links.str(), *rt.stop, rt.clock));
  } else {
    std::cout << "probity up: running\n" << links.str() << std::flush;
    WaitForStop(rt);
  }
  *rt.stop = true;
  failures.Record("api", api.follower_status());
  api.Stop();           // no new reads or decisions; those answered are on the bus
  rules_thread.join();  // its last flags are confirmed on the bus
  payments_thread.join();
  if (alerts_thread.joinable()) alerts_thread.join();
  if (am_outbox) am_outbox->Stop();
  if (webhooks_thread.joinable()) webhooks_thread.join();
  stack.Settle(5000);  // ... and read into the log before ingest stops
  failures.Record("ingest", stack.Stop());
  if (Status first = failures.status(); !first.ok()) return Fail("up", first);
  auto s = stack.service->stats();
  std::cout << "\nprobity up: stopped cleanly; log has " << s.log_size << " entries ("
            << s.dead_letters << " dead letters), " << rules.stats().flags
            << " flags raised. Verify with: probity log verify --data-dir " << data_dir
            << std::endl;
  return kExitOk;
}

int RunAlerts(const AlertsCommandOptions& o, const Runtime& rt) {
  auto client = alerts::AlertmanagerClient::Create(o.alertmanager_url);
  if (!client.ok()) return Fail("alerts", client.status());
  auto in = OpenBusFollowInputs(o.bus, o.catch_up_from, o.log_key, "alerts");
  if (!in.ok()) return Fail("alerts", in.status());
  std::optional<webhooks::Routing> routing;
  if (!o.routing_file.empty()) {
    auto r = webhooks::Routing::LoadFile(o.routing_file);
    if (!r.ok()) return Fail("alerts", r.status());
    routing = std::move(r).value();
  }
  // Alerts go to a durable outbox, which retries Alertmanager for as long as it is down.
  auto registry = std::make_shared<prometheus::Registry>();
  alerts::AlertmanagerTransport transport(client->get());
  auto sink =
      alerts::OutboxAlertSink::Open(o.data_dir + "/alerts/outbox", &transport,
                                    routing ? &*routing : nullptr, rt.clock, registry.get());
  if (!sink.ok()) return Fail("alerts", sink.status());
  alerts::AlertsRunner runner({.state_dir = o.data_dir + "/alerts",
                               .checkpoints = in->checkpoints.get(),
                               .origin = in->origin,
                               .log_keys = in->log_keys,
                               .registry = registry.get()},
                              in->entries.get(), sink->get(), rt.clock);
  Status st = runner.Start();
  if (!st.ok()) return Fail("alerts", st);
  metrics::HttpServer http(registry, [&] { return runner.health(); });
  st = http.Start(o.http.host, o.http.port);
  if (!st.ok()) return Fail("alerts", st);
  (*sink)->Start();
  std::cout << "probity alerts: following probity.log.v1 on " << o.bus.bootstrap_servers
            << ", delivering to " << o.alertmanager_url << "; health on http://" << o.http.host
            << ":" << http.port() << "/healthz" << std::endl;
  st = runner.Run(rt.stop);
  (*sink)->Stop();
  if (st.ok()) st = (*sink)->outbox()->thread_status();
  if (!st.ok()) return Fail("alerts", st);
  auto s = runner.stats();
  std::cout << "probity alerts: stopped at index " << s.next_index << "; " << s.fired << " fired, "
            << s.resolved << " resolved, " << s.open << " open" << std::endl;
  return kExitOk;
}

int RunTiles(const TilesOptions& o, const Runtime& rt) {
  // A secondary instance of the writer's store, with its own files in a private directory.
  std::string tmpl = (std::filesystem::temp_directory_path() / "probity-tiles-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return Fail("tiles", IoError("cannot create " + tmpl));
  struct RemoveOnExit {
    std::string dir;
    ~RemoveOnExit() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{tmpl};
  auto store = logstore::LogStore::Open(o.store, {.read_only = true, .secondary_path = tmpl});
  if (!store.ok()) return Fail("tiles", store.status());
  StatusOr<note::Verifier> key = NotFound("no log key");
  if (!o.log_key.empty()) {
    // The newest of the log's keys (a file may list several after a rotation): it signed the
    // latest checkpoint, the one /checkpoint serves.
    auto keys = note::LoadVerifierKeys(o.log_key);
    key = keys.ok() ? StatusOr<note::Verifier>(keys->front()) : keys.status();
  } else if (auto pinned = (*store)->PinnedLogKey(); !pinned.ok()) {
    key = pinned.status();
  } else if (*pinned) {
    key = note::Verifier::FromVerifierKey(**pinned);
  } else {
    key = NotFound("no log key pinned in " + o.store + ": pass --log-key");
  }
  if (!key.ok()) return Fail("tiles", key.status());
  tiles::TileServer server(store->get(), *key);
  Status st = server.Start(o.http.host, o.http.port);
  if (!st.ok()) return Fail("tiles", st);
  std::cout << "probity tiles: serving " << o.store << " at http://" << o.http.host << ":"
            << server.port() << "/checkpoint and /tile/<L>/<N>[.p/<W>] (hashes only)" << std::endl;
  WaitForStop(rt);
  server.Stop();
  return kExitOk;
}

int RunWitness(const WitnessCommandOptions& o, const Runtime& rt) {
  auto key_text = note::ReadKeyFile(o.key);
  if (!key_text.ok()) return Fail("witness", key_text.status());
  auto cosigner = note::Signer::FromSignerKey(*key_text, note::kAlgCosignatureV1);
  if (!cosigner.ok()) return Fail("witness", cosigner.status());
  std::vector<witness::LogConfig> logs;
  for (const std::string& l : o.logs) {
    const size_t eq = l.find('=');
    const std::string vkey = eq == std::string::npos ? l : l.substr(eq + 1);
    auto v = note::LoadVerifierKey(vkey);
    if (!v.ok()) return Fail("witness", v.status());
    std::string text = vkey;
    if (auto file = note::ReadKeyFile(vkey); file.ok()) text = *file;
    logs.push_back({eq == std::string::npos ? v->name() : l.substr(0, eq), text});
  }
  Status st = MakeDirectories(o.state_dir);
  if (!st.ok()) return Fail("witness", st);
  auto w = witness::Witness::Open(o.state_dir, logs, *cosigner, rt.clock);
  if (!w.ok()) return Fail("witness", w.status());
  st = (*w)->Start(o.http.host, o.http.port);
  if (!st.ok()) return Fail("witness", st);
  std::cout << "probity witness: " << cosigner->name() << " (verifier key "
            << cosigner->verifier_key() << ") witnessing " << logs.size() << " log(s); POST http://"
            << o.http.host << ":" << (*w)->port() << "/add-checkpoint" << std::endl;
  WaitForStop(rt);
  (*w)->Stop();
  return kExitOk;
}

int RunKeygen(const KeygenOptions& o) {
  auto kp = note::GenerateKey(o.name, o.cosigner ? note::kAlgCosignatureV1 : note::kAlgEd25519);
  if (!kp.ok()) return Fail("keygen", kp.status());
  Status st = MakeDirectories(o.out_dir);
  if (st.ok()) st = note::WriteKeyFiles(*kp, o.out_dir);
  if (!st.ok()) return Fail("keygen", st);
  std::cout << "wrote " << o.out_dir << "/probity.key (signer key, keep secret) and " << o.out_dir
            << "/probity.pub\nverifier key: " << kp->verifier_key << "\n";
  return kExitOk;
}

}  // namespace probity::cli
