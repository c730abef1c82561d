// `probity rules ...`, `probity generate`, `probity score`.
#pragma once

#include <cstdint>
#include <string>

#include "services/cli/commands.h"

namespace probity::cli {

std::string DefaultRulesFile();  // deploy/rules/default.yaml in the source tree

struct RulesFlags {
  std::string data_dir = "./probity-data";
  std::string rules_file;  // default DefaultRulesFile()
};
// Follows probity.log.v1 on the bus and publishes flags.
int RunRules(const BusFlags& bus, const RulesFlags& f, int http_port, const std::string& http_host);
// Rebuilds the rules state from the log store (no publishing).
int RulesRebuild(const RulesFlags& f);
// Evaluates a candidate rule set over the log without publishing, beside what the active rules
// raised. Dates are YYYY-MM-DD (event time, inclusive from, exclusive to); empty = unbounded.
int RulesBacktest(const RulesFlags& f, const std::string& candidate, const std::string& from,
                  const std::string& to, bool json);

struct GenerateFlags {
  std::string register_csv;  // default: the repository's copy
  std::string from = "2022-04-01";
  std::string to = "2023-04-01";
  double scale = 1.0;   // share of practices
  double volume = 1.0;  // share of per-practice volumes (referrals, contacts)
  double anomaly_share = 0.01;
  uint64_t seed = 1;
  double rate = 0;     // events/s to the bus; 0 = as fast as possible
  std::string out;     // write a replayable file instead of producing
  std::string replay;  // produce a file written earlier
  std::string truth = "truth.jsonl";
};
int RunGenerate(const BusFlags& bus, const GenerateFlags& f, bool to_bus);

int RunScore(const std::string& data_dir, const std::string& truth_file, bool json);

}  // namespace probity::cli
