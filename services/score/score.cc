#include "services/score/score.h"

#include <cstdio>
#include <map>
#include <set>

#include "common/encoding/json_string.h"
#include "services/rules/kinds.h"

namespace probity::score {
namespace {

std::optional<double> Ratio(int64_t num, int64_t den) {
  if (den == 0) return std::nullopt;
  return static_cast<double>(num) / static_cast<double>(den);
}

void Finish(KindScore* k) {
  k->precision = Ratio(k->true_positives, k->true_positives + k->false_positives);
  k->recall = Ratio(k->true_positives, k->true_positives + k->false_negatives);
}

std::string Num(const std::optional<double>& v, const char* fmt) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), fmt, *v);
  return buf;
}

std::string JsonKind(const KindScore& k) {
  return "{\"rule_kind\":" + encoding::JsonString(k.rule_kind) +
         ",\"tp\":" + std::to_string(k.true_positives) +
         ",\"fp\":" + std::to_string(k.false_positives) +
         ",\"fn\":" + std::to_string(k.false_negatives) +
         ",\"precision\":" + (k.precision ? Num(k.precision, "%.6g") : "null") +
         ",\"recall\":" + (k.recall ? Num(k.recall, "%.6g") : "null") + "}";
}

}  // namespace

ScoreReport Score(const std::vector<generate::TruthEntry>& truth,
                  const std::vector<v1::Envelope>& envelopes, const ScoreOptions& options) {
  ScoreReport report;
  std::set<std::pair<std::string, std::string>> truth_pairs;   // (kind, practice)
  std::set<std::pair<std::string, std::string>> undetectable;  // recorded as such by design
  std::set<std::string> anomalous;
  for (const auto& t : truth) {
    (t.undetectable.empty() ? truth_pairs : undetectable).emplace(t.rule_kind, t.practice_code);
    anomalous.insert(t.practice_code);
  }
  std::set<std::pair<std::string, std::string>> flagged_pairs;
  std::set<std::string> flagged_practices;
  std::set<std::string> practices(options.practices.begin(), options.practices.end());
  const bool derive_practices = options.practices.empty();
  for (const auto& e : envelopes) {
    if (derive_practices && e.kind() == v1::EVENT_KIND_PRACTICE_UPDATE &&
        !e.practice_code().empty()) {
      practices.insert(e.practice_code());
    }
    if (e.kind() != v1::EVENT_KIND_FLAG || !e.has_flag()) continue;
    ++report.flags;
    if (e.practice_code().empty()) {
      ++report.flags_without_practice;
      continue;
    }
    flagged_pairs.emplace(e.flag().rule_kind(), e.practice_code());
    flagged_practices.insert(e.practice_code());
  }
  if (derive_practices) {
    practices.insert(anomalous.begin(), anomalous.end());
    practices.insert(flagged_practices.begin(), flagged_practices.end());
  }

  std::vector<std::string> kinds;
  std::set<std::string> seen;
  for (auto k : rules::kRuleKinds) {
    kinds.emplace_back(k);
    seen.emplace(k);
  }
  std::set<std::string> extra;
  for (const auto& [k, p] : truth_pairs) {
    if (!seen.count(k)) extra.insert(k);
  }
  for (const auto& [k, p] : flagged_pairs) {
    if (!seen.count(k)) extra.insert(k);
  }
  for (const auto& [k, p] : undetectable) {
    if (!seen.count(k)) extra.insert(k);
  }
  kinds.insert(kinds.end(), extra.begin(), extra.end());

  std::map<std::string, KindScore> by_kind;
  for (const auto& k : kinds) by_kind[k].rule_kind = k;
  for (const auto& pair : truth_pairs) {
    (flagged_pairs.count(pair) ? by_kind[pair.first].true_positives
                               : by_kind[pair.first].false_negatives)++;
  }
  for (const auto& pair : flagged_pairs) {
    if (!truth_pairs.count(pair) && !undetectable.count(pair))
      ++by_kind[pair.first].false_positives;
  }
  for (const auto& pair : undetectable) ++by_kind[pair.first].undetectable;
  report.overall.rule_kind = "overall";
  for (const auto& k : kinds) {
    KindScore s = by_kind[k];
    Finish(&s);
    report.overall.true_positives += s.true_positives;
    report.overall.false_positives += s.false_positives;
    report.overall.false_negatives += s.false_negatives;
    report.overall.undetectable += s.undetectable;
    report.kinds.push_back(std::move(s));
  }
  Finish(&report.overall);

  report.practices = static_cast<int64_t>(practices.size());
  for (const auto& p : practices) {
    if (anomalous.count(p)) continue;
    ++report.clean_practices;
    if (flagged_practices.count(p)) ++report.clean_practices_flagged;
  }
  report.clean_flagged_share = Ratio(report.clean_practices_flagged, report.clean_practices);
  return report;
}

std::string FormatText(const ScoreReport& r) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof(line), "%-28s %6s %6s %6s %9s %7s\n", "rule_kind", "TP", "FP", "FN",
                "precision", "recall");
  out.append(line);
  auto row = [&](const KindScore& k) {
    std::snprintf(line, sizeof(line), "%-28s %6lld %6lld %6lld %9s %7s\n", k.rule_kind.c_str(),
                  static_cast<long long>(k.true_positives),
                  static_cast<long long>(k.false_positives),
                  static_cast<long long>(k.false_negatives), Num(k.precision, "%.3f").c_str(),
                  Num(k.recall, "%.3f").c_str());
    out.append(line);
  };
  for (const auto& k : r.kinds) row(k);
  out.append(std::string(28 + 7 * 3 + 10 + 8, '-') + "\n");
  row(r.overall);
  std::snprintf(
      line, sizeof(line),
      "clean practices flagged by any rule: %lld of %lld (%s); practices %lld; flags %lld "
      "(%lld without a practice)\n",
      static_cast<long long>(r.clean_practices_flagged), static_cast<long long>(r.clean_practices),
      Num(r.clean_flagged_share, "%.3f").c_str(), static_cast<long long>(r.practices),
      static_cast<long long>(r.flags), static_cast<long long>(r.flags_without_practice));
  out.append(line);
  if (r.overall.undetectable > 0) {
    out.append("undetectable by design (not scored):");
    for (const auto& k : r.kinds) {
      if (k.undetectable > 0) out += " " + k.rule_kind + " " + std::to_string(k.undetectable);
    }
    out.append("\n");
  }
  return out;
}

std::string FormatJson(const ScoreReport& r) {
  std::string out = "{\"kinds\":[";
  for (size_t i = 0; i < r.kinds.size(); ++i) {
    if (i) out.push_back(',');
    out.append(JsonKind(r.kinds[i]));
  }
  out.append("],\"overall\":" + JsonKind(r.overall));
  out.append(",\"practices\":" + std::to_string(r.practices));
  out.append(",\"clean_practices\":" + std::to_string(r.clean_practices));
  out.append(",\"clean_practices_flagged\":" + std::to_string(r.clean_practices_flagged));
  out.append(",\"clean_flagged_share\":" +
             (r.clean_flagged_share ? Num(r.clean_flagged_share, "%.6g") : std::string("null")));
  out.append(",\"flags\":" + std::to_string(r.flags));
  out.append(",\"flags_without_practice\":" + std::to_string(r.flags_without_practice) + "}");
  return out;
}

}  // namespace probity::score
