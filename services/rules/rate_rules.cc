// Funnel-plot rules: referral_rate_outlier and contact_rate_outlier (docs/rules.md, "Funnel
// method"): counts over a rolling window per weighted patient against the peer pooled rate, with
// overdispersion-adjusted limits.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "services/rules/rule.h"
#include "services/rules/rule_util.h"

namespace probity::rules::internal {
namespace {

class FunnelRule final : public Rule {
 public:
  explicit FunnelRule(const RuleSpec& spec) : Rule(spec) {
    if (spec.kind == kReferralRateOutlier) {
      measures_.push_back(Measure::kReferrals);
      activity_ = probity::v1::EVENT_KIND_REFERRAL;
    } else {
      for (const auto& m : spec.List("measures")) {
        measures_.push_back(m == "home_visit" ? Measure::kHomeVisits : Measure::kOutOfHours);
      }
      activity_ = probity::v1::EVENT_KIND_PATIENT_CONTACT;
    }
  }
  void OnActivity(probity::v1::EventKind kind, int64_t day) override {
    if (kind != activity_) return;
    if (!has_first_ || day < first_day_) {
      if (!has_first_ || !cursor_started_) first_day_ = day;
      has_first_ = true;
    }
    cursor_.NoteData(MonthOf(day * kSecondsPerDay));
  }
  void OnTick(Env& env) override {
    cursor_.Advance(env.watermark(), static_cast<int64_t>(spec_.Number("lateness_days")),
                    [&](int64_t m) {
                      cursor_started_ = true;
                      Evaluate(env, m);
                    });
  }
  void EncodeGlobal(Encoder* e) const override {
    cursor_.Encode(e);
    e->Bool(has_first_);
    e->I64(first_day_);
    e->Bool(cursor_started_);
  }
  bool DecodeGlobal(Decoder* d) override {
    return cursor_.Decode(d) && d->Bool(&has_first_) && d->I64(&first_day_) &&
           d->Bool(&cursor_started_);
  }

 private:
  enum class Measure { kReferrals, kHomeVisits, kOutOfHours };
  struct Entry {
    const Practice* p;
    double observed;  // count in window
    double weighted;
  };

  static const char* Name(Measure m) {
    switch (m) {
      case Measure::kReferrals:
        return "referrals";
      case Measure::kHomeVisits:
        return "home visits";
      case Measure::kOutOfHours:
        return "out-of-hours contacts";
    }
    return "";
  }
  static const DayRing& Ring(const Practice& p, Measure m) {
    switch (m) {
      case Measure::kReferrals:
        return p.referrals;
      case Measure::kHomeVisits:
        return p.home_visits;
      case Measure::kOutOfHours:
        return p.out_of_hours;
    }
    return p.referrals;
  }
  static const EventRef& LastRef(const Practice& p, Measure m) {
    return m == Measure::kReferrals ? p.last_referral : p.last_contact;
  }

  void Evaluate(Env& env, int64_t month) {
    const int64_t window = static_cast<int64_t>(spec_.Number("window_days"));
    const int64_t end_secs = MonthStartSeconds(month + 1);
    const int64_t end_day = DayOf(end_secs);
    const int64_t start_day = end_day - window;
    if (!has_first_ || start_day < first_day_) return;  // window not fully covered by data
    const bool icb = spec_.Text("peer_scope") == "icb";
    const bool strat = spec_.Bool("stratify_dispensing");
    const size_t min_peers = static_cast<size_t>(spec_.Number("min_peers"));
    for (Measure m : measures_) {
      std::map<std::string, std::vector<Entry>> national, local;
      for (const auto& [code, p] : env.practices()) {
        if (!p.has_reference || p.closed || p.weighted_list_size <= 0) continue;
        Entry e{&p, static_cast<double>(Ring(p, m).Sum(start_day, end_day)), p.weighted_list_size};
        std::string stratum = strat ? (p.dispensing ? "/dispensing" : "/non-dispensing") : "";
        national["national" + stratum].push_back(e);
        if (icb) local["icb:" + p.icb_code + stratum].push_back(e);
      }
      if (icb) {
        for (const auto& [group, entries] : local) {
          if (entries.size() >= min_peers) {
            Judge(env, m, group, entries, entries, start_day, end_day);
            continue;
          }
          size_t slash = group.find('/');
          std::string stratum = slash == std::string::npos ? "" : group.substr(slash);
          auto nit = national.find("national" + stratum);
          if (nit != national.end() && nit->second.size() >= min_peers) {
            Judge(env, m, nit->first, entries, nit->second, start_day, end_day);
          }
        }
      } else {
        for (const auto& [group, entries] : national) {
          if (entries.size() >= min_peers)
            Judge(env, m, group, entries, entries, start_day, end_day);
        }
      }
    }
  }

  // The funnel limit at z (negative: lower) for expected count ex and between-practice variance
  // tau2 on the log scale: the Poisson part by Byar's approximation to the exact Poisson limits
  // (as in PHE's funnel-plot tools; the plain log-normal approximation puts the lower 99.8% limit
  // of a count near 25 at ~0.9% instead of 0.1%), combined in quadrature on the log scale with
  // z * tau. Reduces to E * exp(z * sqrt(1/E + tau2)) when E is large. Lower limits are >= 0.
  static double RandomEffectsLimit(double ex, double tau2, double z) {
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

  void Judge(Env& env, Measure m, const std::string& group, const std::vector<Entry>& entries,
             const std::vector<Entry>& peers, int64_t start_day, int64_t end_day) {
    double sum_o = 0, sum_w = 0;
    for (const auto& e : peers) {
      sum_o += e.observed;
      sum_w += e.weighted;
    }
    if (sum_o <= 0 || sum_w <= 0) return;
    const double rate = sum_o / sum_w;  // per weighted patient per window
    const double min_expected = spec_.Number("min_expected");
    // Overdispersion from peers that meet the minimum expected count.
    std::vector<double> y, inv, z2, rates;
    for (const auto& e : peers) {
      rates.push_back(e.observed / e.weighted * 1000.0);
      const double ex = rate * e.weighted;
      if (ex < min_expected) continue;
      y.push_back(std::log((e.observed + 0.5) / (ex + 0.5)));
      inv.push_back(1.0 / ex);
      z2.push_back((e.observed - ex) * (e.observed - ex) / ex);
    }
    if (y.size() < 3) return;
    const std::string& method = spec_.Text("overdispersion");
    double tau2 = 0, phi = 1;
    if (method == "random_effects") {
      const double my = Median(y);
      const double s = 1.4826 * Mad(y, my);
      tau2 = std::max(0.0, s * s - Median(inv));
    } else if (method == "multiplicative") {
      // Winsorised (10% each tail) mean of squared z-scores, Spiegelhalter (2005).
      std::sort(z2.begin(), z2.end());
      size_t cut = z2.size() / 10;
      double sum = 0;
      for (size_t i = 0; i < z2.size(); ++i) {
        size_t j = std::clamp(i, cut, z2.size() - 1 - cut);
        sum += z2[j];
      }
      phi = std::max(1.0, sum / static_cast<double>(z2.size()));
    }
    const double peer_median = Median(rates);
    const double peer_mad = Mad(rates, peer_median);
    const double za = spec_.Number("alarm_z"), zw = spec_.Number("warning_z");
    const std::string& dir = spec_.Text("direction");
    for (const auto& e : entries) {
      const double ex = rate * e.weighted;
      if (ex < min_expected) continue;
      double lo, hi, wlo, whi;
      if (method == "multiplicative") {
        lo = ex - za * std::sqrt(phi * ex);
        hi = ex + za * std::sqrt(phi * ex);
        wlo = ex - zw * std::sqrt(phi * ex);
        whi = ex + zw * std::sqrt(phi * ex);
      } else if (method == "random_effects") {
        lo = RandomEffectsLimit(ex, tau2, -za);
        hi = RandomEffectsLimit(ex, tau2, za);
        wlo = RandomEffectsLimit(ex, tau2, -zw);
        whi = RandomEffectsLimit(ex, tau2, zw);
      } else {
        const double sd = std::sqrt(1.0 / ex);
        lo = ex * std::exp(-za * sd);
        hi = ex * std::exp(za * sd);
        wlo = ex * std::exp(-zw * sd);
        whi = ex * std::exp(zw * sd);
      }
      const bool high = e.observed > hi && dir != "low";
      const bool low = e.observed < lo && dir != "high";
      if (!high && !low) continue;
      const double per = 1000.0 / e.weighted;
      FlagDraft d;
      d.practice = e.p;
      d.window_start = start_day * kSecondsPerDay;
      d.window_end = end_day * kSecondsPerDay;
      d.key = std::string("measure:") + Name(m);
      d.observed = e.observed * per;
      d.expected = rate * 1000.0;
      d.lower_limit = std::max(0.0, lo) * per;
      d.upper_limit = hi * per;
      d.has_baseline = true;
      d.baseline.set_group(group);
      d.baseline.set_peers(peers.size());
      d.baseline.set_median(peer_median);
      d.baseline.set_mad(peer_mad);
      d.baseline.set_rate(rate * 1000.0);
      d.evidence = {e.p->reference_ref, LastRef(*e.p, m)};
      const int64_t window = end_day - start_day;
      d.summary =
          "Practice " + e.p->code + " recorded " + Num(e.observed, 0) + " " + Name(m) + " in the " +
          std::to_string(window) + " days to " + FormatDate(end_day * kSecondsPerDay - 1) + ", " +
          Num(d.observed) + " per 1,000 weighted patients against " + Num(d.expected) +
          " expected from its peers (" + group + "); this is " + (high ? "above" : "below") +
          " the 99.8% limit of " + Num(high ? d.upper_limit : d.lower_limit) + " (95% limit " +
          Num((high ? whi : std::max(0.0, wlo)) * per) + ").";
      env.Emit(spec_, std::move(d));
    }
  }

  std::vector<Measure> measures_;
  probity::v1::EventKind activity_;
  MonthCursor cursor_;
  bool has_first_ = false;
  bool cursor_started_ = false;
  int64_t first_day_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Registration.

std::vector<ParamSchema> FunnelParams(const char* measures_default, const char* direction_default) {
  std::vector<ParamSchema> p = {
      {"window_days", ParamType::kInt, "90", 7, 240},
      {"lateness_days", ParamType::kInt, "2", 0, 60},
      {"peer_scope", ParamType::kString, "national", 0, 0, {"national", "icb"}},
      {"stratify_dispensing", ParamType::kBool, "false"},
      {"min_peers", ParamType::kInt, "20", 3, 1e9},
      {"min_expected", ParamType::kDouble, "20", 0, 1e12},
      {"warning_z", ParamType::kDouble, "1.959964", 0.1, 10},
      {"alarm_z", ParamType::kDouble, "3.090232", 0.1, 10},
      {"overdispersion",
       ParamType::kString,
       "random_effects",
       0,
       0,
       {"random_effects", "multiplicative", "none"}},
      {"direction", ParamType::kString, direction_default, 0, 0, {"both", "high", "low"}},
  };
  if (measures_default != nullptr) {
    p.push_back({"measures",
                 ParamType::kStringList,
                 measures_default,
                 0,
                 0,
                 {"home_visit", "out_of_hours"}});
  }
  return p;
}

Status CheckLimits(const std::string& where, const RuleSpec& r) {
  if (r.Number("warning_z") >= r.Number("alarm_z")) {
    return InvalidArgument(where + ": params.warning_z must be below params.alarm_z");
  }
  return Status::Ok();
}

Status CheckContact(const std::string& where, const RuleSpec& r) {
  PROBITY_RETURN_IF_ERROR(CheckLimits(where, r));
  if (r.List("measures").empty()) {
    return InvalidArgument(where + ": params.measures must not be empty");
  }
  return Status::Ok();
}

}  // namespace

std::vector<RuleKind> RateRuleKinds() {
  return {
      {kReferralRateOutlier, FunnelParams(nullptr, "both"), CheckLimits, MakeRuleOf<FunnelRule>},
      // Contacts are judged high only by default: the concern is cost (docs/rules.md, rule 7).
      {kContactRateOutlier, FunnelParams("[home_visit, out_of_hours]", "high"), CheckContact,
       MakeRuleOf<FunnelRule>},
  };
}

}  // namespace probity::rules::internal
