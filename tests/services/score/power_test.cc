// Power curves (services/score/power.h) and the graded scenario end to end at one small seed:
// issue #16's undetectable-by-design entries, END_OF_DATA, and recall beside the bound.
#include "services/score/power.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "services/generate/rule_kinds.h"
#include "services/rules/engine.h"
#include "services/score/evaluate.h"

namespace probity::score {
namespace {

TEST(PowerTest, WilsonInterval) {
  double lo = 0, hi = 0;
  Wilson(10, 10, &lo, &hi);
  EXPECT_NEAR(lo, 0.722, 0.001);
  EXPECT_DOUBLE_EQ(hi, 1.0);
  Wilson(5, 10, &lo, &hi);
  EXPECT_NEAR(lo, 0.237, 0.001);
  EXPECT_NEAR(hi, 0.763, 0.001);
  Wilson(0, 0, &lo, &hi);
  EXPECT_EQ(lo, 0);
  EXPECT_EQ(hi, 1);
}

v1::Envelope Flag(const std::string& practice, std::string_view kind) {
  v1::Envelope e;
  e.set_kind(v1::EVENT_KIND_FLAG);
  e.set_practice_code(practice);
  e.mutable_flag()->set_rule_kind(std::string(kind));
  return e;
}

// 100 clean practices with payments per weighted patient 100..199 pence; three altered ones.
// The rule flagged one clean practice (1%), so the bound flags what lies above the clean
// practices' second-highest value.
TEST(PowerTest, BoundFlagsAboveTheCleanQuantileAtTheRulesFlagRate) {
  std::map<std::string, PracticeStats> stats;
  std::vector<std::string> practices;
  auto add = [&](const std::string& code, double per_patient) {
    PracticeStats& s = stats[code];
    s.has_register = true;
    s.weighted = 1000;
    s.list_first = 1000;
    s.contract_type = v1::CONTRACT_TYPE_GMS;
    s.stream_pence[v1::PAYMENT_STREAM_GLOBAL_SUM] = per_patient * 1000;
    practices.push_back(code);
  };
  for (int i = 0; i < 100; ++i) add("C" + std::to_string(10000 + i), 100 + i);
  add("A00001", 400);  // 2x a clean 200: above every clean value
  add("A00002", 150);  // altered, yet inside the clean range
  add("A00003", 900);
  std::vector<generate::TruthEntry> truth;
  for (const char* code : {"A00001", "A00002", "A00003"}) {
    generate::TruthEntry t;
    t.practice_code = code;
    t.rule_kind = std::string(generate::kPaymentPerPatientOutlier);
    t.magnitude = 2;
    t.pattern = "total";
    truth.push_back(t);
  }
  truth.back().undetectable = "list below the minimum";
  std::vector<v1::Envelope> flags = {Flag("A00001", generate::kPaymentPerPatientOutlier),
                                     Flag("C10099", generate::kPaymentPerPatientOutlier),
                                     Flag("A00003", generate::kPaymentPerPatientOutlier)};
  auto rows = PowerCurves(truth, flags, practices, stats);
  ASSERT_EQ(rows.size(), 1u);
  const PowerRow& r = rows[0];
  EXPECT_EQ(r.injected, 2);  // the undetectable entry is not counted
  EXPECT_EQ(r.undetectable, 1);
  EXPECT_EQ(r.found, 1);
  EXPECT_DOUBLE_EQ(r.clean_flag_rate, 0.01);
  EXPECT_EQ(r.bound_found, 1);  // A00001 only: A00002 is inside the clean spread
  EXPECT_DOUBLE_EQ(r.recall, 0.5);
  EXPECT_NE(FormatPowerCsv(rows).find("payment_per_patient_outlier,total,2,2,1,1,0.500000"),
            std::string::npos)
      << FormatPowerCsv(rows);
}

generate::TruthEntry Injected(const std::string& practice, std::string_view kind, double magnitude,
                              const std::string& pattern) {
  generate::TruthEntry t;
  t.practice_code = practice;
  t.rule_kind = std::string(kind);
  t.magnitude = magnitude;
  t.pattern = pattern;
  return t;
}

// A practice with a register entry (1,000 weighted patients, `list` registered), added to the
// run's practices; the caller sets what its stream shows.
PracticeStats& AddPractice(std::map<std::string, PracticeStats>* stats,
                           std::vector<std::string>* practices, const std::string& code,
                           int64_t list) {
  PracticeStats& s = (*stats)[code];
  s.has_register = true;
  s.weighted = 1000;
  s.list_first = list;
  practices->push_back(code);
  return s;
}

// The bound judges the practices the rule judges: the payment rule's min_list_size comes from the
// rule set (the smallest of several rules of the kind), not a copy in the scoring code.
TEST(PowerTest, BoundTakesThePaymentRulesMinimumListFromTheRuleSet) {
  auto rs = rules::LoadRuleSetFile(PROBITY_DEFAULT_RULES);
  ASSERT_TRUE(rs.ok());
  const PowerOptions def = PowerOptionsFor(*rs);
  EXPECT_EQ(def.payment_min_list, 1500);
  EXPECT_EQ(def.list_min_list, 1000);
  auto two = rules::LoadRuleSet(R"(name: t
version: "1"
rules:
  - {id: pay-a, version: 1, kind: payment_per_patient_outlier, severity: info, description: d,
     params: {min_list_size: 1500}}
  - {id: pay-b, version: 1, kind: payment_per_patient_outlier, severity: info, description: d,
     params: {min_list_size: 1200}}
)");
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  EXPECT_EQ(PowerOptionsFor(*two).payment_min_list, 1200);
  EXPECT_EQ(PowerOptionsFor(*two).list_min_list, PowerOptions{}.list_min_list);

  // 100 clean practices of 2,000 patients at 100..199 pence per weighted patient, five clean
  // ones of 1,200 patients at 300 (fixed lumps over a small list), one altered practice at 250.
  // The rule flagged one clean practice.
  std::map<std::string, PracticeStats> stats;
  std::vector<std::string> practices;
  auto add = [&](const std::string& code, int64_t list, double per_patient) {
    PracticeStats& s = AddPractice(&stats, &practices, code, list);
    s.contract_type = v1::CONTRACT_TYPE_GMS;
    s.stream_pence[v1::PAYMENT_STREAM_GLOBAL_SUM] = per_patient * 1000;
  };
  for (int i = 0; i < 100; ++i) add("C" + std::to_string(10000 + i), 2000, 100 + i);
  for (int i = 0; i < 5; ++i) add("S" + std::to_string(10000 + i), 1200, 300);
  add("A00001", 2000, 250);
  const generate::TruthEntry t =
      Injected("A00001", generate::kPaymentPerPatientOutlier, 1.5, "total");
  const std::vector<v1::Envelope> flags = {Flag("C10099", generate::kPaymentPerPatientOutlier)};
  // Counting the practices the rule does not judge, the bound's limit sits among them (300).
  auto with_small = PowerCurves({t}, flags, practices, stats, PowerOptions{});
  ASSERT_EQ(with_small.size(), 1u);
  EXPECT_EQ(with_small[0].bound_found, 0);
  // With the rule's own minimum they are out, and the altered practice is above the limit.
  auto same = PowerCurves({t}, flags, practices, stats, def);
  ASSERT_EQ(same.size(), 1u);
  EXPECT_EQ(same[0].bound_found, 1);
}

// The contact rules judge home visits and out-of-hours contacts, and a flag on either finds an
// anomaly of the kind; so the bound watches both measures at the kind's clean flag rate, and
// does not spend the whole rate on the measure it is told was altered (bound_pattern does).
TEST(PowerTest, BoundWatchesEveryMeasureOfTheKindAtTheKindsFlagRate) {
  std::map<std::string, PracticeStats> stats;
  std::vector<std::string> practices;
  auto add = [&](const std::string& code, int64_t home, int64_t ooh) {
    PracticeStats& s = AddPractice(&stats, &practices, code, 1000);
    s.home_visits = home;
    s.out_of_hours = ooh;
  };
  // 200 clean practices: home visits 100, 102, ..., 498; out of hours 100..299, in another order.
  for (int i = 0; i < 200; ++i)
    add("C" + std::to_string(10000 + i), 100 + 2 * i, 100 + i * 7 % 200);
  add("A00001", 495, 100);  // between the clean practices' 2nd and 3rd highest home visits
  add("A00002", 900, 100);  // above every clean practice
  const std::vector<generate::TruthEntry> truth = {
      Injected("A00001", generate::kContactRateOutlier, 3, "home_visit"),
      Injected("A00002", generate::kContactRateOutlier, 3, "home_visit")};
  // The rules flagged two clean practices (1%): one on home visits, one on out of hours.
  const std::vector<v1::Envelope> flags = {Flag("C10199", generate::kContactRateOutlier),
                                           Flag("C10057", generate::kContactRateOutlier),
                                           Flag("A00002", generate::kContactRateOutlier)};
  auto rows = PowerCurves(truth, flags, practices, stats);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_DOUBLE_EQ(rows[0].clean_flag_rate, 0.01);
  EXPECT_EQ(rows[0].found, 1);
  // Two clean practices flagged over both measures: each measure's most extreme one. A00001 is
  // not beyond them; A00002 is.
  EXPECT_EQ(rows[0].bound_found, 1);
  // Spending the 1% on home visits alone flags what lies above the third highest clean value.
  EXPECT_EQ(rows[0].bound_pattern_found, 2);
  EXPECT_DOUBLE_EQ(rows[0].bound_pattern, 1.0);
  EXPECT_NE(FormatPowerCsv(rows).find(",2\n"), std::string::npos) << FormatPowerCsv(rows);
}

// Undetectable entries are neither found nor missed, and not false positives when flagged.
TEST(PowerTest, ScoreLeavesUndetectableEntriesOut) {
  generate::TruthEntry t;
  t.practice_code = "A00001";
  t.rule_kind = std::string(generate::kListInflation);
  t.undetectable = "list of 640 patients, below the rule's 1,000-patient minimum";
  generate::TruthEntry u = t;
  u.practice_code = "A00002";
  const auto report = Score({t, u}, {Flag("A00002", generate::kListInflation)});
  for (const auto& k : report.kinds) {
    if (k.rule_kind != generate::kListInflation) continue;
    EXPECT_EQ(k.true_positives, 0);
    EXPECT_EQ(k.false_negatives, 0);
    EXPECT_EQ(k.false_positives, 0);
    EXPECT_EQ(k.undetectable, 2);
  }
  EXPECT_NE(FormatText(report).find("undetectable by design (not scored): list_inflation 2"),
            std::string::npos);
  // The truth line keeps the reason and the magnitude.
  t.magnitude = 1.05;
  t.pattern = "one-off";
  auto parsed = generate::ParseTruthJsonl(generate::TruthToJsonl({t}));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ((*parsed)[0], t);
}

// The generator records a payment anomaly as undetectable by design exactly where the default
// payment rule does not judge the practice (min_list_size: 1,500 since payment version 5): a
// change to either alone would score anomalies the rule cannot see as misses, or hide ones it
// can. Plan only (no events generated), every practice, a third of them anomalous.
TEST(PowerTest, PaymentUndetectableMatchesTheDefaultRulesMinimumList) {
  auto ref = generate::LoadReference(generate::DefaultReferenceCsvPath());
  ASSERT_TRUE(ref.ok());
  auto rs = rules::LoadRuleSetFile(PROBITY_DEFAULT_RULES);
  ASSERT_TRUE(rs.ok());
  double min_list = -1;
  for (const auto& r : rs->rules) {
    if (r.kind == generate::kPaymentPerPatientOutlier) min_list = r.Number("min_list_size");
  }
  ASSERT_EQ(min_list, 1500);
  std::map<std::string, double> lists;
  for (const auto& rec : *ref) lists[rec.practice_code] = rec.list_size;
  generate::GeneratorParams p;
  p.anomaly_share = 0.3;
  p.graded = true;
  auto gen = generate::Generator::Create(*ref, p);
  ASSERT_TRUE(gen.ok()) << gen.status().ToString();
  int below = 0, judged = 0;
  for (const auto& t : (*gen)->truth()) {
    if (t.rule_kind != generate::kPaymentPerPatientOutlier) continue;
    const double list = lists.at(t.practice_code);
    if (list < min_list) {
      ++below;
      EXPECT_NE(t.undetectable.find("1,500-patient minimum"), std::string::npos)
          << t.practice_code << " list " << list << ": " << t.undetectable;
    } else {
      ++judged;
      EXPECT_EQ(t.undetectable.find("patient minimum"), std::string::npos)
          << t.practice_code << " list " << list << ": " << t.undetectable;
    }
  }
  EXPECT_GT(below, 0);
  EXPECT_GT(judged, 0);
}

// One seed of the graded scenario, small enough for the suite (the multi-seed curves are
// tools/power_curves.py, not run in CI).
TEST(PowerTest, GradedScenarioOneSeed) {
  auto ref = generate::LoadReference(generate::DefaultReferenceCsvPath());
  ASSERT_TRUE(ref.ok());
  auto rs = rules::LoadRuleSetFile(PROBITY_DEFAULT_RULES);
  ASSERT_TRUE(rs.ok());
  generate::GeneratorParams p;
  p.practice_fraction = 0.02;
  p.volume_fraction = 0.03;
  p.anomaly_share = 0.3;
  p.seed = 3;
  p.graded = true;
  p.end_of_data = true;
  auto ev = Evaluate(*ref, p, *rs, nullptr, {.keep_flags = true, .log_baselines = true});
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  ASSERT_FALSE(ev->power.empty());
  int undetectable = 0;
  for (const auto& t : ev->truth) {
    EXPECT_GT(t.magnitude, 0) << t.rule_kind << " " << t.detail;
    undetectable += !t.undetectable.empty();
  }
  // At 3% of real volumes most practices expect fewer than 20 referrals in 90 days: the funnel
  // cannot judge them, and the truth says so.
  EXPECT_GT(undetectable, 0);
  int64_t injected = 0, undet = 0;
  for (const auto& r : ev->power) {
    injected += r.injected;
    undet += r.undetectable;
    EXPECT_LE(r.recall_lo, r.recall);
    EXPECT_GE(r.recall_hi, r.recall);
    EXPECT_LE(r.bound_lo, r.bound);
    // Exact kinds: no clean practice shows the pattern and the rule finds every one.
    if (r.rule_kind == generate::kClaimExceedsCohort ||
        r.rule_kind == generate::kQofPointsOverMaximum ||
        r.rule_kind == generate::kDuplicateItemOfService) {
      EXPECT_EQ(r.found, r.injected) << r.rule_kind << " " << r.magnitude;
      EXPECT_EQ(r.bound_found, r.injected);
    }
  }
  EXPECT_EQ(injected + undet, static_cast<int64_t>(ev->truth.size()));
  // The feed ended with END_OF_DATA: the log has a baseline for each peer comparison flagged.
  int with_baseline = 0;
  for (const auto& f : ev->flags) with_baseline += !f.flag().baseline_id().empty();
  EXPECT_GT(with_baseline, 0);
  EXPECT_GT(ev->baselines, 0);
  EXPECT_EQ(ev->log_entries, 1 + ev->input_events + ev->report.flags + ev->baselines);
}

}  // namespace
}  // namespace probity::score
