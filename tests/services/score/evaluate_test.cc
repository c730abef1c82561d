// End-to-end evaluation at small scale: generator -> rules engine -> score, offline.
#include "services/score/evaluate.h"

#include <gtest/gtest.h>

#include <set>

#include "services/generate/rule_kinds.h"
#include "services/rules/engine.h"

namespace probity::score {
namespace {

const std::vector<generate::PracticeRecord>& Reference() {
  static const auto* ref = [] {
    auto r = generate::LoadReference(generate::DefaultReferenceCsvPath());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return new std::vector<generate::PracticeRecord>(
        r.ok() ? *r : std::vector<generate::PracticeRecord>{});
  }();
  return *ref;
}

rules::RuleSet DefaultRules() {
  auto rs = rules::LoadRuleSetFile(PROBITY_DEFAULT_RULES);
  EXPECT_TRUE(rs.ok()) << rs.status().ToString();
  return rs.ok() ? *rs : rules::RuleSet{};
}

generate::GeneratorParams Small() {
  generate::GeneratorParams p;
  p.practice_fraction = 0.02;
  p.volume_fraction = 0.05;
  p.anomaly_share = 0.05;
  return p;
}

const KindScore& Row(const ScoreReport& r, std::string_view kind) {
  for (const auto& k : r.kinds) {
    if (k.rule_kind == kind) return k;
  }
  static KindScore none;
  ADD_FAILURE() << "no row for " << kind;
  return none;
}

const Evaluation& SmallRun() {
  static const auto* ev = [] {
    auto e = Evaluate(Reference(), Small(), DefaultRules());
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return new Evaluation(e.ok() ? std::move(*e) : Evaluation{});
  }();
  return *ev;
}

TEST(EvaluateTest, ScoresEveryInjectedKindAndCountsTheLog) {
  const Evaluation& ev = SmallRun();
  ASSERT_FALSE(ev.practices.empty());
  EXPECT_EQ(ev.report.practices, static_cast<int64_t>(ev.practices.size()));
  EXPECT_EQ(ev.truth.size(), 11u);  // one of each kind at this scale
  EXPECT_GT(ev.input_events, 100'000);
  // Log = rule-set entry + inputs + one FLAG entry per flag.
  EXPECT_EQ(ev.log_entries, 1 + ev.input_events + ev.report.flags);
  EXPECT_EQ(static_cast<int64_t>(ev.flags.size()), ev.report.flags);
  for (const auto& f : ev.flags) {
    EXPECT_EQ(f.kind(), v1::EVENT_KIND_FLAG);
    EXPECT_FALSE(f.flag().rule_kind().empty());
  }
  // Kinds judged on single events or timers are found wherever they are injected.
  for (auto kind : {generate::kDuplicateItemOfService, generate::kClaimExceedsCohort,
                    generate::kQofPointsOverMaximum, generate::kLateOrResubmittedClaim,
                    generate::kClaimedValueShift, generate::kListInflation,
                    generate::kMonitoringVisitOverdue, generate::kRemedialDeadlineMissed,
                    generate::kPaymentPerPatientOutlier, generate::kReferralRateOutlier}) {
    EXPECT_EQ(Row(ev.report, kind).false_negatives, 0) << kind << "\n" << FormatDiagnostics(ev);
  }
}

// Regression: list_inflation never saw the generator's +15% quarterly jump (snapshots 92 days
// apart, window 91 days); found once the list in force at the window start is the base.
TEST(EvaluateTest, ListInflationInjectedAtAQuarterlySnapshotIsFound) {
  EXPECT_EQ(Row(SmallRun().report, generate::kListInflation).true_positives, 1);
}

// Kinds with no statistical judgement raise nothing on clean practices.
TEST(EvaluateTest, ExactKindsRaiseNoFalsePositives) {
  const Evaluation& ev = SmallRun();
  for (auto kind : {generate::kDuplicateItemOfService, generate::kClaimExceedsCohort,
                    generate::kQofPointsOverMaximum, generate::kLateOrResubmittedClaim,
                    generate::kListInflation, generate::kMonitoringVisitOverdue,
                    generate::kRemedialDeadlineMissed}) {
    EXPECT_EQ(Row(ev.report, kind).false_positives, 0) << kind << "\n" << FormatDiagnostics(ev);
  }
}

TEST(EvaluateTest, DeterministicFlagBytes) {
  auto again = Evaluate(Reference(), Small(), DefaultRules());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  const Evaluation& ev = SmallRun();
  ASSERT_EQ(again->flags.size(), ev.flags.size());
  for (size_t i = 0; i < ev.flags.size(); ++i) {
    EXPECT_EQ(rules::SerializeDeterministic(again->flags[i]),
              rules::SerializeDeterministic(ev.flags[i]));
  }
  EXPECT_EQ(FormatJson(again->report), FormatJson(ev.report));
}

TEST(EvaluateTest, DiagnosticsNameMissesAndCleanFlags) {
  const Evaluation& ev = SmallRun();
  const std::string d = FormatDiagnostics(ev);
  std::set<std::pair<std::string, std::string>> truth;
  for (const auto& t : ev.truth) truth.emplace(t.practice_code, t.rule_kind);
  for (const auto& f : ev.flags) {
    if (!truth.count({f.practice_code(), f.flag().rule_kind()})) {
      EXPECT_NE(d.find("FP " + f.flag().rule_kind() + " " + f.practice_code()), std::string::npos);
      EXPECT_NE(d.find(" rule " + f.flag().rule_id() + "\n"), std::string::npos);
    } else {
      // A found truth entry names the rules that found it (several rules of a kind can be
      // compared in one run).
      const auto at = d.find("TP " + f.flag().rule_kind() + " " + f.practice_code());
      ASSERT_NE(at, std::string::npos);
      const std::string line = d.substr(at, d.find('\n', at) - at);
      EXPECT_NE(line.find(" rules "), std::string::npos) << line;
      EXPECT_NE(line.find(" " + f.flag().rule_id()), std::string::npos) << line;
    }
  }
}

TEST(EvaluateTest, BadParamsAreInvalidArgument) {
  generate::GeneratorParams p = Small();
  p.practice_fraction = 0;
  auto r = EvaluateScenario(p, DefaultRules());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace probity::score
