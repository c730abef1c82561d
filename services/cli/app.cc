#include "services/cli/app.h"

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "services/cli/analysis_commands.h"
#include "services/cli/api_commands.h"
#include "services/cli/bundle_commands.h"
#include "services/cli/commands.h"
#include "services/cli/payments_commands.h"
#include "services/cli/verify_commands.h"
#include "services/cli/webhooks_commands.h"

namespace probity::cli {
namespace {

constexpr char kFooter[] =
    "Exit status (every command):\n"
    "  0  ok\n"
    "  1  the command failed, or refused a value it checks itself (a date, a kind, a file,\n"
    "     a Kafka property)\n"
    "  2  usage: the command line does not parse (unknown command or option, missing option,\n"
    "     value of the wrong type); nothing ran\n"
    "  3  stored data is damaged (log verify found a bad entry, node or checkpoint)\n"
    "See docs/operations.md.\n";

// Every command's options, one struct each, so that a --config section of one command never
// writes into another's.
struct AllOptions {
  BusServerOptions bus;
  IngestCommandOptions ingest;
  UpOptions up;
  AlertsCommandOptions alerts;
  ReplicaCommandOptions replica;
  ReplicaCompareOptions replica_compare;
  TilesOptions tiles;
  WitnessCommandOptions witness;
  ApiCommandOptions api;
  KeygenOptions keygen;
  ListOptions list;
  GetOptions get;
  LogFlags verify;
  InclusionOptions inclusion;
  ConsistencyOptions consistency;
  CheckpointOptions checkpoint;
  DeadLettersOptions deadletters;
  RulesOptions rules;
  BacktestOptions backtest;
  GenerateOptions generate;
  ScoreOptions score;
  ScoreOfflineOptions score_offline;
  PaymentsCliOptions payments;
  BundleCommandOptions bundle;
  WebhooksCommandOptions webhooks;
};

// What runs once the command line parsed: the deepest command given sets it.
using Action = std::function<int()>;
void OnChosen(CLI::App* cmd, Action* action, Action run) {
  cmd->callback([action, run = std::move(run)] {
    if (!*action) *action = run;  // a subcommand's callback runs before its parent's
  });
}

// The bus options of every target: --bootstrap-servers, and --kafka-property KEY=VALUE (repeat
// the flag) for every Kafka client the command creates. Returns the --bootstrap-servers option.
CLI::Option* AddBusOptions(CLI::App* cmd, bus::ClientConfig* bus,
                           const std::string& servers_help = "Kafka bootstrap servers") {
  CLI::Option* servers =
      cmd->add_option("--bootstrap-servers", bus->bootstrap_servers, servers_help);
  if (!bus->bootstrap_servers.empty()) servers->capture_default_str();
  cmd->add_option_function<std::vector<std::string>>(
         "--kafka-property",
         [bus](const std::vector<std::string>& properties) {
           for (const std::string& p : properties) {
             const size_t eq = p.find('=');
             if (eq == std::string::npos || eq == 0) {
               throw CLI::ValidationError("--kafka-property",
                                          "expected KEY=VALUE, got '" + p + "'");
             }
             bus->properties[p.substr(0, eq)] = p.substr(eq + 1);
           }
         },
         "librdkafka property KEY=VALUE for every Kafka client (repeatable), e.g. "
         "security.protocol=SSL")
      ->allow_extra_args(false);
  return servers;
}

// `what`: what the address serves, for --help.
void AddHttpOptions(CLI::App* cmd, HttpOptions* http,
                    const std::string& what = "/metrics and /healthz") {
  cmd->add_option("--http-host", http->host, "Address for " + what)->capture_default_str();
  cmd->add_option("--http-port", http->port, "Port for " + what + " (0 = any)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
}

void AddServeOptions(CLI::App* cmd, ServeOptions* s) {
  cmd->add_option("--data-dir", s->data_dir, "Where the audit log and keys live")
      ->capture_default_str();
  AddHttpOptions(cmd, &s->http);
  cmd->add_option(
      "--signing-key", s->signing_key,
      "Checkpoint signer key file (signed-note format; default DATA_DIR/keys/probity.key)");
  cmd->add_flag("--rotate-log-key", s->ingest.rotate_log_key,
                "Sign with --signing-key although the log pinned another key, retiring that one "
                "(docs/operations.md, \"Key rotation\"); without it such a key is refused");
  cmd->add_option("--origin", s->ingest.checkpoint_origin,
                  "Checkpoint origin line (the log's name)")
      ->capture_default_str();
  cmd->add_option("--checkpoint-interval-ms", s->ingest.checkpoint_interval_ms,
                  "Sign a checkpoint this often when the log grew")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--checkpoint-every", s->ingest.checkpoint_every_entries,
                  "... or after this many new entries")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-batch", s->ingest.max_batch, "Messages per append batch")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-batch-latency-ms", s->ingest.max_batch_latency_ms,
                  "Longest a message waits for its batch")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--sync", s->sync, "fsync every batch (survive power loss, not only crashes)");
  cmd->add_option("--witness", s->witnesses,
                  "URL=VKEY of a witness to send checkpoints to (c2sp.org/tlog-witness; "
                  "repeatable), e.g. http://127.0.0.1:9480=witness.example/w1+1234abcd+BA...");
  cmd->add_option("--witness-interval-ms", s->ingest.witness_interval_ms,
                  "Send the latest checkpoint to the witnesses this often")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
}

void AddLogFlags(CLI::App* cmd, LogFlags* f) {
  cmd->add_option("--data-dir", f->data_dir, "Probity data directory (the log is DATA_DIR/log)")
      ->capture_default_str();
  cmd->add_flag("--json", f->json, "Print JSON (one object per line)");
  cmd->add_option("--log-key", f->log_key,
                  "The log's verifier key, or a file holding it, to check signed checkpoints "
                  "(default DATA_DIR/keys/probity.pub, else the key pinned in the log)");
}

// --register, --from, --to, --scale, --volume, --anomalies, --seed.
void AddScenarioOptions(CLI::App* cmd, ScenarioOptions* s) {
  cmd->add_option("--register", s->register_csv,
                  "Practice register CSV (default: deploy/reference copy)");
  cmd->add_option("--from", s->from, "First day, YYYY-MM-DD")->capture_default_str();
  cmd->add_option("--to", s->to, "Day after the last, YYYY-MM-DD")->capture_default_str();
  cmd->add_option("--scale", s->params.practice_fraction, "Share of practices (0-1]")
      ->capture_default_str();
  cmd->add_option("--volume", s->params.volume_fraction, "Share of per-practice volumes (0-1]")
      ->capture_default_str();
  cmd->add_option("--anomalies", s->params.anomaly_share,
                  "Share of practices with an injected anomaly")
      ->capture_default_str();
  cmd->add_option("--seed", s->params.seed, "Random seed (same seed, same stream)")
      ->capture_default_str();
  cmd->add_flag("--graded", s->params.graded,
                "Graded anomalies (several magnitudes per kind) and the calibrated clean "
                "population (docs/generator.md)");
  cmd->add_flag("!--no-end-of-data", s->params.end_of_data,
                "Do not end the feed with an END_OF_DATA entry");
}

void AddRunCommands(CLI::App& app, AllOptions& o, const Runtime& rt, Action* action) {
  auto* bus =
      app.add_subcommand("bus", "Run the embedded Kafka-protocol bus (in memory) until Ctrl-C");
  bus->add_option("--port", o.bus.port, "Fixed loopback bootstrap port (0 = any)")
      ->capture_default_str();
  bus->add_option("--brokers", o.bus.brokers, "Number of mock brokers")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  OnChosen(bus, action, [&] { return RunBus(o.bus, rt); });

  auto* ingest =
      app.add_subcommand("ingest", "Run the sequencer: consume input topics into the audit log");
  AddBusOptions(ingest, &o.ingest.bus);
  AddServeOptions(ingest, &o.ingest.serve);
  OnChosen(ingest, action, [&] { return RunIngest(o.ingest, rt); });

  auto* up = app.add_subcommand("up", "Run the embedded bus and every target in one process");
  auto* port =
      up->add_option("--port", o.up.port, "Embedded bus bootstrap port")->capture_default_str();
  auto* servers = AddBusOptions(
      up, &o.up.bus, "Use this Kafka instead of the embedded bus (default: embedded, at --port)");
  port->excludes(servers);
  up->add_flag("--demo", o.up.demo, "Feed a built-in demo stream and show a live summary");
  up->add_option("--rules", o.up.rules_file, "Rule set file (default deploy/rules/default.yaml)");
  up->add_option("--hold-policy", o.up.hold_policy_file,
                 "Hold policy of the payments target (default deploy/payments/hold-policy.yaml)");
  up->add_option("--alertmanager-url", o.up.alertmanager_url,
                 "Deliver flags as alerts to this Alertmanager, e.g. http://127.0.0.1:9093");
  AddServeOptions(up, &o.up.serve);
  up->add_option("--tiles-port", o.up.tiles.port,
                 "Port for /checkpoint and the hash tiles (c2sp.org/tlog-tiles; 0 = any)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  AddApiServeOptions(up, &o.up.api, /*in_up=*/true);
  OnChosen(up, action, [&] { return RunUp(o.up, rt); });

  auto* tiles = app.add_subcommand(
      "tiles",
      "Serve /checkpoint and the log's hash tiles over HTTP (c2sp.org/tlog-tiles; read-only; "
      "never entries)");
  tiles->add_option("--store", o.tiles.store, "The log directory (DATA_DIR/log)")->required();
  tiles->add_option("--log-key", o.tiles.log_key,
                    "The log's verifier key, or its file (default: the key pinned in the log)");
  AddHttpOptions(tiles, &o.tiles.http, "/checkpoint and the tiles");
  OnChosen(tiles, action, [&] { return RunTiles(o.tiles, rt); });

  auto* api = app.add_subcommand(
      "api", "Run the audit api: trails with proofs, flags, decisions, scoped per caller");
  AddBusOptions(api, &o.api.bus, "Kafka bootstrap servers (access records and decisions go here)");
  api->add_option("--log-dir", o.api.log_dir,
                  "The log to serve (the sequencer's DATA_DIR/log or a replica's), read-only")
      ->capture_default_str();
  AddApiServeOptions(api, &o.api.serve, /*in_up=*/false);
  api->add_option("--log-key", o.api.log_key,
                  "The log's verifier key file (probity.pub): every checkpoint is verified "
                  "against it, and dispute bundles carry it unless --bundle-policy is given");
  AddHttpOptions(api, &o.api.http);
  OnChosen(api, action, [&] { return RunApi(o.api, rt); });

  auto* alerts = app.add_subcommand(
      "alerts", "Run the alerts target: follow probity.log.v1, deliver flags to Alertmanager");
  AddBusOptions(alerts, &o.alerts.bus);
  alerts
      ->add_option("--alertmanager-url", o.alerts.alertmanager_url,
                   "Alertmanager base URL, e.g. http://127.0.0.1:9093")
      ->required();
  alerts->add_option("--routing", o.alerts.routing_file,
                     "Routing file: alerts get the alertmanager_labels of matching routes");
  alerts->add_option("--catch-up-from", o.alerts.catch_up_from,
                     "A verified copy of the log (the sequencer's DATA_DIR/log, or a replica's) "
                     "to read entries retention has taken from probity.log.v1");
  alerts->add_option("--log-key", o.alerts.log_key,
                     "The log's verifier key file (probity.pub): checkpoints on "
                     "probity.checkpoints.v1 are verified against it");
  AddHttpOptions(alerts, &o.alerts.http);
  alerts->add_option("--data-dir", o.alerts.data_dir, "Delivery state goes in DATA_DIR/alerts")
      ->capture_default_str();
  OnChosen(alerts, action, [&] { return RunAlerts(o.alerts, rt); });

  auto* replica = app.add_subcommand(
      "replica",
      "Run a replica: follow probity.log.v1 and probity.checkpoints.v1, keep a verified copy of "
      "the log in DATA_DIR/log (the sequencer's format; serves the same proofs)");
  AddBusOptions(replica, &o.replica.bus);
  replica->add_option("--data-dir", o.replica.data_dir, "The copy goes in DATA_DIR/log")
      ->capture_default_str();
  replica->add_option("--log-key", o.replica.log_key,
                      "The log's verifier key file (probity.pub), required: only entries covered "
                      "by a checkpoint signed by this key are written");
  replica->add_option("--catch-up-from", o.replica.catch_up_from,
                      "A verified copy of the log (the sequencer's DATA_DIR/log, or another "
                      "replica's) to read entries retention has taken from probity.log.v1");
  replica->add_flag("--sync", o.replica.sync, "fsync every batch");
  AddHttpOptions(replica, &o.replica.http);
  OnChosen(replica, action, [&] { return RunReplica(o.replica, rt); });
  auto* compare = replica->add_subcommand(
      "compare",
      "Compare a replica's copy with the sequencer's store, byte for byte (entries, tiles, "
      "indexes, tree, checkpoints); exit 0 equal, 3 different");
  compare->add_option("--primary", o.replica_compare.primary, "The sequencer's DATA_DIR/log")
      ->required();
  compare->add_option("--replica", o.replica_compare.replica, "The replica's DATA_DIR/log")
      ->required();
  compare->add_flag("--latest-checkpoint-only", o.replica_compare.latest_checkpoint_only,
                    "Checkpoints: the copy's must each equal the primary's and the latest be the "
                    "same, but it may lack some (the sequencer re-publishes only its latest after "
                    "a crash)");
  OnChosen(compare, action, [&] { return ReplicaCompare(o.replica_compare); });

  auto* keygen = app.add_subcommand(
      "keygen", "Create an Ed25519 checkpoint signing key pair (signed-note formats)");
  keygen->add_option("--name", o.keygen.name, "Key name (use the log's origin)")
      ->capture_default_str();
  keygen->add_option("--out-dir", o.keygen.out_dir, "Writes OUT_DIR/probity.key (0600) and .pub")
      ->capture_default_str();
  keygen->add_flag("--cosigner", o.keygen.cosigner,
                   "A witness's cosigner key (c2sp.org/tlog-cosignature, type 4) instead of a "
                   "log key");

  auto* witness = app.add_subcommand(
      "witness",
      "Run a checkpoint witness (c2sp.org/tlog-witness): cosign the logs' checkpoints "
      "that are consistent with what it cosigned before");
  witness->add_option("--key", o.witness.key, "The witness's cosigner key file (keygen --cosigner)")
      ->required();
  witness
      ->add_option("--log", o.witness.logs,
                   "A log to witness: its verifier key, or ORIGIN=VKEY (repeatable)")
      ->required();
  witness->add_option("--state-dir", o.witness.state_dir, "Where the witness keeps its state")
      ->capture_default_str();
  AddHttpOptions(witness, &o.witness.http, "/add-checkpoint");
  OnChosen(witness, action, [&] { return RunWitness(o.witness, rt); });
  OnChosen(keygen, action, [&] { return RunKeygen(o.keygen); });
}

void AddLogCommands(CLI::App& app, AllOptions& o, Action* action) {
  auto* log = app.add_subcommand("log", "Read, prove and verify the audit log (read-only)");
  log->require_subcommand(1);

  auto* list = log->add_subcommand(
      "list", "List entries: in log order, or by practice (event-time order) or kind");
  AddLogFlags(list, &o.list.log);
  list->add_option("--from", o.list.from, "First index")->capture_default_str();
  list->add_option("--limit", o.list.limit, "Most entries to list")->capture_default_str();
  list->add_option("--practice", o.list.practice,
                   "Only this practice's entries (ODS code), in event-time order");
  list->add_option("--kind", o.list.kind,
                   "Only entries of this kind (claim, referral, patient_contact, ...); "
                   "with --kind alone, --from is the first index to look at");
  list->add_option("--occurred-from", o.list.occurred_from,
                   "With --practice: occurred on or after this day (YYYY-MM-DD, UTC)");
  list->add_option("--occurred-to", o.list.occurred_to,
                   "With --practice: occurred before this day (YYYY-MM-DD, UTC)");
  OnChosen(list, action, [&] { return LogList(o.list); });

  auto* get = log->add_subcommand("get", "Show one entry (as JSON) by index or event id");
  AddLogFlags(get, &o.get.log);
  auto* index = get->add_option("index", o.get.index, "Log index");
  auto* event_id =
      get->add_option("--event-id", o.get.event_id, "Event id (shows every entry with it)");
  event_id->excludes(index);
  get->add_flag("--raw", o.get.raw,
                "Write the entry's exact leaf bytes (the stored LogRecord, as hashed) instead of "
                "JSON");
  get->add_option("--out", o.get.raw_out, "With --raw: the file to write (- is standard output)")
      ->capture_default_str();
  get->callback([&, index, event_id, action] {
    if (index->count() == 0 && event_id->count() == 0) {
      throw CLI::ValidationError("give an INDEX or --event-id");
    }
    if (!*action) *action = [&] { return LogGet(o.get); };
  });

  auto* verify = log->add_subcommand(
      "verify",
      "Recompute every leaf and node; check stored checkpoints. Exit 3 names the first bad index");
  AddLogFlags(verify, &o.verify);
  OnChosen(verify, action, [&] { return LogVerify(o.verify); });

  auto* proof = log->add_subcommand("proof", "RFC 6962 proofs");
  proof->require_subcommand(1);
  auto* incl =
      proof->add_subcommand("inclusion", "Inclusion proof of an entry in the tree of a given size");
  AddLogFlags(incl, &o.inclusion.log);
  incl->add_option("--index", o.inclusion.index, "Leaf index")->required();
  incl->add_option("--size", o.inclusion.size,
                   "Tree size (default: the latest signed checkpoint's size)");
  OnChosen(incl, action, [&] { return LogInclusionProof(o.inclusion); });
  auto* cons = proof->add_subcommand("consistency", "Consistency proof between two tree sizes");
  AddLogFlags(cons, &o.consistency.log);
  cons->add_option("--from", o.consistency.from, "Older tree size (> 0)")->required();
  cons->add_option("--to", o.consistency.to,
                   "Newer tree size (default: the latest signed checkpoint's size)");
  OnChosen(cons, action, [&] { return LogConsistencyProof(o.consistency); });

  auto* cp = log->add_subcommand(
      "checkpoint",
      "Print the latest signed checkpoint whose signature verifies (a C2SP signed note)");
  AddLogFlags(cp, &o.checkpoint.log);
  cp->add_option("--size", o.checkpoint.size, "The stored checkpoint of exactly this size");
  OnChosen(cp, action, [&] { return LogCheckpoint(o.checkpoint); });

  auto* dl = log->add_subcommand("deadletters", "List rejected messages with their reasons");
  AddLogFlags(dl, &o.deadletters.log);
  dl->add_option("--from", o.deadletters.from, "First dead letter")->capture_default_str();
  dl->add_option("--limit", o.deadletters.limit, "Most to list")->capture_default_str();
  dl->add_option("--raw", o.deadletters.raw,
                 "Write dead letter N's original value, exactly as received, instead of listing "
                 "(a MESSAGE_TOO_LARGE dead letter is published on the bus as a reference only)");
  dl->add_option("--out", o.deadletters.raw_out,
                 "With --raw: the file to write (- is standard output)")
      ->capture_default_str();
  OnChosen(dl, action, [&] { return LogDeadLetters(o.deadletters); });
}

void AddAnalysisCommands(CLI::App& app, AllOptions& o, const Runtime& rt, Action* action) {
  auto* rules = app.add_subcommand(
      "rules", "Run the rules target: follow probity.log.v1, evaluate the rule set, publish flags");
  rules->require_subcommand(0, 1);
  AddBusOptions(rules, &o.rules.bus);
  rules->add_option("--data-dir", o.rules.data_dir, "Rules state goes in DATA_DIR/rules")
      ->capture_default_str();
  rules->add_option("--rules", o.rules.rules_file,
                    "Rule set file (default deploy/rules/default.yaml)");
  AddHttpOptions(rules, &o.rules.http);
  rules->add_option("--catch-up-from", o.rules.catch_up_from,
                    "A verified copy of the log (the sequencer's DATA_DIR/log, or a replica's) to "
                    "read entries retention has taken from probity.log.v1");
  rules->add_option("--log-key", o.rules.log_key,
                    "The log's verifier key file (probity.pub): checkpoints on "
                    "probity.checkpoints.v1 are verified against it");
  OnChosen(rules, action, [&] { return RunRules(o.rules, rt); });

  auto* rebuild = rules->add_subcommand(
      "rebuild", "Rebuild the rules state from the audit log (publishes nothing)");
  rebuild->add_option("--data-dir", o.rules.data_dir, "Probity data directory")
      ->capture_default_str();
  rebuild->add_option("--rules", o.rules.rules_file, "Rule set file");
  OnChosen(rebuild, action, [&] { return RulesRebuild(o.rules); });

  auto* backtest = rules->add_subcommand("backtest",
                                         "Evaluate a candidate rule set over the log without "
                                         "publishing; compare with what the active rules raised");
  backtest->add_option("--rules", o.backtest.candidate, "Candidate rule set file")->required();
  backtest->add_option("--data-dir", o.rules.data_dir, "Probity data directory")
      ->capture_default_str();
  backtest->add_option("--from", o.backtest.from, "First event date, YYYY-MM-DD (event time)");
  backtest->add_option("--to", o.backtest.to, "Date after the last, YYYY-MM-DD (event time)");
  backtest->add_flag("--json", o.backtest.json, "One JSON object per rule and practice");
  OnChosen(backtest, action, [&] { return RulesBacktest(o.rules, o.backtest); });

  auto* gen = app.add_subcommand("generate",
                                 "Generate a synthetic national feed on the real 2022-23 practice "
                                 "register, with injected anomalies");
  AddBusOptions(gen, &o.generate.bus, "Produce to this Kafka");
  gen->add_option("--out", o.generate.out, "Write a replayable file instead of producing");
  gen->add_option("--replay", o.generate.replay, "Produce a file written earlier with --out");
  AddScenarioOptions(gen, &o.generate.scenario);
  gen->add_option("--rate", o.generate.rate, "Events per second (0 = as fast as possible)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  gen->add_option("--truth", o.generate.truth,
                  "Ground-truth file of injected anomalies (JSON lines)")
      ->capture_default_str();
  OnChosen(gen, action, [&] { return RunGenerate(o.generate, rt); });

  auto* score = app.add_subcommand(
      "score",
      "Detection scores: the flags in the log against a generator's ground truth (or, with "
      "`score offline`, a scenario replayed through the rules in this process)");
  score->require_subcommand(0, 1);
  auto* truth = score->add_option("--truth", o.score.truth_file,
                                  "Ground-truth file from probity generate (required)");
  score->add_option("--data-dir", o.score.data_dir, "Probity data directory")
      ->capture_default_str();
  score->add_flag("--json", o.score.json, "JSON report");
  score->callback([&, score, truth, action] {
    if (!score->get_subcommands().empty()) return;  // `score offline`
    if (truth->count() == 0) throw CLI::RequiredError("--truth");
    *action = [&] { return RunScore(o.score); };
  });

  auto* offline = score->add_subcommand(
      "offline",
      "Generate a scenario, replay it through the rules engine in this process (no bus, no log) "
      "and score the flags against its ground truth");
  offline->excludes(truth);
  AddScenarioOptions(offline, &o.score_offline.scenario);
  offline->add_option("--rules", o.score_offline.rules_file,
                      "Rule set file (default deploy/rules/default.yaml)");
  offline->add_flag("--diagnose", o.score_offline.diagnose,
                    "Also explain every false positive and negative");
  offline->add_flag("--json", o.score_offline.json, "JSON report");
  offline->add_flag("--truth-only", o.score_offline.truth_only,
                    "Print the planned ground truth (JSON lines) and stop");
  offline->add_option("--power-csv", o.score_offline.power_csv,
                      "With --graded: write the power table (recall and bound per kind, pattern "
                      "and magnitude) as CSV to this file");
  OnChosen(offline, action, [&] { return RunScoreOffline(o.score_offline); });
}

// A word given to a command that has subcommands and naming none of them, found in what CLI11
// left over ("probity log nosuch" -> command "probity log", word "nosuch").
struct UnknownCommand {
  std::string command, word, known;
};
std::optional<UnknownCommand> FindUnknownCommand(CLI::App* app, const std::string& path) {
  std::vector<CLI::App*> all = app->get_subcommands([](CLI::App*) { return true; });
  std::vector<std::string> rest = app->remaining();
  if (!all.empty() && !rest.empty() && !rest.front().empty() && rest.front()[0] != '-') {
    std::string known;
    for (CLI::App* c : all) known += (known.empty() ? "" : ", ") + c->get_name();
    return UnknownCommand{path, rest.front(), known};
  }
  for (CLI::App* sub : app->get_subcommands()) {
    if (auto u = FindUnknownCommand(sub, path + " " + sub->get_name())) return u;
  }
  return std::nullopt;
}

}  // namespace

int Main(int argc, const char* const* argv, const Runtime& rt) {
  CLI::App app{
      "Probity: a tamper-evident audit log and performance-flag service for the commissioners of "
      "GP practice contracts.\nSee README.md and docs/ for the architecture and operations.",
      "probity"};
  app.require_subcommand(1);
  app.set_config("--config", "", "Read options from a TOML/INI file (same names as the flags)");
  app.footer(kFooter);

  AllOptions options;
  Action action;
  AddRunCommands(app, options, rt, &action);
  AddWebhooksCommands(app, &options.webhooks, app.get_subcommand("up"), &options.up, rt, &action);
  AddLogCommands(app, options, &action);
  AddAnalysisCommands(app, options, rt, &action);
  AddPaymentsCommands(app, &options.payments, rt, &action);
  AddVerifyCommands(app, &action);
  AddBundleCommands(app, &options.bundle, &action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Before CLI11's own answer: `probity nosuch --help` would otherwise print the help and exit 0.
    if (auto u = FindUnknownCommand(&app, "probity")) {
      std::cerr << u->command << ": unknown command '" << u->word << "' (commands: " << u->known
                << "; see " << u->command << " --help)\n";
      return kExitUsage;
    }
    if (e.get_exit_code() == 0) return app.exit(e);  // --help: prints the chosen command's help
    std::string command = "probity";
    for (CLI::App* c = &app; !c->get_subcommands().empty();) {
      c = c->get_subcommands().front();
      command += " " + c->get_name();
    }
    std::cerr << command << ": " << e.what() << " (see " << command << " --help)\n";
    return kExitUsage;
  }
  return action ? action() : kExitUsage;
}

}  // namespace probity::cli
