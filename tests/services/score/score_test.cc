#include "services/score/score.h"

#include <gtest/gtest.h>

#include "services/generate/rule_kinds.h"

namespace probity::score {
namespace {

using generate::TruthEntry;

TruthEntry T(const std::string& practice, std::string_view kind) {
  TruthEntry t;
  t.practice_code = practice;
  t.rule_kind = std::string(kind);
  return t;
}

v1::Envelope Flag(const std::string& practice, std::string_view kind) {
  v1::Envelope e;
  e.set_kind(v1::EVENT_KIND_FLAG);
  e.set_practice_code(practice);
  e.mutable_flag()->set_rule_kind(std::string(kind));
  return e;
}

v1::Envelope Register(const std::string& practice) {
  v1::Envelope e;
  e.set_kind(v1::EVENT_KIND_PRACTICE_UPDATE);
  e.set_practice_code(practice);
  e.mutable_practice_update()->set_list_size(1000);
  return e;
}

const KindScore& Row(const ScoreReport& r, std::string_view kind) {
  for (const auto& k : r.kinds) {
    if (k.rule_kind == kind) return k;
  }
  static KindScore none;
  ADD_FAILURE() << "no row for " << kind;
  return none;
}

TEST(Score, CountsPerKind) {
  const std::vector<TruthEntry> truth = {
      T("A00001", generate::kDuplicateItemOfService),
      T("A00002", generate::kDuplicateItemOfService),
      T("A00003", generate::kListInflation),
      T("A00004", generate::kReferralRateOutlier),
  };
  std::vector<v1::Envelope> env;
  for (int i = 1; i <= 10; ++i) env.push_back(Register("A0000" + std::to_string(i % 10)));
  // Found: A00001 dup (twice: still one pair), A00003 list inflation.
  env.push_back(Flag("A00001", generate::kDuplicateItemOfService));
  env.push_back(Flag("A00001", generate::kDuplicateItemOfService));
  env.push_back(Flag("A00003", generate::kListInflation));
  // Wrong kind for an anomalous practice: a false positive of that kind, the truth pair missed.
  env.push_back(Flag("A00004", generate::kContactRateOutlier));
  // Clean practices flagged: A00005 (two kinds), A00006.
  env.push_back(Flag("A00005", generate::kListInflation));
  env.push_back(Flag("A00005", generate::kClaimedValueShift));
  env.push_back(Flag("A00006", generate::kDuplicateItemOfService));
  // A flag with no practice is counted, not scored; other kinds are ignored.
  env.push_back(Flag("", generate::kListInflation));
  v1::Envelope claim;
  claim.set_kind(v1::EVENT_KIND_CLAIM);
  claim.set_practice_code("A00007");
  env.push_back(claim);

  ScoreReport r = Score(truth, env);
  const auto& dup = Row(r, generate::kDuplicateItemOfService);
  EXPECT_EQ(dup.true_positives, 1);
  EXPECT_EQ(dup.false_positives, 1);
  EXPECT_EQ(dup.false_negatives, 1);
  EXPECT_DOUBLE_EQ(*dup.precision, 0.5);
  EXPECT_DOUBLE_EQ(*dup.recall, 0.5);
  const auto& list = Row(r, generate::kListInflation);
  EXPECT_EQ(list.true_positives, 1);
  EXPECT_EQ(list.false_positives, 1);
  EXPECT_EQ(list.false_negatives, 0);
  EXPECT_DOUBLE_EQ(*list.precision, 0.5);
  EXPECT_DOUBLE_EQ(*list.recall, 1.0);
  const auto& ref = Row(r, generate::kReferralRateOutlier);
  EXPECT_EQ(ref.true_positives, 0);
  EXPECT_EQ(ref.false_negatives, 1);
  EXPECT_FALSE(ref.precision.has_value());  // no flags of the kind
  EXPECT_DOUBLE_EQ(*ref.recall, 0.0);
  const auto& contact = Row(r, generate::kContactRateOutlier);
  EXPECT_EQ(contact.false_positives, 1);
  EXPECT_DOUBLE_EQ(*contact.precision, 0.0);
  EXPECT_FALSE(contact.recall.has_value());  // nothing to find
  const auto& overdue = Row(r, generate::kMonitoringVisitOverdue);
  EXPECT_EQ(overdue.true_positives + overdue.false_positives + overdue.false_negatives, 0);

  EXPECT_EQ(r.overall.true_positives, 2);
  EXPECT_EQ(r.overall.false_positives, 4);
  EXPECT_EQ(r.overall.false_negatives, 2);
  EXPECT_DOUBLE_EQ(*r.overall.precision, 2.0 / 6.0);
  EXPECT_DOUBLE_EQ(*r.overall.recall, 0.5);

  EXPECT_EQ(r.practices, 10);
  EXPECT_EQ(r.clean_practices, 6);  // A00005..A00009, A00000
  EXPECT_EQ(r.clean_practices_flagged, 2);
  EXPECT_DOUBLE_EQ(*r.clean_flagged_share, 2.0 / 6.0);
  EXPECT_EQ(r.flags, 8);
  EXPECT_EQ(r.flags_without_practice, 1);
  EXPECT_EQ(r.kinds.size(), generate::kRuleKinds.size());
}

TEST(Score, UnknownKindsGetTheirOwnRows) {
  ScoreReport r = Score({T("A00001", "made_up_kind")}, {Flag("A00002", "another_kind")});
  ASSERT_EQ(r.kinds.size(), generate::kRuleKinds.size() + 2);
  EXPECT_EQ(r.kinds[generate::kRuleKinds.size()].rule_kind, "another_kind");
  EXPECT_EQ(Row(r, "made_up_kind").false_negatives, 1);
  EXPECT_EQ(Row(r, "another_kind").false_positives, 1);
  // Practices derived from truth and flags when there are no register events.
  EXPECT_EQ(r.practices, 2);
  EXPECT_EQ(r.clean_practices, 1);
  EXPECT_EQ(r.clean_practices_flagged, 1);
}

TEST(Score, ExplicitPracticesAndEmptyInput) {
  ScoreOptions opts;
  opts.practices = {"A00001", "A00002", "A00003", "A00004"};
  ScoreReport r = Score({T("A00001", generate::kListInflation)}, {Register("Z99999")}, opts);
  EXPECT_EQ(r.practices, 4);
  EXPECT_EQ(r.clean_practices, 3);
  EXPECT_DOUBLE_EQ(*r.clean_flagged_share, 0.0);
  EXPECT_FALSE(r.overall.precision.has_value());
  EXPECT_DOUBLE_EQ(*r.overall.recall, 0.0);

  ScoreReport empty = Score({}, {});
  EXPECT_EQ(empty.practices, 0);
  EXPECT_FALSE(empty.clean_flagged_share.has_value());
  EXPECT_FALSE(empty.overall.recall.has_value());
}

TEST(Score, Formats) {
  ScoreReport r =
      Score({T("A00001", generate::kListInflation), T("A00002", generate::kListInflation)},
            {Register("A00001"), Register("A00002"), Register("A00003"),
             Flag("A00001", generate::kListInflation), Flag("A00003", generate::kListInflation)});
  const std::string text = FormatText(r);
  EXPECT_NE(text.find("list_inflation                    1      1      1     0.500   0.500"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("clean practices flagged by any rule: 1 of 1 (1.000)"), std::string::npos)
      << text;
  const std::string json = FormatJson(r);
  EXPECT_NE(
      json.find("{\"rule_kind\":\"list_inflation\",\"tp\":1,\"fp\":1,\"fn\":1,\"precision\":0.5,"
                "\"recall\":0.5}"),
      std::string::npos)
      << json;
  EXPECT_NE(json.find("{\"rule_kind\":\"duplicate_item_of_service\",\"tp\":0,\"fp\":0,\"fn\":0,"
                      "\"precision\":null,\"recall\":null}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"clean_flagged_share\":1,"), std::string::npos) << json;
}

}  // namespace
}  // namespace probity::score
