// The `probity` binary: parses the command line and hands over to services/cli. Nothing else.
#include <CLI/CLI.hpp>
#include <csignal>

#include "services/cli/analysis_commands.h"
#include "services/cli/commands.h"

namespace {

void OnSignal(int) { probity::cli::StopFlag() = true; }

void AddLogFlags(CLI::App* cmd, probity::cli::LogFlags* f) {
  cmd->add_option("--data-dir", f->data_dir, "Probity data directory (the log is DATA_DIR/log)")
      ->capture_default_str();
  cmd->add_flag("--json", f->json, "Print JSON (one object per line)");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace probity::cli;
  CLI::App app{
      "Probity: a tamper-evident audit log and performance-flag service for the commissioners of "
      "GP practice contracts.\nSee README.md and docs/ for the architecture and operations."};
  app.require_subcommand(1);
  app.set_config("--config", "", "Read options from a TOML/INI file (same names as the flags)");
  int rc = 0;

  // probity bus
  int bus_port = 9092;
  int bus_brokers = 1;
  auto* bus =
      app.add_subcommand("bus", "Run the embedded Kafka-protocol bus (in memory) until Ctrl-C");
  bus->add_option("--port", bus_port, "Fixed loopback bootstrap port")->capture_default_str();
  bus->add_option("--brokers", bus_brokers, "Number of mock brokers")->capture_default_str();
  bus->callback([&] { rc = RunBus(bus_port, bus_brokers); });

  // probity ingest / probity up share the serving flags.
  ServeFlags serve;
  BusFlags busf;
  std::vector<std::string> props;
  auto add_serve = [&](CLI::App* cmd) {
    cmd->add_option("--data-dir", serve.data_dir, "Where the audit log and keys live")
        ->capture_default_str();
    cmd->add_option("--http-host", serve.http_host, "Address for /metrics and /healthz")
        ->capture_default_str();
    cmd->add_option("--http-port", serve.http_port, "Port for /metrics and /healthz (0 = any)")
        ->capture_default_str();
    cmd->add_option(
        "--signing-key", serve.signing_key,
        "Checkpoint signer key file (signed-note format; default DATA_DIR/keys/probity.key)");
    cmd->add_option("--origin", serve.origin, "Checkpoint origin line (the log's name)")
        ->capture_default_str();
    cmd->add_option("--checkpoint-interval-ms", serve.checkpoint_interval_ms,
                    "Sign a checkpoint this often when the log grew")
        ->capture_default_str();
    cmd->add_option("--checkpoint-every", serve.checkpoint_every_entries,
                    "... or after this many new entries")
        ->capture_default_str();
    cmd->add_option("--max-batch", serve.max_batch, "Messages per append batch")
        ->capture_default_str();
    cmd->add_option("--max-batch-latency-ms", serve.max_batch_latency_ms,
                    "Longest a message waits for its batch")
        ->capture_default_str();
    cmd->add_flag("--sync", serve.sync, "fsync every batch (survive power loss, not only crashes)");
  };
  auto* ingest =
      app.add_subcommand("ingest", "Run the sequencer: consume input topics into the audit log");
  ingest->add_option("--bootstrap-servers", busf.bootstrap_servers, "Kafka bootstrap servers")
      ->capture_default_str();
  ingest->add_option(
      "--kafka-property", props,
      "Extra librdkafka property KEY=VALUE (repeatable), e.g. security.protocol=SSL");
  add_serve(ingest);
  ingest->callback([&] {
    for (const auto& p : props) {
      auto eq = p.find('=');
      if (eq == std::string::npos)
        throw CLI::ValidationError("--kafka-property", "expected KEY=VALUE: " + p);
      busf.kafka_properties[p.substr(0, eq)] = p.substr(eq + 1);
    }
    rc = RunIngest(busf, serve);
  });

  int up_port = 9092;
  bool demo = false;
  std::string rules_file;
  auto* up = app.add_subcommand("up", "Run the embedded bus and every target in one process");
  up->add_option("--port", up_port, "Embedded bus bootstrap port")->capture_default_str();
  up->add_flag("--demo", demo, "Feed a built-in demo stream and show a live summary");
  up->add_option("--rules", rules_file, "Rule set file (default deploy/rules/default.yaml)");
  std::string am_url;
  up->add_option("--alertmanager-url", am_url,
                 "Deliver flags as alerts to this Alertmanager, e.g. http://127.0.0.1:9093");
  add_serve(up);
  up->callback([&] { rc = RunUp(up_port, serve, demo, rules_file, am_url); });

  std::string alerts_url, alerts_dir = "./probity-alerts";
  auto* alerts = app.add_subcommand(
      "alerts", "Run the alerts target: follow probity.log.v1, deliver flags to Alertmanager");
  alerts->add_option("--bootstrap-servers", busf.bootstrap_servers, "Kafka bootstrap servers")
      ->capture_default_str();
  alerts
      ->add_option("--alertmanager-url", alerts_url,
                   "Alertmanager base URL, e.g. http://127.0.0.1:9093")
      ->required();
  alerts->add_option("--data-dir", alerts_dir, "Delivery state goes in DATA_DIR/alerts")
      ->capture_default_str();
  alerts->callback([&] { rc = RunAlerts(busf, alerts_dir, alerts_url); });

  // probity keygen
  std::string key_name = "probity.example/log";
  std::string key_dir = ".";
  auto* keygen = app.add_subcommand(
      "keygen", "Create an Ed25519 checkpoint signing key pair (signed-note formats)");
  keygen->add_option("--name", key_name, "Key name (use the log's origin)")->capture_default_str();
  keygen->add_option("--out-dir", key_dir, "Writes OUT_DIR/probity.key (0600) and probity.pub")
      ->capture_default_str();
  keygen->callback([&] { rc = RunKeygen(key_name, key_dir); });

  // probity log ...
  LogFlags logf;
  auto* log = app.add_subcommand("log", "Read, prove and verify the audit log (read-only)");
  log->require_subcommand(1);
  uint64_t from = 0, limit = 100;
  auto* list = log->add_subcommand(
      "list", "List entries: in log order, or by practice (event-time order) or kind");
  AddLogFlags(list, &logf);
  list->add_option("--from", from, "First index")->capture_default_str();
  list->add_option("--limit", limit, "Most entries to list")->capture_default_str();
  ListFilter list_filter;
  list->add_option("--practice", list_filter.practice,
                   "Only this practice's entries (ODS code), in event-time order");
  list->add_option("--kind", list_filter.kind,
                   "Only entries of this kind (claim, referral, patient_contact, ...); "
                   "with --kind alone, --from is the first index to look at");
  list->add_option("--occurred-from", list_filter.occurred_from,
                   "With --practice: occurred on or after this day (YYYY-MM-DD, UTC)");
  list->add_option("--occurred-to", list_filter.occurred_to,
                   "With --practice: occurred before this day (YYYY-MM-DD, UTC)");
  list->callback([&] { rc = LogList(logf, from, limit, list_filter); });

  std::optional<uint64_t> index;
  std::string event_id;
  auto* get = log->add_subcommand("get", "Show one entry (as JSON) by index or event id");
  AddLogFlags(get, &logf);
  auto* idx_opt = get->add_option("index", index, "Log index");
  get->add_option("--event-id", event_id, "Event id (shows every entry with it)")
      ->excludes(idx_opt);
  get->callback([&] {
    if (!index && event_id.empty())
      throw CLI::ValidationError("get", "give an INDEX or --event-id");
    rc = LogGet(logf, index, event_id);
  });

  auto* verify = log->add_subcommand(
      "verify",
      "Recompute every leaf and node; check stored checkpoints. Exit 2 names the first bad index");
  AddLogFlags(verify, &logf);
  verify->callback([&] { rc = LogVerify(logf); });

  auto* proof = log->add_subcommand("proof", "RFC 6962 proofs");
  proof->require_subcommand(1);
  uint64_t p_index = 0;
  std::optional<uint64_t> p_size, c_to;
  uint64_t c_from = 0;
  auto* incl =
      proof->add_subcommand("inclusion", "Inclusion proof of an entry in the tree of a given size");
  AddLogFlags(incl, &logf);
  incl->add_option("--index", p_index, "Leaf index")->required();
  incl->add_option("--size", p_size, "Tree size (default: the current size)");
  incl->callback([&] { rc = LogInclusionProof(logf, p_index, p_size); });
  auto* cons = proof->add_subcommand("consistency", "Consistency proof between two tree sizes");
  AddLogFlags(cons, &logf);
  cons->add_option("--from", c_from, "Older tree size")->required();
  cons->add_option("--to", c_to, "Newer tree size (default: the current size)");
  cons->callback([&] { rc = LogConsistencyProof(logf, c_from, c_to); });

  auto* cp =
      log->add_subcommand("checkpoint", "Print the latest signed checkpoint (a C2SP signed note)");
  AddLogFlags(cp, &logf);
  cp->callback([&] { rc = LogCheckpoint(logf); });

  auto* dl = log->add_subcommand("deadletters", "List rejected messages with their reasons");
  AddLogFlags(dl, &logf);
  dl->add_option("--from", from, "First dead letter")->capture_default_str();
  dl->add_option("--limit", limit, "Most to list")->capture_default_str();
  std::optional<uint64_t> raw_seq;
  std::string raw_out = "-";
  dl->add_option("--raw", raw_seq,
                 "Write dead letter N's original value, exactly as received, instead of listing "
                 "(a MESSAGE_TOO_LARGE dead letter is published on the bus as a reference only)");
  dl->add_option("--out", raw_out, "With --raw: the file to write (- is standard output)")
      ->capture_default_str();
  dl->callback([&] {
    rc = raw_seq ? LogDeadLetterRaw(logf, *raw_seq, raw_out) : LogDeadLetters(logf, from, limit);
  });

  // probity rules [rebuild|backtest]
  RulesFlags rulesf;
  auto* rules = app.add_subcommand(
      "rules", "Run the rules target: follow probity.log.v1, evaluate the rule set, publish flags");
  rules->require_subcommand(0, 1);
  rules->add_option("--bootstrap-servers", busf.bootstrap_servers, "Kafka bootstrap servers")
      ->capture_default_str();
  rules->add_option("--data-dir", rulesf.data_dir, "Rules state goes in DATA_DIR/rules")
      ->capture_default_str();
  rules->add_option("--rules", rulesf.rules_file,
                    "Rule set file (default deploy/rules/default.yaml)");
  int rules_http_port = 9465;
  std::string rules_http_host = "127.0.0.1";
  rules->add_option("--http-port", rules_http_port, "Port for /metrics and /healthz")
      ->capture_default_str();
  rules->add_option("--http-host", rules_http_host, "Address for /metrics and /healthz")
      ->capture_default_str();
  auto* rebuild = rules->add_subcommand(
      "rebuild", "Rebuild the rules state from the audit log (publishes nothing)");
  rebuild->add_option("--data-dir", rulesf.data_dir, "Probity data directory")
      ->capture_default_str();
  rebuild->add_option("--rules", rulesf.rules_file, "Rule set file");
  rebuild->callback([&] { rc = RulesRebuild(rulesf); });
  std::string candidate, bt_from, bt_to;
  bool bt_json = false;
  auto* backtest = rules->add_subcommand("backtest",
                                         "Evaluate a candidate rule set over the log without "
                                         "publishing; compare with what the active rules raised");
  backtest->add_option("--rules", candidate, "Candidate rule set file")->required();
  backtest->add_option("--data-dir", rulesf.data_dir, "Probity data directory")
      ->capture_default_str();
  backtest->add_option("--from", bt_from, "First event date, YYYY-MM-DD (event time)");
  backtest->add_option("--to", bt_to, "Date after the last, YYYY-MM-DD (event time)");
  backtest->add_flag("--json", bt_json, "One JSON object per rule and practice");
  backtest->callback([&] { rc = RulesBacktest(rulesf, candidate, bt_from, bt_to, bt_json); });
  rules->callback([&] {
    if (rules->get_subcommands().empty())
      rc = RunRules(busf, rulesf, rules_http_port, rules_http_host);
  });

  // probity generate
  GenerateFlags genf;
  auto* gen = app.add_subcommand("generate",
                                 "Generate a synthetic national feed on the real 2022-23 practice "
                                 "register, with injected anomalies");
  gen->add_option("--bootstrap-servers", busf.bootstrap_servers, "Produce to this Kafka")
      ->capture_default_str();
  gen->add_option("--out", genf.out, "Write a replayable file instead of producing");
  gen->add_option("--replay", genf.replay, "Produce a file written earlier with --out");
  gen->add_option("--register", genf.register_csv,
                  "Practice register CSV (default: deploy/reference copy)");
  gen->add_option("--from", genf.from, "First day, YYYY-MM-DD")->capture_default_str();
  gen->add_option("--to", genf.to, "Day after the last, YYYY-MM-DD")->capture_default_str();
  gen->add_option("--scale", genf.scale, "Share of practices (0-1]")->capture_default_str();
  gen->add_option("--volume", genf.volume, "Share of per-practice volumes (0-1]")
      ->capture_default_str();
  gen->add_option("--anomalies", genf.anomaly_share, "Share of practices with an injected anomaly")
      ->capture_default_str();
  gen->add_option("--seed", genf.seed, "Random seed (same seed, same stream)")
      ->capture_default_str();
  gen->add_option("--rate", genf.rate, "Events per second (0 = as fast as possible)")
      ->capture_default_str();
  gen->add_option("--truth", genf.truth, "Ground-truth file of injected anomalies (JSON lines)")
      ->capture_default_str();
  gen->callback([&] { rc = RunGenerate(busf, genf, genf.out.empty()); });

  // probity score
  std::string truth_file, score_dir = "./probity-data";
  bool score_json = false;
  auto* score =
      app.add_subcommand("score", "Compare the flags in the log with a generator's ground truth");
  score->add_option("--truth", truth_file, "Ground-truth file from probity generate")->required();
  score->add_option("--data-dir", score_dir, "Probity data directory")->capture_default_str();
  score->add_flag("--json", score_json, "JSON report");
  score->callback([&] { rc = RunScore(score_dir, truth_file, score_json); });

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  CLI11_PARSE(app, argc, argv);
  return rc;
}
