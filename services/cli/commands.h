// The `probity` command line. app.h parses and validates the options of the chosen command once
// (CLI11 binds each flag straight to a field of the structs below, whose initializers are the
// defaults), then calls that command's function here with them, read-only. Every function returns
// the process exit status (ExitCode) and reports errors on stderr as "probity <command>: <why>".
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bus/kafka.h"
#include "common/note/note.h"
#include "common/status/status.h"
#include "common/time/clock.h"
#include "services/api/api.h"
#include "services/ingest/ingest.h"

namespace probity::cli {

// The exit status of every command (docs/operations.md, "Exit status"; the `probity --help`
// footer says the same).
enum ExitCode : int {
  kExitOk = 0,
  // The command ran and failed: an error at run time, or an option value the command checks
  // itself (a date, a kind, a file that does not load, a Kafka property librdkafka refuses).
  kExitFailure = 1,
  // The command line does not parse: unknown command or option, missing option, a value of the
  // wrong type. Nothing ran.
  kExitUsage = 2,
  // Stored data is damaged: `log verify` found a bad entry, node or checkpoint (or another
  // command read an entry that does not parse).
  kExitDataLoss = 3,
};

// Prints "probity <command>: <message>" to stderr. Returns kExitDataLoss for a DataLoss status,
// kExitFailure for any other. REQUIRES: !st.ok().
int Fail(std::string_view command, const Status& st);

// Parses the value of a date option with the one strict parser (civil::ParseDate): 00:00 UTC of
// that day. InvalidArgument "<flag> '<text>' is not a date (YYYY-MM-DD)" otherwise.
StatusOr<Micros> ParseDateOption(std::string_view flag, const std::string& text);

// What the entry point hands every command besides its options.
struct Runtime {
  // Set by SIGINT / SIGTERM; long-running commands stop cleanly when it becomes true. A target
  // that fails sets it too, so that the rest of the process stops.
  std::atomic<bool>* stop = nullptr;
  const Clock* clock = nullptr;
};

inline constexpr char kDefaultDataDir[] = "./probity-data";
inline constexpr char kDefaultBootstrapServers[] = "127.0.0.1:9092";

// Where a target serves /metrics and /healthz.
struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 = any free port
};

// `probity bus`.
struct BusServerOptions {
  int port = 9092;  // fixed loopback bootstrap port
  int brokers = 1;
};
int RunBus(const BusServerOptions& o, const Runtime& rt);

// The serving options of the ingest target (`probity ingest`, and inside `probity up`).
struct ServeOptions {
  std::string data_dir = kDefaultDataDir;  // the log is DATA_DIR/log
  HttpOptions http{.port = 9464};
  std::string signing_key;  // default DATA_DIR/keys/probity.key
  bool sync = false;        // fsync every batch
  // --witness URL=VKEY (repeatable): witnesses to send checkpoints to (c2sp.org/tlog-witness),
  // every --witness-interval-ms (ingest.witness_interval_ms).
  std::vector<std::string> witnesses;
  // --origin, --checkpoint-interval-ms, --checkpoint-every, --max-batch, --max-batch-latency-ms
  // are bound to these fields: the defaults are ingest's own.
  ingest::IngestOptions ingest;
};

// `probity ingest`.
struct IngestCommandOptions {
  bus::ClientConfig bus{kDefaultBootstrapServers, {}};
  ServeOptions serve;
};
int RunIngest(const IngestCommandOptions& o, const Runtime& rt);

// The api's serving options (`probity api`, and `probity up --api-access`).
struct ApiServeOptions {
  std::string access_file;  // the callers (docs/api.md, "Access file"); required
  std::string state_dir;    // idempotency records; default DATA_DIR/api (up), ./probity-api (api)
  api::ApiOptions api{.port = 9470};
  bool quiet = false;  // no request log on stderr
  // The verifier policy dispute bundles carry (a VerifierPolicy JSON file). `up` defaults to the
  // log's own key, no witnesses.
  std::string bundle_policy_file;
  // The log's keys the api's follower checks checkpoints with (a rotated key file lists several);
  // empty: the bundle policy's log key.
  std::vector<note::Verifier> log_keys;
};

// `probity api`: the audit api over a log store, recording reads and decisions on the bus.
struct ApiCommandOptions {
  bus::ClientConfig bus{kDefaultBootstrapServers, {}};
  std::string log_dir = std::string(kDefaultDataDir) + "/log";  // the sequencer's or a replica's
  ApiServeOptions serve;
  // The log's verifier key file: every checkpoint is verified against it, and bundles carry it
  // (no witnesses) unless --bundle-policy names a policy.
  std::string log_key;
  HttpOptions http{.port = 9469};  // /metrics and /healthz
};
int RunApi(const ApiCommandOptions& o, const Runtime& rt);

// `probity up`: ingest, rules, payments (and alerts) in one process, on the embedded bus unless
// bus.bootstrap_servers names another.
struct UpOptions {
  int port = 9092;        // the embedded bus's bootstrap port
  bus::ClientConfig bus;  // empty bootstrap_servers: the embedded bus; properties for every client
  ServeOptions serve;
  bool demo = false;
  std::string rules_file;        // default DefaultRulesFile()
  std::string alertmanager_url;  // empty: no alerts target
  std::string routing_file;      // not empty: the webhooks target, and alert labels by route
  int64_t webhook_first_retry_ms = 5000;
  HttpOptions tiles;             // /checkpoint and hash tiles (c2sp.org/tlog-tiles); port 0: any
  ApiServeOptions api;           // empty access_file: no api target
  std::string hold_policy_file;  // payments target; default deploy/payments/hold-policy.yaml
};
int RunUp(const UpOptions& o, const Runtime& rt);

// `probity alerts`: follows probity.log.v1 and delivers flags as alerts to Alertmanager.
struct AlertsCommandOptions {
  bus::ClientConfig bus{kDefaultBootstrapServers, {}};
  std::string alertmanager_url;
  std::string data_dir = "./probity-alerts";  // delivery state goes in DATA_DIR/alerts
  std::string catch_up_from;  // a verified copy of the log to read what retention took
  std::string log_key;        // the log's verifier key file: checkpoints are verified with it
  HttpOptions http{.port = 9466};
  std::string routing_file;  // not empty: alerts get the alertmanager_labels of matching routes
};
int RunAlerts(const AlertsCommandOptions& o, const Runtime& rt);

// `probity replica`: follows probity.log.v1 + probity.checkpoints.v1 and keeps a verified copy
// of the log in DATA_DIR/log (follow_commands.cc).
struct ReplicaCommandOptions {
  bus::ClientConfig bus{kDefaultBootstrapServers, {}};
  std::string data_dir = "./probity-replica";
  std::string log_key;        // the log's verifier key file (required)
  std::string catch_up_from;  // a verified copy of the log to read what retention took
  bool sync = false;
  HttpOptions http{.port = 9472};
};
int RunReplica(const ReplicaCommandOptions& o, const Runtime& rt);
// `probity replica compare`: replica::CompareStores on two log directories, read-only.
struct ReplicaCompareOptions {
  std::string primary;  // the sequencer's DATA_DIR/log
  std::string replica;  // the replica's DATA_DIR/log
  bool latest_checkpoint_only = false;
};
int ReplicaCompare(const ReplicaCompareOptions& o);

// `probity tiles`: serves /checkpoint and the hash tiles of the log in `store` (a log directory,
// DATA_DIR/log) over HTTP, read-only, following a writer in another process.
struct TilesOptions {
  std::string store;    // the log directory
  std::string log_key;  // the log's verifier key or its file; default: the key pinned in the log
  HttpOptions http{.port = 9471};
};
int RunTiles(const TilesOptions& o, const Runtime& rt);

// `probity keygen`.
struct KeygenOptions {
  std::string name = "probity.example/log";
  std::string out_dir = ".";
  bool cosigner = false;  // a witness's cosigner key (type 0x04) instead of a log key
};

// `probity witness`: a c2sp.org/tlog-witness witness (services/witness/witness.h).
struct WitnessCommandOptions {
  std::string state_dir = "./probity-witness";  // RocksDB: the latest cosigned checkpoint per log
  std::string key;                // the witness's cosigner key file (keygen --cosigner)
  std::vector<std::string> logs;  // "VKEY" or "ORIGIN=VKEY" (default origin: the key's name)
  HttpOptions http{.port = 9480};
};
int RunWitness(const WitnessCommandOptions& o, const Runtime& rt);
int RunKeygen(const KeygenOptions& o);

// `probity log ...`: read-only views of the log in DATA_DIR/log.
struct LogFlags {
  std::string data_dir = kDefaultDataDir;
  bool json = false;
  // The log's verifier key, or a file holding it. Default: DATA_DIR/keys/probity.pub if it
  // exists, else the key the sequencer pinned in the store (docs/checkpoints.md).
  std::string log_key;
};
// `probity log list`: in log order, or through the practice and kind indexes.
struct ListOptions {
  LogFlags log;
  uint64_t from = 0;  // first index (in log order, or the first to look at with --kind alone)
  uint64_t limit = 100;
  std::string practice;       // ODS code: that practice's entries, in event-time order
  std::string kind;           // event kind name (claim, referral, ...): entries of that kind
  std::string occurred_from;  // YYYY-MM-DD (UTC), with --practice: occurred on or after
  std::string occurred_to;    // YYYY-MM-DD (UTC), with --practice: occurred before
};
int LogList(const ListOptions& o);
struct GetOptions {
  LogFlags log;
  std::optional<uint64_t> index;
  std::string event_id;  // exactly one of index and event_id
  // --raw: write the entry's exact leaf bytes (the stored LogRecord, as hashed into the tree) to
  // `raw_out` ("-" is stdout) instead of JSON. REQUIRES exactly one entry.
  bool raw = false;
  std::string raw_out = "-";
};
int LogGet(const GetOptions& o);
int LogVerify(const LogFlags& f);
// Proofs are for the tree of the latest signed checkpoint (one whose note verifies with the log's
// key) unless a size is given; they say which size they are for.
struct InclusionOptions {
  LogFlags log;
  uint64_t index = 0;
  std::optional<uint64_t> size;  // default: the latest signed checkpoint's size
};
int LogInclusionProof(const InclusionOptions& o);
struct ConsistencyOptions {
  LogFlags log;
  uint64_t from = 0;           // > 0: RFC 9162 defines no proof from the empty tree
  std::optional<uint64_t> to;  // default: the latest signed checkpoint's size
};
int LogConsistencyProof(const ConsistencyOptions& o);
// `probity log checkpoint`: the largest stored checkpoint whose note verifies with the log's key
// and matches its record (or the one of exactly --size).
struct CheckpointOptions {
  LogFlags log;
  std::optional<uint64_t> size;
};
int LogCheckpoint(const CheckpointOptions& o);
struct DeadLettersOptions {
  LogFlags log;
  uint64_t from = 0;
  uint64_t limit = 100;
  // --raw N: write dead letter N's original value, byte for byte as received, to `raw_out`
  // ("-" is stdout) instead of listing; its SHA-256 equals the dead letter's
  // original_value_sha256 (a MESSAGE_TOO_LARGE dead letter is published as a reference only).
  std::optional<uint64_t> raw;
  std::string raw_out = "-";
};
int LogDeadLetters(const DeadLettersOptions& o);

}  // namespace probity::cli
