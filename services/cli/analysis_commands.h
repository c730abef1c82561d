// `probity rules ...`, `probity generate`, `probity score ...`. Options as in commands.h: bound by
// CLI11 to these fields, whose initializers are the defaults, and passed read-only.
#pragma once

#include <cstdint>
#include <string>

#include "common/time/civil.h"
#include "services/cli/commands.h"
#include "services/generate/generator.h"

namespace probity::cli {

std::string DefaultRulesFile();  // deploy/rules/default.yaml in the source tree

// `probity rules`: follows probity.log.v1 on the bus and publishes flags.
struct RulesOptions {
  bus::ClientConfig bus{kDefaultBootstrapServers, {}};
  std::string data_dir = kDefaultDataDir;  // rules state goes in DATA_DIR/rules
  std::string rules_file;                  // default DefaultRulesFile()
  HttpOptions http{.port = 9465};
  // A verified copy of the log (the sequencer's DATA_DIR/log, or a replica's) to read entries
  // retention has taken from probity.log.v1. Empty: none (the runner waits and retries).
  std::string catch_up_from;
  // The log's verifier key file (probity.pub): checkpoints on probity.checkpoints.v1 are checked
  // against it. Empty: none are (a warning says so).
  std::string log_key;
};
int RunRules(const RulesOptions& o, const Runtime& rt);
// `probity rules rebuild`: rebuilds the rules state from the log store (no publishing). Uses
// data_dir and rules_file.
int RulesRebuild(const RulesOptions& o);
// `probity rules backtest`: evaluates a candidate rule set over the log in rules.data_dir without
// publishing, beside what the active rules raised.
struct BacktestOptions {
  std::string candidate;  // rule set file
  std::string from, to;   // YYYY-MM-DD (event time, inclusive from, exclusive to); empty: unbounded
  bool json = false;
};
int RulesBacktest(const RulesOptions& rules, const BacktestOptions& o);

// The generator's scenario, shared by `probity generate` and `probity score offline`: --scale,
// --volume, --anomalies and --seed are bound to GeneratorParams, whose defaults are the defaults.
struct ScenarioOptions {
  // The CLI ends every generated feed with END_OF_DATA (--no-end-of-data turns it off).
  generate::GeneratorParams params = [] {
    generate::GeneratorParams p;
    p.end_of_data = true;
    return p;
  }();
  // --from / --to (YYYY-MM-DD), parsed into params.start / params.end by ScenarioParams().
  std::string from = civil::FormatDate(generate::GeneratorParams{}.start);
  std::string to = civil::FormatDate(generate::GeneratorParams{}.end);
  std::string register_csv;  // default generate::DefaultReferenceCsvPath()
};
// params with the dates applied; InvalidArgument naming the flag when a date is not a date.
StatusOr<generate::GeneratorParams> ScenarioParams(const ScenarioOptions& o);

// `probity generate`: to the bus, or to a replayable file with --out; --replay produces a file.
struct GenerateOptions {
  bus::ClientConfig bus{kDefaultBootstrapServers, {}};
  ScenarioOptions scenario;
  double rate = 0;     // events/s; 0 = as fast as possible
  std::string out;     // write a replayable file instead of producing
  std::string replay;  // produce a file written earlier
  std::string truth = "truth.jsonl";
};
int RunGenerate(const GenerateOptions& o, const Runtime& rt);

// `probity score`: the flags in the log against a generator's ground truth.
struct ScoreOptions {
  std::string data_dir = kDefaultDataDir;
  std::string truth_file;
  bool json = false;
};
int RunScore(const ScoreOptions& o);

// `probity score offline`: generates the scenario, replays it through the rules engine in this
// process (no bus, no log store; score::Evaluate) and scores the flags.
struct ScoreOfflineOptions {
  ScenarioOptions scenario;
  std::string rules_file;  // default DefaultRulesFile()
  bool diagnose = false;   // also explain each false positive and negative
  bool json = false;
  bool truth_only = false;  // print the planned ground truth and stop
  std::string power_csv;    // with a graded scenario: the power table as CSV
};
int RunScoreOffline(const ScoreOfflineOptions& o);

}  // namespace probity::cli
