// Ground truth of a generated run: which practices carry which injected anomaly. Written by the
// generator, read by services/score. Format (JSON lines, one object a line, UTF-8):
//
//   {"practice_code":"A81001","rule_kind":"claim_exceeds_cohort","detail":"...",
//    "window":{"start":"2022-09-01T00:00:00Z","end":"2022-10-01T00:00:00Z"}}
//
// and, only when set, "magnitude" (number), "pattern" and "undetectable" (strings).
//
// window is the event-time interval [start, end) in which the anomaly shows. Lines are in the
// order the anomalies were assigned. Practices not in the file are clean.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.h"
#include "common/time/clock.h"

namespace probity::generate {

struct TruthEntry {
  std::string practice_code;
  std::string rule_kind;  // one of kRuleKinds
  std::string detail;     // plain English: what was injected, with the ids involved
  Micros window_start = 0;
  Micros window_end = 0;
  // Graded scenarios (GeneratorParams::graded): the anomaly's size in its kind's unit
  // (docs/generator.md, "Graded anomalies"): a factor for rates and amounts, the growth factor of
  // a list, the excess over a cohort or a maximum. 0 when not graded.
  double magnitude = 0;
  // How it is applied, e.g. "total" or "stream" (payments), "home_visit" or "out_of_hours"
  // (contacts), "sustained" or "one-off". Empty when not graded.
  std::string pattern;
  // Why no rule of the kind can see it by design (e.g. "list of 640 patients, below the rule's
  // 1,000-patient minimum"); empty when it is detectable. Scoring counts such an entry neither as
  // found nor as missed.
  std::string undetectable;

  bool operator==(const TruthEntry&) const = default;
};

// One line, without the trailing newline.
std::string TruthToJsonLine(const TruthEntry& entry);
// Every entry, each followed by "\n".
std::string TruthToJsonl(const std::vector<TruthEntry>& entries);
// Parses JSON lines (blank lines skipped). InvalidArgument naming the line when a line is not an
// object with string practice_code and rule_kind; detail and window are optional.
StatusOr<std::vector<TruthEntry>> ParseTruthJsonl(std::string_view text);

Status WriteTruthFile(const std::string& path, const std::vector<TruthEntry>& entries);
StatusOr<std::vector<TruthEntry>> ReadTruthFile(const std::string& path);

}  // namespace probity::generate
