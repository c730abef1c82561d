// The `probity` command line: each command is a function taking its parsed options, so main()
// only wires CLI11 to these. Every command returns a process exit code and prints errors to
// stderr as "probity <command>: <message>".
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace probity::cli {

// Set by SIGINT / SIGTERM; long-running commands stop cleanly when it becomes true.
std::atomic<bool>& StopFlag();

struct BusFlags {
  std::string bootstrap_servers = "127.0.0.1:9092";
  std::map<std::string, std::string> kafka_properties;  // --kafka-property k=v
};

struct ServeFlags {
  std::string data_dir = "./probity-data";
  std::string http_host = "127.0.0.1";
  int http_port = 9464;
  std::string signing_key;  // default <data_dir>/probity.key
  std::string origin = "probity.example/log";
  bool generate_key_if_missing = false;
  bool sync = false;
  int checkpoint_interval_ms = 1000;
  uint64_t checkpoint_every_entries = 100000;
  size_t max_batch = 5000;
  int max_batch_latency_ms = 20;
};

int RunBus(int port, int brokers);
int RunIngest(const BusFlags& bus, const ServeFlags& serve);
int RunUp(int port, const ServeFlags& serve, bool demo, const std::string& rules_file,
          const std::string& alertmanager_url);
// Follows probity.log.v1 and delivers flags as alerts to Alertmanager.
int RunAlerts(const BusFlags& bus, const std::string& data_dir,
              const std::string& alertmanager_url);
int RunKeygen(const std::string& name, const std::string& out_dir);

struct LogFlags {
  std::string data_dir = "./probity-data";
  bool json = false;
};
// Optional filters of `probity log list`, served by the practice and kind indexes.
struct ListFilter {
  std::string practice;       // ODS code: that practice's entries, in event-time order
  std::string kind;           // event kind name (claim, referral, ...): entries of that kind
  std::string occurred_from;  // YYYY-MM-DD (UTC), with --practice: occurred on or after
  std::string occurred_to;    // YYYY-MM-DD (UTC), with --practice: occurred before
};
int LogList(const LogFlags& f, uint64_t from, uint64_t limit, const ListFilter& filter = {});
int LogGet(const LogFlags& f, std::optional<uint64_t> index, const std::string& event_id);
int LogVerify(const LogFlags& f);
int LogInclusionProof(const LogFlags& f, uint64_t index, std::optional<uint64_t> size);
int LogConsistencyProof(const LogFlags& f, uint64_t from, std::optional<uint64_t> to);
int LogCheckpoint(const LogFlags& f);
int LogDeadLetters(const LogFlags& f, uint64_t from, uint64_t limit);
// Writes dead letter `seq`'s original value, byte for byte as received, to `out_file` ("-" is
// stdout); its SHA-256 equals the dead letter's original_value_sha256.
int LogDeadLetterRaw(const LogFlags& f, uint64_t seq, const std::string& out_file);

}  // namespace probity::cli
