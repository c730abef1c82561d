#include "services/rules/baseline.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "common/crypto/sha256.h"
#include "services/rules/rule_util.h"

namespace probity::rules {

using internal::Mad;
using internal::Median;

namespace {

std::string G17(double v) {
  char b[64];
  std::snprintf(b, sizeof(b), "%.17g", v);
  return b;
}

// "name k=v k=v" -> name and the pairs. False when a token is not k=v.
bool SplitMethod(std::string_view s, std::string* name, std::map<std::string, std::string>* kv) {
  size_t pos = 0;
  bool first = true;
  while (pos < s.size()) {
    size_t end = s.find(' ', pos);
    if (end == std::string_view::npos) end = s.size();
    std::string tok(s.substr(pos, end - pos));
    pos = end + 1;
    if (tok.empty()) continue;
    if (first) {
      *name = tok;
      first = false;
      continue;
    }
    size_t eq = tok.find('=');
    if (eq == std::string::npos || eq == 0) return false;
    (*kv)[tok.substr(0, eq)] = tok.substr(eq + 1);
  }
  return !first;
}

bool Num(const std::map<std::string, std::string>& kv, const std::string& key, double* out) {
  auto it = kv.find(key);
  if (it == kv.end() || it->second.empty()) return false;
  char* end = nullptr;
  *out = std::strtod(it->second.c_str(), &end);
  return end != nullptr && *end == '\0' && std::isfinite(*out);
}

bool Close(double a, double b) {
  return a == b || std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b));
}

}  // namespace

LogLimits ComputeLogLimits(std::vector<double> logs, const LogLimitParams& p) {
  LogLimits out;
  std::sort(logs.begin(), logs.end());
  out.median = Median(logs);
  out.mad = Mad(logs, out.median);
  if (p.method == "log-quantile") {
    auto q = [&](double f) {
      double pos = f * static_cast<double>(logs.size() - 1);
      size_t i = static_cast<size_t>(pos);
      double frac = pos - static_cast<double>(i);
      return i + 1 < logs.size() ? logs[i] * (1 - frac) + logs[i + 1] * frac : logs[i];
    };
    out.scale = 1.4826 * out.mad;
    out.lower = q(p.quantile);
    out.upper = q(1 - p.quantile);
    return out;
  }
  const double n = static_cast<double>(logs.size());
  const double own = 1.4826 * out.mad;
  out.scale = p.shrink_peers > 0
                  ? std::sqrt((n * own * own + p.shrink_peers * p.pooled_scale * p.pooled_scale) /
                              (n + p.shrink_peers))
                  : own;
  const double half = std::max(p.k * out.scale, std::log(p.min_ratio));
  out.lower = out.median - half;
  out.upper = out.median + half;
  return out;
}

std::string FormatLogLimitMethod(const LogLimitParams& p) {
  if (p.method == "log-quantile") return "log-quantile quantile=" + G17(p.quantile);
  return "log-mad k=" + G17(p.k) + " min_ratio=" + G17(p.min_ratio) +
         " shrink_peers=" + G17(p.shrink_peers) + " pooled_scale=" + G17(p.pooled_scale);
}

StatusOr<LogLimitParams> ParseLogLimitMethod(std::string_view method) {
  std::string name;
  std::map<std::string, std::string> kv;
  if (!SplitMethod(method, &name, &kv)) return InvalidArgument("baseline method is malformed");
  LogLimitParams p;
  p.method = name;
  if (name == "log-quantile") {
    if (!Num(kv, "quantile", &p.quantile)) return InvalidArgument("log-quantile: no quantile");
    return p;
  }
  if (name != "log-mad") return InvalidArgument("unknown baseline method " + name);
  if (!Num(kv, "k", &p.k) || !Num(kv, "min_ratio", &p.min_ratio) ||
      !Num(kv, "shrink_peers", &p.shrink_peers) || !Num(kv, "pooled_scale", &p.pooled_scale) ||
      p.min_ratio <= 0) {
    return InvalidArgument("log-mad: k, min_ratio, shrink_peers and pooled_scale are required");
  }
  return p;
}

// ---- Funnels ----

namespace {
// The funnel limit at z (negative: lower) for expected count ex and between-practice variance
// tau2 on the log scale: the Poisson part by Byar's approximation to the exact Poisson limits
// (as in PHE's funnel-plot tools; the plain log-normal approximation puts the lower 99.8% limit
// of a count near 25 at ~0.9% instead of 0.1%), combined in quadrature on the log scale with
// z * tau. Reduces to E * exp(z * sqrt(1/E + tau2)) when E is large. Lower limits are >= 0.
double RandomEffectsLimit(double ex, double tau2, double z) {
  double poisson_log;  // log(limit / ex) of the Poisson part
  if (z < 0) {
    const double b = 1.0 - 1.0 / (9.0 * ex) + z / (3.0 * std::sqrt(ex));
    if (b <= 0) return 0;
    poisson_log = 3.0 * std::log(b);
  } else {
    const double e1 = ex + 1.0;
    poisson_log =
        std::log(e1 / ex) + 3.0 * std::log(1.0 - 1.0 / (9.0 * e1) + z / (3.0 * std::sqrt(e1)));
  }
  const double half = std::sqrt(poisson_log * poisson_log + z * z * tau2);
  return ex * std::exp(z < 0 ? -half : half);
}
}  // namespace

FunnelFit FitFunnel(const std::vector<FunnelPeer>& peers, const FunnelParams& p) {
  FunnelFit fit;
  double sum_o = 0, sum_w = 0;
  for (const auto& e : peers) {
    sum_o += e.observed;
    sum_w += e.weighted;
  }
  if (sum_o <= 0 || sum_w <= 0) return fit;
  fit.rate = sum_o / sum_w;
  std::vector<double> y, inv, z2;
  for (const auto& e : peers) {
    const double ex = fit.rate * e.weighted;
    if (ex < p.min_expected) continue;
    y.push_back(std::log((e.observed + 0.5) / (ex + 0.5)));
    inv.push_back(1.0 / ex);
    z2.push_back((e.observed - ex) * (e.observed - ex) / ex);
  }
  if (y.size() < 3) return fit;
  fit.usable = true;
  if (p.overdispersion == "random_effects") {
    const double my = Median(y);
    const double s = 1.4826 * Mad(y, my);
    fit.tau2 = std::max(0.0, s * s - Median(inv));
  } else if (p.overdispersion == "multiplicative") {
    // Winsorised (10% each tail) mean of squared z-scores, Spiegelhalter (2005).
    std::sort(z2.begin(), z2.end());
    size_t cut = z2.size() / 10;
    double sum = 0;
    for (size_t i = 0; i < z2.size(); ++i) {
      size_t j = std::clamp(i, cut, z2.size() - 1 - cut);
      sum += z2[j];
    }
    fit.phi = std::max(1.0, sum / static_cast<double>(z2.size()));
  }
  return fit;
}

void FunnelLimits(const FunnelFit& fit, const FunnelParams& p, double ex, double z, double* lo,
                  double* hi) {
  if (p.overdispersion == "multiplicative") {
    *lo = ex - z * std::sqrt(fit.phi * ex);
    *hi = ex + z * std::sqrt(fit.phi * ex);
  } else if (p.overdispersion == "random_effects") {
    *lo = RandomEffectsLimit(ex, fit.tau2, -z);
    *hi = RandomEffectsLimit(ex, fit.tau2, z);
  } else {
    const double sd = std::sqrt(1.0 / ex);
    *lo = ex * std::exp(-z * sd);
    *hi = ex * std::exp(z * sd);
  }
}

std::string FormatFunnelMethod(const FunnelParams& p) {
  return "funnel overdispersion=" + p.overdispersion + " min_expected=" + G17(p.min_expected) +
         " alarm_z=" + G17(p.alarm_z);
}

StatusOr<FunnelParams> ParseFunnelMethod(std::string_view method) {
  std::string name;
  std::map<std::string, std::string> kv;
  if (!SplitMethod(method, &name, &kv) || name != "funnel")
    return InvalidArgument("not a funnel method");
  FunnelParams p;
  auto it = kv.find("overdispersion");
  if (it == kv.end() ||
      (it->second != "random_effects" && it->second != "multiplicative" && it->second != "none")) {
    return InvalidArgument("funnel: overdispersion must be random_effects, multiplicative or none");
  }
  p.overdispersion = it->second;
  if (!Num(kv, "min_expected", &p.min_expected) || !Num(kv, "alarm_z", &p.alarm_z)) {
    return InvalidArgument("funnel: min_expected and alarm_z are required");
  }
  return p;
}

// ---- Logged baselines ----

std::string BaselineId(const v1::Baseline& baseline) {
  v1::Baseline copy = baseline;
  copy.clear_baseline_id();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream sos(&bytes);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    copy.SerializeToCodedStream(&cos);
  }
  return crypto::Sha256Hex(bytes);
}

StatusOr<v1::Baseline> RecomputeBaseline(const v1::Baseline& b) {
  if (b.values_size() == 0)
    return InvalidArgument("baseline " + b.baseline_id() + " has no values");
  v1::Baseline out = b;
  if (b.method().rfind("funnel", 0) == 0) {
    PROBITY_ASSIGN_OR_RETURN(FunnelParams p, ParseFunnelMethod(b.method()));
    std::vector<FunnelPeer> peers;
    std::vector<double> rates, weights;
    for (const auto& v : b.values()) {
      if (v.denominator() <= 0) return InvalidArgument("baseline value with no denominator");
      peers.push_back({v.numerator(), v.denominator()});
      rates.push_back(v.numerator() / v.denominator() * 1000.0);
      weights.push_back(v.denominator());
    }
    FunnelFit fit = FitFunnel(peers, p);
    const double med = Median(rates);
    out.set_median(med);
    out.set_mad(Mad(rates, med));
    out.set_rate(fit.rate * 1000.0);
    const double w = Median(weights);
    double lo = 0, hi = 0;
    if (fit.usable) FunnelLimits(fit, p, fit.rate * w, p.alarm_z, &lo, &hi);
    out.set_lower_limit(std::max(0.0, lo) * 1000.0 / w);
    out.set_upper_limit(hi * 1000.0 / w);
    return out;
  }
  PROBITY_ASSIGN_OR_RETURN(LogLimitParams p, ParseLogLimitMethod(b.method()));
  std::vector<double> logs;
  for (const auto& v : b.values()) {
    if (!(v.value() > 0)) return InvalidArgument("baseline value is not positive");
    logs.push_back(std::log(v.value()));
  }
  LogLimits l = ComputeLogLimits(std::move(logs), p);
  out.set_median(std::exp(l.median));
  out.set_mad(l.mad);
  out.set_lower_limit(std::exp(l.lower));
  out.set_upper_limit(std::exp(l.upper));
  return out;
}

Status VerifyBaseline(const v1::Baseline& b) {
  PROBITY_ASSIGN_OR_RETURN(v1::Baseline want, RecomputeBaseline(b));
  if (BaselineId(b) != b.baseline_id())
    return FailedPrecondition("baseline_id is not the hash of the entry");
  if (!Close(b.median(), want.median()))
    return FailedPrecondition("median " + G17(b.median()) + " != " + G17(want.median()));
  if (!Close(b.mad(), want.mad()))
    return FailedPrecondition("mad " + G17(b.mad()) + " != " + G17(want.mad()));
  if (!Close(b.lower_limit(), want.lower_limit()))
    return FailedPrecondition("lower_limit " + G17(b.lower_limit()) +
                              " != " + G17(want.lower_limit()));
  if (!Close(b.upper_limit(), want.upper_limit()))
    return FailedPrecondition("upper_limit " + G17(b.upper_limit()) +
                              " != " + G17(want.upper_limit()));
  if (!Close(b.rate(), want.rate()))
    return FailedPrecondition("rate " + G17(b.rate()) + " != " + G17(want.rate()));
  return Status::Ok();
}

}  // namespace probity::rules
