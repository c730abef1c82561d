// Offline end-to-end evaluation: a generated scenario streamed straight into a rules engine and
// scored against the generator's truth. No bus, no log store: each envelope is wrapped in the
// LogRecord ingest would write (docs/generator.md, "Detection scores"), and every flag the engine
// raises is appended back to the log as a FLAG entry, as ingest does in production.
//
// The result is a pure function of (reference rows, GeneratorParams, RuleSet): the generator and
// the engine are both deterministic and nothing here reads a clock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status/status.h"
#include "probity/v1/events.pb.h"
#include "services/generate/generator.h"
#include "services/generate/reference.h"
#include "services/generate/truth.h"
#include "services/rules/rule_set.h"
#include "services/score/power.h"
#include "services/score/score.h"

namespace probity::score {

struct EvaluateOptions {
  // received_at of each input entry = occurred_at + this (ingest reads an event a few minutes
  // after it happened). Bounds the engine's watermark (docs/rules.md).
  int64_t receive_delay_seconds = 300;
  // Keep every flag envelope in Evaluation::flags (false keeps only the count, for big runs).
  bool keep_flags = true;
  // Log each peer baseline a flag is judged against (rules::EngineOptions::log_baselines); the
  // BASELINE entries count in log_entries and baselines, not in flags.
  bool log_baselines = false;
};

struct Evaluation {
  ScoreReport report;
  std::vector<generate::TruthEntry> truth;
  std::vector<std::string> practices;  // the run's practices, sorted
  std::vector<v1::Envelope> flags;     // in log order (empty unless keep_flags)
  int64_t input_events = 0;            // generator envelopes fed to the engine
  int64_t log_entries = 0;             // input events + the rule-set entry + FLAG entries
  int64_t baselines = 0;               // BASELINE entries (EvaluateOptions::log_baselines)
  // Per kind, pattern and magnitude of a graded scenario: recall beside the bound (power.h).
  std::vector<PowerRow> power;
  // A plain-English account of what the generator planned for each flagged practice that is
  // clean or flagged for a kind it was not given (practice code -> description).
  std::vector<std::pair<std::string, std::string>> flagged_practice_plans;
};

// Generates the scenario `params` over `reference`, replays it through an engine running
// `rule_set` (EngineOptions defaults: flags learnt from the log) and scores the flags. The first
// entry of the log is the rule-set publication (index 0, at params.start), then the generator's
// envelopes in stream order, each followed by the FLAG entries it caused. Returns the first error
// of the generator or the engine (InvalidArgument for bad params, for instance).
StatusOr<Evaluation> Evaluate(const std::vector<generate::PracticeRecord>& reference,
                              const generate::GeneratorParams& params,
                              const rules::RuleSet& rule_set,
                              const generate::ProgressFn& progress = nullptr,
                              const EvaluateOptions& options = {});

// Evaluate over the repository's reference CSV (generate::DefaultReferenceCsvPath()), returning
// the report only. IoError / InvalidArgument when the CSV cannot be loaded.
StatusOr<ScoreReport> EvaluateScenario(const generate::GeneratorParams& params,
                                       const rules::RuleSet& rule_set,
                                       const generate::ProgressFn& progress = nullptr);

// One line per flag on a practice that is clean or flagged for a kind it was not given ("FP":
// the rule id, observed / expected / limits, the flag's summary, and what the generator planned
// for the practice), one per truth entry found ("TP": pattern, magnitude and the ids of the rules
// that found it, so several rules of one kind can be compared in one run) and one per truth entry
// not found ("FN" or "UNDETECTABLE"). For diagnosing false positives and negatives.
std::string FormatDiagnostics(const Evaluation& evaluation);

}  // namespace probity::score
