// Peer baselines: the limits a peer-comparison rule judges against, computed from the peers'
// values alone, and the check that recomputes a logged Baseline entry (EVENT_KIND_BASELINE) from
// its values and its `method`. The rules (claim_rules.cc, rate_rules.cc) compute their limits with
// these same functions, so a logged baseline and the flags that name it can never disagree with
// the recomputation. docs/rules.md ("Peer baselines in the log") gives the formulas.
//
// Pure functions: no clock, no I/O; the same values and method give the same doubles.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.h"
#include "probity/v1/events.pb.h"

namespace probity::rules {

// ---- Payment per patient: robust limits on the log scale (method "log-mad" / "log-quantile") --

struct LogLimitParams {
  std::string method = "log-mad";  // "log-mad" or "log-quantile"
  double k = 7;                    // log-mad: width in robust standard deviations
  double min_ratio = 2.0;          // log-mad: limits at least this factor from the median
  double shrink_peers = 0;         // log-mad: weight (in practices) of the pooled scale
  double pooled_scale = 0;         // log-mad: pooled within-stratum robust sd (log scale)
  double quantile = 0.001;         // log-quantile: tail share
};

struct LogLimits {
  double median = 0;  // of log(value)
  double mad = 0;     // unscaled MAD of log(value)
  double scale = 0;   // the robust sd used: 1.4826 x MAD, shrunk towards pooled_scale
  double lower = 0;   // limits on the log scale
  double upper = 0;
};

// Limits for peers whose log values are `logs` (any order; at least one). log-mad:
//   s = sqrt((n (1.4826 MAD)^2 + n0 pooled^2) / (n + n0)),  half = max(k s, ln(min_ratio)),
//   limits = median -/+ half.  (n0 = shrink_peers; n0 = 0 is the unshrunk MAD.)
// log-quantile: the linear-interpolated `quantile` and 1 - `quantile` order statistics.
LogLimits ComputeLogLimits(std::vector<double> logs, const LogLimitParams& params);

// "log-mad k=7 min_ratio=2 shrink_peers=500 pooled_scale=0.093..." (every double printed with 17
// significant digits, so parsing it back gives the same bits).
std::string FormatLogLimitMethod(const LogLimitParams& params);
// InvalidArgument for an unknown method or a malformed or missing parameter.
StatusOr<LogLimitParams> ParseLogLimitMethod(std::string_view method);

// ---- Funnel plots (referral and contact rates): method "funnel-random-effects" etc. ----

struct FunnelParams {
  std::string overdispersion = "random_effects";  // random_effects | multiplicative | none
  double min_expected = 20;
  double alarm_z = 3.090232;
};

struct FunnelFit {
  double rate = 0;      // pooled: sum of numerators / sum of denominators
  double tau2 = 0;      // random effects: between-practice variance on the log scale
  double phi = 1;       // multiplicative: overdispersion factor
  bool usable = false;  // false when the peers give no rate or fewer than 3 judged peers
};

// One peer: observed count and weighted list.
struct FunnelPeer {
  double observed = 0;
  double weighted = 0;
};

FunnelFit FitFunnel(const std::vector<FunnelPeer>& peers, const FunnelParams& params);
// The limits (counts) at z (alarm or warning) for a practice whose expected count is `expected`.
void FunnelLimits(const FunnelFit& fit, const FunnelParams& params, double expected, double z,
                  double* lower, double* upper);
std::string FormatFunnelMethod(const FunnelParams& params);
StatusOr<FunnelParams> ParseFunnelMethod(std::string_view method);

// ---- Logged baselines ----

// The deterministic id of a Baseline entry: hex SHA-256 of its deterministic serialization with
// baseline_id cleared.
std::string BaselineId(const v1::Baseline& baseline);

// What the entry's values and method give: median, mad, lower and upper limits (and rate, for a
// funnel) recomputed. For log methods median / lower / upper are in the values' unit (exp of the
// log figures) and mad is on the log scale; for funnels, median is the median rate, mad its MAD,
// and lower / upper are the limits for a practice with the median weighted list.
// InvalidArgument when the method is unknown or the entry has no values.
StatusOr<v1::Baseline> RecomputeBaseline(const v1::Baseline& baseline);

// Ok when the entry's id, median, mad, limits and rate equal what RecomputeBaseline gives (to a
// relative 1e-9); FailedPrecondition naming the first field that differs; InvalidArgument as
// RecomputeBaseline. The dispute bundle calls this to re-check a baseline a flag names.
Status VerifyBaseline(const v1::Baseline& baseline);

}  // namespace probity::rules
