// `probity bus`, `probity ingest`, `probity up`, `probity keygen`: the long-running targets.
#include <sys/stat.h>

#include <chrono>
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
#include "services/cli/analysis_commands.h"
#include "services/cli/commands.h"
#include "services/cli/demo.h"
#include "services/cli/rules_runner.h"
#include "services/ingest/ingest.h"
#include "services/rules/rule_set.h"

namespace probity::cli {

std::atomic<bool>& StopFlag() {
  static std::atomic<bool> stop{false};
  return stop;
}

namespace {

int Fail(const std::string& cmd, const Status& st) {
  std::cerr << "probity " << cmd << ": " << st.message() << "\n";
  return 1;
}

void WaitForStop() {
  while (!StopFlag().load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

// Loads the checkpoint signing key, creating a key pair first when asked to.
StatusOr<note::Signer> LoadSigner(const ServeFlags& f) {
  std::string path = f.signing_key.empty() ? f.data_dir + "/keys/probity.key" : f.signing_key;
  if (!std::filesystem::exists(path)) {
    if (!f.generate_key_if_missing) {
      return NotFound("no checkpoint signing key at " + path +
                      " (create one with `probity keygen --out-dir DIR` and pass --signing-key)");
    }
    std::string dir = std::filesystem::path(path).parent_path().string();
    std::filesystem::create_directories(dir);
    std::string name = f.origin;
    PROBITY_ASSIGN_OR_RETURN(note::KeyPair kp, note::GenerateKey(name));
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

// Everything ingest needs, started together; stopped in reverse order by the destructor.
struct IngestStack {
  std::unique_ptr<logstore::LogStore> store;
  std::optional<note::Signer> signer;
  SystemClock clock;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<ingest::IngestService> service;
  std::unique_ptr<metrics::HttpServer> http;
  std::thread thread;
  std::atomic<bool> stop{false};
  Status result;

  Status Start(const bus::ClientConfig& bus, const ServeFlags& f, bool embedded_bus = false) {
    std::filesystem::create_directories(f.data_dir);
    PROBITY_ASSIGN_OR_RETURN(store,
                             logstore::LogStore::Open(f.data_dir + "/log", {.sync = f.sync}));
    PROBITY_ASSIGN_OR_RETURN(note::Signer s, LoadSigner(f));
    signer = std::move(s);
    ingest::IngestOptions o;
    o.checkpoint_origin = f.origin;
    o.checkpoint_interval_ms = f.checkpoint_interval_ms;
    o.checkpoint_every_entries = f.checkpoint_every_entries;
    o.max_batch = f.max_batch;
    o.max_batch_latency_ms = f.max_batch_latency_ms;
    // An embedded bus starts empty every time: offsets stored against an earlier one mean nothing.
    o.ignore_stored_offsets = embedded_bus;
    service = std::make_unique<ingest::IngestService>(o, bus, store.get(), &clock, registry.get(),
                                                      &*signer);
    http = std::make_unique<metrics::HttpServer>(registry, [this] { return service->health(); });
    PROBITY_RETURN_IF_ERROR(http->Start(f.http_host, f.http_port));
    PROBITY_RETURN_IF_ERROR(service->Start());
    thread = std::thread([this] {
      result = service->Run(&stop);
      if (!result.ok()) StopFlag() = true;  // bring the rest of the process down too
    });
    return Status::Ok();
  }
  // Waits (up to max_ms) until ingest has read everything on the bus: nothing new consumed for
  // half a second.
  void Settle(int max_ms) {
    uint64_t last = service->stats().consumed;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
    int quiet_ms = 0;
    while (quiet_ms < 500 && std::chrono::steady_clock::now() < deadline && result.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      uint64_t now = service->stats().consumed;
      quiet_ms = now == last ? quiet_ms + 50 : 0;
      last = now;
    }
  }
  Status Stop() {
    stop = true;
    if (thread.joinable()) thread.join();
    if (http) http->Stop();
    return result;
  }
};

}  // namespace

int RunBus(int port, int brokers) {
  auto cluster = bus::EmbeddedCluster::Start({.brokers = brokers, .bootstrap_port = port});
  if (!cluster.ok()) return Fail("bus", cluster.status());
  std::cout << "probity bus: Kafka-protocol bus (in memory) at " << (*cluster)->bootstrap_servers()
            << "\n  brokers: " << (*cluster)->broker_addresses() << "\n  topics:";
  for (const auto& t : bus::kTopics) std::cout << " " << t.name << "(" << t.partitions << ")";
  std::cout << "\n  try: kcat -b " << (*cluster)->bootstrap_servers() << " -L\n"
            << "Serving until Ctrl-C or SIGTERM." << std::endl;
  WaitForStop();
  std::cout << "probity bus: stopped" << std::endl;
  return 0;
}

int RunIngest(const BusFlags& bus, const ServeFlags& serve) {
  IngestStack stack;
  Status st = stack.Start({bus.bootstrap_servers, bus.kafka_properties}, serve);
  if (!st.ok()) return Fail("ingest", st);
  std::cout << "probity ingest: consuming from " << bus.bootstrap_servers << " into "
            << serve.data_dir << "/log; metrics and health on http://" << serve.http_host << ":"
            << stack.http->port() << "/metrics and /healthz" << std::endl;
  WaitForStop();
  st = stack.Stop();
  if (!st.ok()) return Fail("ingest", st);
  auto s = stack.service->stats();
  std::cout << "probity ingest: drained; log has " << s.log_size << " entries, " << s.dead_letters
            << " dead letters" << std::endl;
  return 0;
}

int RunUp(int port, const ServeFlags& serve, bool demo, const std::string& rules_file,
          const std::string& alertmanager_url) {
  auto rule_set = rules::LoadRuleSetFile(rules_file.empty() ? DefaultRulesFile() : rules_file);
  if (!rule_set.ok()) return Fail("up", rule_set.status());
  auto cluster = bus::EmbeddedCluster::Start({.brokers = 1, .bootstrap_port = port});
  if (!cluster.ok()) return Fail("up", cluster.status());
  bus::ClientConfig cfg{(*cluster)->bootstrap_servers(), {}};
  ServeFlags f = serve;
  f.generate_key_if_missing = true;
  IngestStack stack;
  Status st = stack.Start(cfg, f, /*embedded_bus=*/true);
  if (!st.ok()) return Fail("up", st);

  // The rules target reads the log in this process directly; its flags go back through ingest.
  // Flags are few and their latency matters: the rules producer does not linger.
  bus::ClientConfig rules_cfg = cfg;
  rules_cfg.properties["linger.ms"] = "0";
  auto rules_producer = bus::Producer::Create(rules_cfg);
  if (!rules_producer.ok()) return Fail("up", rules_producer.status());
  StoreSource source(stack.store.get());
  RulesRunner rules({.state_dir = f.data_dir + "/rules"}, *rule_set, &source,
                    rules_producer->get());
  st = rules.Start(stack.clock.NowMicros());
  if (!st.ok()) return Fail("up", st);
  Status rules_status;
  std::thread rules_thread([&] {
    rules_status = rules.Run(&StopFlag());
    if (!rules_status.ok()) StopFlag() = true;
  });

  // Alerts, when an Alertmanager is given: a third follower of the same store.
  std::unique_ptr<alerts::AlertmanagerClient> am;
  std::unique_ptr<alerts::AlertsRunner> alerter;
  StoreSource alert_source(stack.store.get());
  std::thread alerts_thread;
  Status alerts_status;
  if (!alertmanager_url.empty()) {
    auto client = alerts::AlertmanagerClient::Create(alertmanager_url);
    if (!client.ok()) return Fail("up", client.status());
    am = std::move(client).value();
    alerter = std::make_unique<alerts::AlertsRunner>(
        alerts::AlertsRunner::Options{.state_dir = f.data_dir + "/alerts"}, &alert_source, am.get(),
        &stack.clock);
    st = alerter->Start();
    if (!st.ok()) return Fail("up", st);
    alerts_thread = std::thread([&] { alerts_status = alerter->Run(&StopFlag()); });
  }

  std::ostringstream links;
  links << "  bus          " << cfg.bootstrap_servers << " (embedded, in memory; kcat -b "
        << cfg.bootstrap_servers << " -L)\n"
        << "  audit log    " << f.data_dir
        << "/log   (probity log list|verify|checkpoint --data-dir " << f.data_dir << ")\n"
        << "  metrics      http://" << f.http_host << ":" << stack.http->port() << "/metrics\n"
        << "  health       http://" << f.http_host << ":" << stack.http->port() << "/healthz\n"
        << "  rules        " << rule_set->name << " " << rule_set->version << " ("
        << rule_set->rules.size() << " rules)\n"
        << (alertmanager_url.empty() ? std::string() : "  alerts       " + alertmanager_url + "\n")
        << "Ctrl-C stops everything cleanly.\n";
  if (demo) {
    DemoOptions d;
    d.truth_file = f.data_dir + "/demo-truth.jsonl";
    st = RunDemo(cfg, d, *stack.service, &rules, links.str(), StopFlag());
    if (!st.ok()) std::cerr << "probity up: demo feed: " << st.message() << "\n";
  } else {
    std::cout << "probity up: running\n" << links.str() << std::flush;
    WaitForStop();
  }
  StopFlag() = true;
  rules_thread.join();  // its last flags are confirmed on the bus
  if (alerts_thread.joinable()) alerts_thread.join();
  stack.Settle(5000);  // ... and read into the log before ingest stops
  Status ingest_status = stack.Stop();
  if (!rules_status.ok()) return Fail("up", rules_status);
  if (!ingest_status.ok()) return Fail("up", ingest_status);
  auto s = stack.service->stats();
  std::cout << "\nprobity up: stopped cleanly; log has " << s.log_size << " entries ("
            << s.dead_letters << " dead letters), " << rules.stats().flags
            << " flags raised. Verify with: probity log verify --data-dir " << f.data_dir
            << std::endl;
  return 0;
}

int RunAlerts(const BusFlags& bus, const std::string& data_dir,
              const std::string& alertmanager_url) {
  bus::ClientConfig cfg{bus.bootstrap_servers, bus.kafka_properties};
  auto client = alerts::AlertmanagerClient::Create(alertmanager_url);
  if (!client.ok()) return Fail("alerts", client.status());
  auto topic = LogTopicSource::Create(cfg);
  if (!topic.ok()) return Fail("alerts", topic.status());
  follow::CatchUpSource source(topic->get(), bus.catch_up_from);
  SystemClock clock;
  alerts::AlertsRunner runner({.state_dir = data_dir + "/alerts"}, &source, client->get(), &clock);
  Status st = runner.Start();
  if (!st.ok()) return Fail("alerts", st);
  std::cout << "probity alerts: following probity.log.v1 on " << bus.bootstrap_servers
            << ", delivering to " << alertmanager_url << std::endl;
  st = runner.Run(&StopFlag());
  if (!st.ok()) return Fail("alerts", st);
  auto s = runner.stats();
  std::cout << "probity alerts: stopped at index " << s.next_index << "; " << s.fired << " fired, "
            << s.resolved << " resolved, " << s.open << " open" << std::endl;
  return 0;
}

int RunKeygen(const std::string& name, const std::string& out_dir) {
  auto kp = note::GenerateKey(name);
  if (!kp.ok()) return Fail("keygen", kp.status());
  std::filesystem::create_directories(out_dir);
  Status st = note::WriteKeyFiles(*kp, out_dir);
  if (!st.ok()) return Fail("keygen", st);
  std::cout << "wrote " << out_dir << "/probity.key (signer key, keep secret) and " << out_dir
            << "/probity.pub\nverifier key: " << kp->verifier_key << "\n";
  return 0;
}

}  // namespace probity::cli
