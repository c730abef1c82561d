// Internal to probity_bundle: decoding bundle entries and re-deriving a flag from them with the
// rules engine (docs/bundle.md, "Re-evaluation"). Shared by the builder (which lists the entries
// a replay needs) and the verifier (which replays them).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.h"
#include "probity/v1/bundle.pb.h"
#include "probity/v1/events.pb.h"
#include "probity/v1/log.pb.h"

namespace probity::bundle::internal {

// Name and format of the re-evaluation this build performs (ReevaluationManifest.engine).
inline constexpr std::string_view kEngine = "probity-rules/1";

// One log entry, decoded: the leaf as a LogRecord and its payload as an Envelope.
struct DecodedEntry {
  uint64_t index = 0;
  v1::LogRecord record;
  v1::Envelope envelope;
};

// Decodes leaf bytes. DataLoss when the record or its payload does not parse.
StatusOr<DecodedEntry> DecodeEntry(uint64_t index, std::string_view leaf);

// The method the verifier requires for a rule kind: REPLAY for the rules whose flag follows from
// the entries it names (and the practice's register entry, and the entry that triggered it),
// LIMITS for peer and own-history comparisons and for timers (which judge an absence by the
// clock of the whole log); UNSPECIFIED for a kind this build does not know.
v1::ReevaluationMethod MethodFor(std::string_view rule_kind);

// Feeds `entries` (ascending index) to an engine running only the rule `flag.rule_id` of the
// rule set `rule_set_yaml`, and requires it to raise a flag byte-identical to `flag`.
// DataLoss naming the first difference when it raises another flag or none; InvalidArgument
// when the rule set does not load or does not hold the rule.
Status Replay(std::string_view rule_set_yaml, const v1::Flag& flag,
              const std::vector<const DecodedEntry*>& entries);

// Checks the flag's figures against its limits and baseline (and a logged Baseline entry, when
// given). DataLoss naming the figure that does not hold.
Status CheckLimits(const v1::Flag& flag, const v1::Baseline* baseline);

}  // namespace probity::bundle::internal
