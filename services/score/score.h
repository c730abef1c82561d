// Detection scoring: how well a set of flags finds the anomalies a generated run injected.
//
// The unit is (practice, rule kind). A truth entry is found when at least one flag of that kind
// names that practice (Envelope.practice_code); windows are not compared. Per kind:
//   TP = truth pairs found, FN = truth pairs not found,
//   FP = distinct flagged (practice, kind) pairs not in truth,
//   precision = TP / (TP + FP), recall = TP / (TP + FN); absent when the denominator is 0.
// Clean practices are the practices of the run that are not in truth at all; the clean flag
// rate is the share of them flagged by any rule.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status/status.h"
#include "probity/v1/events.pb.h"
#include "services/generate/truth.h"

namespace probity::score {

struct KindScore {
  std::string rule_kind;
  int64_t true_positives = 0;
  int64_t false_positives = 0;
  int64_t false_negatives = 0;
  std::optional<double> precision;
  std::optional<double> recall;
  // Truth entries recorded as undetectable by design (TruthEntry::undetectable): counted here and
  // neither as found nor as missed (nor, when flagged, as false positives).
  int64_t undetectable = 0;
};

struct ScoreReport {
  // One row per kind of the catalogue (services/rules/kinds.h), then any other kind seen in
  // truth or flags (sorted).
  std::vector<KindScore> kinds;
  KindScore overall;      // micro-average: sums of the counts over every kind
  int64_t practices = 0;  // practices in the run (see ScoreOptions)
  int64_t clean_practices = 0;
  int64_t clean_practices_flagged = 0;
  std::optional<double> clean_flagged_share;
  int64_t flags = 0;                   // FLAG envelopes seen
  int64_t flags_without_practice = 0;  // FLAG envelopes with no practice_code (not scored)
};

struct ScoreOptions {
  // The practices of the run. When empty, they are taken from the PRACTICE_UPDATE envelopes among
  // the input, plus every practice named in truth or by a flag.
  std::vector<std::string> practices;
};

// Scores `envelopes` (any mix of kinds; only EVENT_KIND_FLAG with a flag payload are flags, and
// PRACTICE_UPDATE envelopes name the run's practices) against `truth`. Never fails: malformed
// flags are counted in flags_without_practice.
ScoreReport Score(const std::vector<generate::TruthEntry>& truth,
                  const std::vector<v1::Envelope>& envelopes, const ScoreOptions& options = {});

// A fixed-width plain-text table, one row per kind, then the overall row and the clean-practice
// line. Absent ratios print as "-".
std::string FormatText(const ScoreReport& report);
// One JSON object: {"kinds":[{"rule_kind":..,"tp":..,"fp":..,"fn":..,"precision":..|null,
// "recall":..|null},...],"overall":{...},"practices":..,"clean_practices":..,
// "clean_practices_flagged":..,"clean_flagged_share":..|null,"flags":..,
// "flags_without_practice":..}.
std::string FormatJson(const ScoreReport& report);

}  // namespace probity::score
