// Funnel-plot rules: referral_rate_outlier and contact_rate_outlier (docs/rules.md, "Funnel
// method"): counts over a rolling window per weighted patient against the peer pooled rate, with
// overdispersion-adjusted limits.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "services/rules/baseline.h"
#include "services/rules/rule.h"
#include "services/rules/rule_util.h"

namespace probity::rules::internal {
namespace {

namespace v1 = probity::v1;

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
                    env.data_complete_until(), [&](int64_t m) {
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

  void Judge(Env& env, Measure m, const std::string& group, const std::vector<Entry>& entries,
             const std::vector<Entry>& peers, int64_t start_day, int64_t end_day) {
    FunnelParams fp;
    fp.overdispersion = spec_.Text("overdispersion");
    fp.min_expected = spec_.Number("min_expected");
    fp.alarm_z = spec_.Number("alarm_z");
    std::vector<FunnelPeer> funnel_peers;
    std::vector<double> rates;
    funnel_peers.reserve(peers.size());
    for (const auto& e : peers) {
      funnel_peers.push_back({e.observed, e.weighted});
      rates.push_back(e.observed / e.weighted * 1000.0);
    }
    const FunnelFit fit = FitFunnel(funnel_peers, fp);
    if (!fit.usable) return;
    const double rate = fit.rate;  // per weighted patient per window
    const double min_expected = fp.min_expected;
    const double peer_median = Median(rates);
    const double peer_mad = Mad(rates, peer_median);
    const double za = spec_.Number("alarm_z"), zw = spec_.Number("warning_z");
    const std::string& dir = spec_.Text("direction");
    std::shared_ptr<const v1::Baseline> entry;
    for (const auto& e : entries) {
      const double ex = rate * e.weighted;
      if (ex < min_expected) continue;
      double lo, hi, wlo, whi;
      FunnelLimits(fit, fp, ex, za, &lo, &hi);
      FunnelLimits(fit, fp, ex, zw, &wlo, &whi);
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
      if (entry == nullptr) {
        // The comparison's baseline, logged once with the first flag judged against it.
        v1::Baseline b;
        b.set_rule_id(spec_.id);
        b.set_group(group);
        b.mutable_window_start()->set_seconds(start_day * kSecondsPerDay);
        b.mutable_window_end()->set_seconds(end_day * kSecondsPerDay);
        b.set_method(FormatFunnelMethod(fp));
        for (const auto& peer : peers) {
          auto* v = b.add_values();
          v->set_practice_code(peer.p->code);
          v->set_value(peer.observed / peer.weighted * 1000.0);
          v->set_numerator(peer.observed);
          v->set_denominator(peer.weighted);
        }
        auto full = RecomputeBaseline(b);
        if (full.ok()) entry = std::make_shared<const v1::Baseline>(std::move(*full));
      }
      d.baseline_entry = entry;
      d.evidence = {e.p->reference_ref, LastRef(*e.p, m)};
      const int64_t window = end_day - start_day;
      d.summary =
          "Practice " + e.p->code + " recorded " + Num(e.observed, 0) + " " + Name(m) + " in the " +
          std::to_string(window) + " days to " + FormatDate(end_day * kSecondsPerDay - 1) + ", " +
          Num(d.observed) + " per 1,000 weighted patients against " + Num(d.expected) +
          " expected from its peers (" + group + "); this is " + (high ? "above" : "below") +
          " the " + (high ? "upper" : "lower") + " alarm limit (z = " + Num(za, 2) + ") of " +
          Num(high ? d.upper_limit : d.lower_limit) + " (95% limit " +
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

std::vector<ParamSchema> FunnelParamSchema(const char* measures_default,
                                           const char* direction_default) {
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
       {"random_effects", "lognormal", "multiplicative", "none"}},
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
      {kReferralRateOutlier, FunnelParamSchema(nullptr, "both"), CheckLimits,
       MakeRuleOf<FunnelRule>},
      // Contacts are judged high only by default: the concern is cost (docs/rules.md, rule 7).
      {kContactRateOutlier, FunnelParamSchema("[home_visit, out_of_hours]", "high"), CheckContact,
       MakeRuleOf<FunnelRule>},
  };
}

}  // namespace probity::rules::internal
