// The synthetic national feed: a year of claims, referrals, patient contacts, contract-monitoring
// visits and register updates for the real practices of the 2022-23 reference file, with
// anomalies of every rule kind injected into a known ~1% of practices (the ground truth).
// docs/generator.md describes the model, the volumes and every anomaly.
//
// Determinism: the stream (every byte of every envelope, and its order) is a pure function of the
// reference rows and GeneratorParams. Randomness is std::mt19937_64 with the distributions of
// random.h; nothing reads a clock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status/status.h"
#include "common/time/clock.h"
#include "services/generate/civil_time.h"
#include "services/generate/reference.h"
#include "services/generate/sink.h"
#include "services/generate/truth.h"

namespace probity::generate {

struct GeneratorParams {
  // Activity range [start, end): both midnight UTC, end > start. Default: financial year 2022-23.
  Micros start = MicrosFromCivil(2022, 4, 1);
  Micros end = MicrosFromCivil(2023, 4, 1);
  // Share of active practices included, chosen by a stable hash of the ODS code (independent of
  // the seed, so a given fraction always means the same practices). In (0, 1].
  double practice_fraction = 1.0;
  // When non-empty, exactly these practices (each must be active in the reference) and
  // practice_fraction is ignored.
  std::vector<std::string> practice_codes;
  // Multiplies referral and patient-contact volumes (claims, visits and register events are per
  // practice and not scaled). In (0, 1] normally; > 1 is allowed.
  double volume_fraction = 1.0;
  // Share of included practices given an anomaly, in [0, 0.5]. 0 gives a clean run.
  double anomaly_share = 0.01;
  uint64_t seed = 1;
  // National volumes per calendar day, before volume_fraction (weekdays carry 1.36x, weekends
  // 0.1x, so the calendar-day mean is this figure).
  double referrals_per_day = 44'000;
  double contacts_per_day = 1'000'000;
  // Emit an END_OF_DATA entry (topic probity.control.v1, key and practice empty) after the last
  // event, with data_complete_until = end: the feed is finite and every window ending by `end`
  // can be judged (docs/rules.md, "End of data"). `probity generate` and `probity score offline`
  // set it.
  bool end_of_data = false;
  // The graded scenario (docs/generator.md, "Graded anomalies and the calibrated population"):
  // each kind injected at several magnitudes and patterns, recorded in the truth (magnitude,
  // pattern, undetectable by design), and a clean population whose practice-to-practice
  // variation is not clamped away from the anomalies. false keeps the fixed-magnitude scenario.
  bool graded = false;
};

struct Progress {
  Micros simulated_day = 0;  // midnight of the day just emitted
  int64_t days_done = 0;
  int64_t days_total = 0;
  int64_t events_emitted = 0;
};
// Called after each simulated day (and once after the final flush). Must not call back into the
// generator.
using ProgressFn = std::function<void(const Progress&)>;

struct RunStats {
  int64_t events = 0;
  std::map<std::string, int64_t> events_per_topic;
  std::map<std::string, int64_t> events_per_kind;  // EventKind name
};

class Generator {
 public:
  // Validates params, selects practices among IsActivePractice rows of `reference`, and plans the
  // anomalies (so truth() is known before Run). InvalidArgument on bad params, an unknown or
  // inactive practice code, or an empty selection.
  static StatusOr<std::unique_ptr<Generator>> Create(const std::vector<PracticeRecord>& reference,
                                                     const GeneratorParams& params);
  ~Generator();

  // Emits the whole stream into `sink`: first a preamble (one PRACTICE_UPDATE per practice at
  // params.start, in practice-code order, then each practice's last historical
  // MONITORING_VISIT, dated before params.start), then every other event in non-decreasing
  // occurred_at order (ties in a fixed order). Claims for periods inside the range are submitted
  // after their period ends, so the stream continues up to 30 days past params.end (further for
  // the late-claim anomaly). Every event's key is its practice code; event ids are
  // "gen-<seed>-<n>", n counting from 1 in stream order. May be called again; each call emits
  // the same stream. Returns the sink's first error, unchanged.
  Status Run(Sink* sink, const ProgressFn& progress = nullptr);

  // The injected anomalies, one entry per anomalous practice.
  const std::vector<TruthEntry>& truth() const;
  // The practices in the run, sorted.
  std::vector<std::string> practice_codes() const;
  // Counts of the last Run.
  const RunStats& stats() const;
  // What the plan holds for one practice of the run, in plain English, for diagnosing detection
  // results: list sizes, dispensing, the referral and contact factors, the anomaly if any, the
  // planned monitoring visits and register updates. Empty when `code` is not in the run.
  std::string DescribePractice(const std::string& code) const;

 private:
  struct Impl;
  explicit Generator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Convenience: loads the CSV at `csv_path`, runs the generator into `sink`, and returns its truth.
StatusOr<std::vector<TruthEntry>> GenerateFromCsv(const std::string& csv_path,
                                                  const GeneratorParams& params, Sink* sink,
                                                  const ProgressFn& progress = nullptr);

}  // namespace probity::generate
