#include "services/score/power.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <set>
#include <tuple>

#include "services/rules/kinds.h"
#include "services/rules/time_util.h"

namespace probity::score {
namespace {

double MedianOf(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The reference detector's statistic of `kind` / `pattern` for every practice that has one.
std::map<std::string, double> Statistic(const std::string& kind, const std::string& pattern,
                                        const std::map<std::string, PracticeStats>& stats,
                                        const PowerOptions& options) {
  std::map<std::string, double> raw;
  std::map<std::string, std::string> stratum;  // median taken per stratum
  for (const auto& [code, s] : stats) {
    if (!s.has_register || s.weighted <= 0) continue;
    if (kind == rules::kPaymentPerPatientOutlier) {
      if (static_cast<double>(s.list_first) < options.payment_min_list) continue;
      double pence = 0;
      if (pattern == "stream") {
        pence = s.stream_pence[v1::PAYMENT_STREAM_GLOBAL_SUM];
      } else {
        for (double v : s.stream_pence) pence += v;
      }
      if (pence <= 0) continue;
      raw[code] = std::log(pence / s.weighted);
      stratum[code] = std::to_string(s.dispensing) + "/" + std::to_string(s.contract_type);
    } else if (kind == rules::kReferralRateOutlier) {
      raw[code] = std::log((s.referrals + 0.5) / s.weighted);
    } else if (kind == rules::kContactRateOutlier) {
      const int64_t n = pattern == "out_of_hours" ? s.out_of_hours : s.home_visits;
      raw[code] = std::log((n + 0.5) / s.weighted);
    } else if (kind == rules::kClaimedValueShift) {
      if (s.monthly_lumps.size() < 6) continue;
      std::vector<double> v;
      for (const auto& [m, p] : s.monthly_lumps) v.push_back(p);
      double early = 0, late = 0;
      const size_t cut = v.size() - 3;
      for (size_t i = 0; i < v.size(); ++i) (i < cut ? early : late) += v[i];
      if (early <= 0 || late <= 0) continue;
      raw[code] = std::log((late / 3) / (early / static_cast<double>(cut)));
    } else if (kind == rules::kListInflation) {
      if (static_cast<double>(s.list_first) < options.list_min_list) continue;
      raw[code] = s.max_list_growth;
    }
  }
  if (kind == rules::kClaimedValueShift || kind == rules::kListInflation) return raw;
  std::map<std::string, std::vector<double>> groups;
  for (const auto& [code, v] : raw) groups[stratum[code]].push_back(v);
  std::map<std::string, double> med;
  for (const auto& [g, v] : groups) med[g] = MedianOf(v);
  for (auto& [code, v] : raw) v -= med[stratum[code]];
  return raw;
}

// The measures a kind's rules judge, named as the patterns of the reference statistic: the
// payment rule judges the total and the global sum, the contact rule home visits and out-of-hours
// contacts. A flag of the kind on any of its measures finds an anomaly of the kind (recall is
// counted so), so the reference detector of a kind watches all of them at once.
std::vector<std::string> KindMeasures(const std::string& kind, const std::string& pattern) {
  if (kind == rules::kPaymentPerPatientOutlier) return {"total", "stream"};
  if (kind == rules::kContactRateOutlier) return {"home_visit", "out_of_hours"};
  return {pattern};
}

// Per practice with a statistic of any of `measures`: the smallest, over those measures, share
// of the clean practices' values (of that measure) at or above its own. Small is extreme; with
// one measure the order is the statistic's own.
std::map<std::string, double> TailScore(
    const std::vector<const std::map<std::string, double>*>& measures,
    const std::vector<std::string>& clean) {
  std::map<std::string, double> out;
  for (const auto* stat : measures) {
    std::vector<double> cv;
    for (const auto& c : clean) {
      if (auto it = stat->find(c); it != stat->end()) cv.push_back(it->second);
    }
    if (cv.empty()) continue;
    std::sort(cv.begin(), cv.end());
    const double n = static_cast<double>(cv.size());
    for (const auto& [code, v] : *stat) {
      const auto at_or_above = cv.end() - std::lower_bound(cv.begin(), cv.end(), v);
      const double tail = static_cast<double>(at_or_above) / n;
      auto [it, fresh] = out.emplace(code, tail);
      if (!fresh) it->second = std::min(it->second, tail);
    }
  }
  return out;
}

// The reference detector over `measures` at clean flag rate `rate`: the practices whose tail
// score is below the clean practices' own score at that rate (nullopt: no clean score at all).
std::optional<double> TailThreshold(const std::map<std::string, double>& score,
                                    const std::vector<std::string>& clean, double rate) {
  std::vector<double> cs;
  for (const auto& c : clean) {
    if (auto it = score.find(c); it != score.end()) cs.push_back(it->second);
  }
  if (cs.empty()) return std::nullopt;
  std::sort(cs.begin(), cs.end());
  const size_t m = static_cast<size_t>(std::floor(rate * static_cast<double>(cs.size())));
  return cs[std::min(m, cs.size() - 1)];
}

bool HasStatistic(const std::string& kind) {
  return kind == rules::kPaymentPerPatientOutlier || kind == rules::kReferralRateOutlier ||
         kind == rules::kContactRateOutlier || kind == rules::kClaimedValueShift ||
         kind == rules::kListInflation;
}

std::string G(double v, const char* fmt = "%.3f") {
  char b[32];
  std::snprintf(b, sizeof(b), fmt, v);
  return b;
}

}  // namespace

PowerOptions PowerOptionsFor(const rules::RuleSet& rule_set) {
  PowerOptions out;
  std::optional<double> payment, list;
  for (const auto& r : rule_set.rules) {
    std::optional<double>* min = r.kind == rules::kPaymentPerPatientOutlier ? &payment
                                 : r.kind == rules::kListInflation          ? &list
                                                                            : nullptr;
    if (min == nullptr) continue;
    const double v = r.Number("min_list_size");
    *min = min->has_value() ? std::min(**min, v) : v;
  }
  if (payment) out.payment_min_list = *payment;
  if (list) out.list_min_list = *list;
  return out;
}

void TallyEnvelope(const v1::Envelope& e, std::map<std::string, PracticeStats>* stats) {
  if (e.practice_code().empty()) return;
  switch (e.payload_case()) {
    case v1::Envelope::kPracticeUpdate: {
      PracticeStats& s = (*stats)[e.practice_code()];
      const auto& u = e.practice_update();
      if (!s.has_register) {
        s.has_register = true;
        s.weighted = u.weighted_list_size();
        s.list_first = u.list_size();
        s.dispensing = u.dispensing();
        s.contract_type = u.contract_type();
      } else if (s.last_list > 0) {
        s.max_list_growth = std::max(
            s.max_list_growth, static_cast<double>(u.list_size() - s.last_list) / s.last_list);
      }
      s.last_list = u.list_size();
      break;
    }
    case v1::Envelope::kClaim: {
      PracticeStats& s = (*stats)[e.practice_code()];
      const auto& c = e.claim();
      const int stream = std::clamp<int>(c.stream(), 0, 8);
      s.stream_pence[stream] += static_cast<double>(c.amount_pence());
      if (c.stream() == v1::PAYMENT_STREAM_GLOBAL_SUM ||
          c.stream() == v1::PAYMENT_STREAM_QOF_ASPIRATION ||
          c.stream() == v1::PAYMENT_STREAM_PREMISES) {
        if (c.has_period_end()) {
          s.monthly_lumps[rules::MonthOf(c.period_end().seconds() - 1)] +=
              static_cast<double>(c.amount_pence());
        }
      }
      break;
    }
    case v1::Envelope::kReferral:
      ++(*stats)[e.practice_code()].referrals;
      break;
    case v1::Envelope::kPatientContact: {
      const auto& c = e.patient_contact();
      if (c.attendance() == v1::ATTENDANCE_DNA) break;
      PracticeStats& s = (*stats)[e.practice_code()];
      const int64_t n = c.count() == 0 ? 1 : c.count();
      if (c.mode() == v1::CONTACT_MODE_HOME_VISIT) s.home_visits += n;
      if (c.out_of_hours()) s.out_of_hours += n;
      break;
    }
    default:
      break;
  }
}

void Wilson(int64_t k, int64_t n, double* lo, double* hi) {
  if (n == 0) {
    *lo = 0;
    *hi = 1;
    return;
  }
  const double z = 1.959964, nn = static_cast<double>(n);
  const double p = static_cast<double>(k) / nn;
  const double den = 1 + z * z / nn;
  const double centre = (p + z * z / (2 * nn)) / den;
  const double half = z * std::sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / den;
  *lo = k == 0 ? 0.0 : std::max(0.0, centre - half);
  *hi = k == n ? 1.0 : std::min(1.0, centre + half);
}

std::vector<PowerRow> PowerCurves(const std::vector<generate::TruthEntry>& truth,
                                  const std::vector<v1::Envelope>& flags,
                                  const std::vector<std::string>& practices,
                                  const std::map<std::string, PracticeStats>& stats,
                                  const PowerOptions& options) {
  std::set<std::string> anomalous;
  for (const auto& t : truth) anomalous.insert(t.practice_code);
  std::set<std::pair<std::string, std::string>> flagged;  // (kind, practice)
  for (const auto& f : flags) {
    if (f.kind() == v1::EVENT_KIND_FLAG && f.has_flag())
      flagged.emplace(f.flag().rule_kind(), f.practice_code());
  }
  std::vector<std::string> clean;
  for (const auto& p : practices) {
    if (!anomalous.count(p)) clean.push_back(p);
  }
  // The kind's clean flag rate: the share of clean practices any rule of the kind flagged.
  auto clean_rate = [&](const std::string& kind) {
    int64_t clean_flagged = 0;
    for (const auto& c : clean) clean_flagged += flagged.count({kind, c});
    return clean.empty() ? 0.0
                         : static_cast<double>(clean_flagged) / static_cast<double>(clean.size());
  };
  // Rows keyed by (catalogue index, pattern, magnitude).
  std::map<std::tuple<size_t, std::string, double>, PowerRow> rows;
  std::map<std::pair<std::string, std::string>, std::map<std::string, double>> statistic_cache;
  auto statistic = [&](const std::string& kind,
                       const std::string& pattern) -> const std::map<std::string, double>& {
    const auto key = std::make_pair(kind, pattern);
    auto it = statistic_cache.find(key);
    if (it == statistic_cache.end())
      it = statistic_cache.emplace(key, Statistic(kind, pattern, stats, options)).first;
    return it->second;
  };
  struct Detector {
    std::map<std::string, double> score;
    std::optional<double> threshold;
    bool Flags(const std::string& code) const {
      auto it = score.find(code);
      return threshold && it != score.end() && it->second < *threshold;
    }
  };
  // Keyed by (kind, pattern): the detector of the pattern's measure alone, and (pattern "")
  // the kind's detector over all its measures.
  std::map<std::pair<std::string, std::string>, Detector> detectors;
  auto detector = [&](const std::string& kind, const std::vector<std::string>& measures,
                      const std::string& key) -> const Detector& {
    auto it = detectors.find({kind, key});
    if (it != detectors.end()) return it->second;
    std::vector<const std::map<std::string, double>*> stat;
    for (const auto& m : measures) stat.push_back(&statistic(kind, m));
    Detector d;
    d.score = TailScore(stat, clean);
    d.threshold = TailThreshold(d.score, clean, clean_rate(kind));
    return detectors.emplace(std::make_pair(kind, key), std::move(d)).first->second;
  };
  for (const auto& t : truth) {
    if (t.magnitude == 0) continue;
    PowerRow& r = rows[{rules::RuleKindIndex(t.rule_kind), t.pattern, t.magnitude}];
    r.rule_kind = t.rule_kind;
    r.pattern = t.pattern;
    r.magnitude = t.magnitude;
    if (!t.undetectable.empty()) {
      ++r.undetectable;
      continue;
    }
    ++r.injected;
    if (flagged.count({t.rule_kind, t.practice_code})) ++r.found;
    if (!HasStatistic(t.rule_kind)) {
      ++r.bound_found;  // no clean practice shows the pattern
      ++r.bound_pattern_found;
      continue;
    }
    if (detector(t.rule_kind, KindMeasures(t.rule_kind, t.pattern), "").Flags(t.practice_code))
      ++r.bound_found;
    if (detector(t.rule_kind, {t.pattern}, t.pattern).Flags(t.practice_code))
      ++r.bound_pattern_found;
  }
  std::vector<PowerRow> out;
  for (auto& [key, r] : rows) {
    r.clean_flag_rate = clean_rate(r.rule_kind);
    if (r.injected > 0) {
      r.recall = static_cast<double>(r.found) / static_cast<double>(r.injected);
      r.bound = static_cast<double>(r.bound_found) / static_cast<double>(r.injected);
      r.bound_pattern =
          static_cast<double>(r.bound_pattern_found) / static_cast<double>(r.injected);
    }
    Wilson(r.found, r.injected, &r.recall_lo, &r.recall_hi);
    Wilson(r.bound_found, r.injected, &r.bound_lo, &r.bound_hi);
    out.push_back(std::move(r));
  }
  return out;
}

std::string FormatPowerText(const std::vector<PowerRow>& rows) {
  std::string out;
  char line[320];
  std::snprintf(line, sizeof(line), "%-28s %-13s %6s %5s %5s %-20s %-20s %8s %7s\n", "rule_kind",
                "pattern", "mag", "n", "undet", "recall [95% CI]", "bound [95% CI]", "clean_fr",
                "b_known");
  out.append(line);
  for (const auto& r : rows) {
    std::snprintf(
        line, sizeof(line), "%-28s %-13s %6.2f %5lld %5lld %-20s %-20s %8.4f %7.2f\n",
        r.rule_kind.c_str(), r.pattern.c_str(), r.magnitude, static_cast<long long>(r.injected),
        static_cast<long long>(r.undetectable),
        (G(r.recall, "%.2f") + " [" + G(r.recall_lo, "%.2f") + "," + G(r.recall_hi, "%.2f") + "]")
            .c_str(),
        (G(r.bound, "%.2f") + " [" + G(r.bound_lo, "%.2f") + "," + G(r.bound_hi, "%.2f") + "]")
            .c_str(),
        r.clean_flag_rate, r.bound_pattern);
    out.append(line);
  }
  return out;
}

std::string FormatPowerCsv(const std::vector<PowerRow>& rows) {
  std::string out =
      "rule_kind,pattern,magnitude,injected,undetectable,found,recall,recall_lo,recall_hi,"
      "clean_flag_rate,bound_found,bound,bound_lo,bound_hi,bound_pattern_found\n";
  for (const auto& r : rows) {
    out += r.rule_kind + "," + r.pattern + "," + G(r.magnitude, "%.4g") + "," +
           std::to_string(r.injected) + "," + std::to_string(r.undetectable) + "," +
           std::to_string(r.found) + "," + G(r.recall, "%.6f") + "," + G(r.recall_lo, "%.6f") +
           "," + G(r.recall_hi, "%.6f") + "," + G(r.clean_flag_rate, "%.6f") + "," +
           std::to_string(r.bound_found) + "," + G(r.bound, "%.6f") + "," + G(r.bound_lo, "%.6f") +
           "," + G(r.bound_hi, "%.6f") + "," + std::to_string(r.bound_pattern_found) + "\n";
  }
  return out;
}

}  // namespace probity::score
