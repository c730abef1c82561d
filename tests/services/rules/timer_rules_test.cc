#include <gtest/gtest.h>

#include "tests/services/rules/test_util.h"

namespace probity::rules::testing {
namespace {

// ---- list_inflation ----
TEST(ListInflationTest, FifteenPercentInAQuarterWithoutMerger) {
  LogBuilder log;
  log.Practice("A81001", T(2022, 4, 1), 10000, 11000);
  log.Practice("A81001", T(2022, 6, 1), 11500, 12650);
  auto flags = RunRules(OneRule("list_inflation"), log.entries());
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_DOUBLE_EQ(flags[0].flag().observed(), 11500);
  EXPECT_DOUBLE_EQ(flags[0].flag().expected(), 10000);
  EXPECT_EQ(flags[0].flag().evidence_size(), 2);
}

TEST(ListInflationTest, SilentOnDriftMergerSlowGrowthAndOtherPractice) {
  LogBuilder log;
  log.Practice("A81001", T(2022, 4, 1), 10000, 11000);
  log.Practice("A81001", T(2022, 6, 1), 10900, 11000);  // +9%
  log.Practice("B81001", T(2022, 4, 1), 10000, 11000);
  log.Practice("B81001", T(2022, 6, 1), 13000, 14000, "QHM", false, "C81001");  // merger
  log.Practice("D81001", T(2022, 4, 1), 10000, 11000);
  log.Practice("D81001", T(2022, 8, 1), 10800, 11000);   // +8%
  log.Practice("D81001", T(2022, 12, 1), 11700, 11000);  // +8.3% on the point 4 months before
  log.Practice("E81001", T(2022, 4, 1), 500, 600);       // under the minimum list size
  log.Practice("E81001", T(2022, 5, 1), 800, 900);
  EXPECT_TRUE(RunRules(OneRule("list_inflation"), log.entries()).empty());
}

// Regression: quarterly register snapshots on 1 Jul and 1 Oct are 92 days apart, one more than
// the 91-day window, so growth between them was never compared (the generator's list_inflation
// anomaly went undetected). The list in force at the window's start is now the base.
TEST(ListInflationTest, GrowthBetweenQuarterlySnapshots92DaysApart) {
  LogBuilder log;
  log.Practice("A81001", T(2022, 4, 1), 10000, 11000);
  log.Practice("A81001", T(2022, 7, 1, 6), 10030, 11030);
  log.Practice("A81001", T(2022, 10, 1, 6), 11535, 12690);  // +15.0% on 1 Jul, 92 days before
  log.Practice("A81001", T(2023, 1, 1, 6), 11560, 12700);   // stays inflated: no second flag
  auto flags = RunRules(OneRule("list_inflation"), log.entries());
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_DOUBLE_EQ(flags[0].flag().observed(), 11535);
  EXPECT_DOUBLE_EQ(flags[0].flag().expected(), 10030);
  EXPECT_EQ(flags[0].flag().evidence(0).event_id(), "ev-1");
}

TEST(ListInflationTest, MergerInsideWindowStillExplainsGrowthFromPointBefore) {
  LogBuilder log;
  log.Practice("A81001", T(2022, 7, 1), 10000, 11000);
  log.Practice("A81001", T(2022, 8, 15), 10100, 11100, "QHM", false, "C81001");  // merger
  log.Practice("A81001", T(2022, 10, 1), 13000, 14000);
  EXPECT_TRUE(RunRules(OneRule("list_inflation"), log.entries()).empty());
}

// ---- monitoring_visit_overdue ----
TEST(OverdueTest, FiresWhenWatermarkPassesDueDate) {
  LogBuilder log;
  log.Visit("A81001", T(2020, 1, 10), v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW);  // 30 months before
  log.Visit("B81001", T(2021, 1, 10), v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW);  // 18 months before
  log.Tick(T(2022, 7, 10));
  auto flags = RunRules(OneRule("monitoring_visit_overdue"), log.entries());
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].practice_code(), "A81001");
  EXPECT_EQ(flags[0].flag().window_end().seconds(), T(2022, 1, 10));
  EXPECT_EQ(flags[0].occurred_at().seconds(), T(2022, 7, 10));  // event time, not a clock
  EXPECT_EQ(flags[0].flag().judged_at_tree_size(), 3u);
}

// Regression (first bus run of the demo): claims and referrals read months ahead of the visits
// topic must not make a visit look missing. Timers judge by the visits feed's own watermark, the
// lowest of its partitions'.
TEST(OverdueTest, WaitsForTheVisitsFeedNotOtherTopics) {
  LogBuilder log;
  log.Visit("A81001", T(2021, 1, 10), v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW);
  log.last_record().set_topic("probity.visits.v1");
  log.last_record().set_partition(0);
  log.Add(v1::EVENT_KIND_REFERRAL, "Z99999", T(2023, 3, 1));  // another topic, far ahead
  log.last_record().set_topic("probity.referrals.v1");
  EXPECT_TRUE(RunRules(OneRule("monitoring_visit_overdue"), log.entries()).empty());
  // One visits partition far ahead, another still behind: still not due.
  log.Tick(T(2023, 3, 2));
  log.last_record().set_topic("probity.visits.v1");
  log.last_record().set_partition(1);
  log.Tick(T(2022, 6, 1));
  log.last_record().set_topic("probity.visits.v1");
  log.last_record().set_partition(2);
  EXPECT_TRUE(RunRules(OneRule("monitoring_visit_overdue"), log.entries()).empty());
  // Every partition seen past the due date (2023-01-10): now it fires.
  log.Tick(T(2023, 2, 1));
  log.last_record().set_topic("probity.visits.v1");
  log.last_record().set_partition(0);
  log.Tick(T(2023, 2, 1));
  log.last_record().set_topic("probity.visits.v1");
  log.last_record().set_partition(2);
  auto flags = RunRules(OneRule("monitoring_visit_overdue"), log.entries());
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].practice_code(), "A81001");
}

TEST(OverdueTest, BoundaryAndNewVisitResetsTimer) {
  LogBuilder log;
  log.Visit("A81001", T(2020, 1, 10), v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW);
  log.Tick(T(2022, 1, 10));  // exactly 24 months: not yet overdue
  log.Visit("A81001", T(2022, 1, 10, 12), v1::MONITORING_VISIT_TYPE_QOF_PPV);
  log.Tick(T(2023, 1, 11));
  EXPECT_TRUE(RunRules(OneRule("monitoring_visit_overdue"), log.entries()).empty());
}

// ---- remedial_deadline_missed ----
TEST(RemedialTest, FiresWithoutFollowUpAfterGrace) {
  LogBuilder log;
  auto& v = log.Visit("A81001", T(2022, 5, 1), v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW,
                      v1::MONITORING_OUTCOME_REMEDIAL_NOTICE);
  v.mutable_notice_issued_at()->set_seconds(T(2022, 5, 1));
  v.mutable_remedy_due_at()->set_seconds(T(2022, 7, 1));
  log.Tick(T(2022, 7, 15));  // due + 14 days exactly: not yet
  EXPECT_TRUE(RunRules(OneRule("remedial_deadline_missed"), log.entries()).empty());
  log.Tick(T(2022, 7, 16));
  auto flags = RunRules(OneRule("remedial_deadline_missed"), log.entries());
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].flag().evidence(0).log_index(), 0u);
}

TEST(RemedialTest, SilentWithFollowUpInTimeButNotForOtherPractice) {
  LogBuilder log;
  for (const char* code : {"A81001", "B81001"}) {
    auto& v = log.Visit(code, T(2022, 5, 1), v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW,
                        v1::MONITORING_OUTCOME_BREACH_NOTICE);
    v.mutable_remedy_due_at()->set_seconds(T(2022, 7, 1));
  }
  log.Visit("A81001", T(2022, 7, 10),
            v1::MONITORING_VISIT_TYPE_REMEDIAL_FOLLOW_UP);  // within grace
  log.Tick(T(2022, 9, 1));
  auto flags = RunRules(OneRule("remedial_deadline_missed"), log.entries());
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].practice_code(), "B81001");
}

}  // namespace
}  // namespace probity::rules::testing
