#include <gtest/gtest.h>

#include <cstdio>
#include <functional>

#include "tests/services/rules/test_util.h"

namespace probity::rules::testing {
namespace {

// ---- duplicate_item_of_service ----
class DuplicateTest : public ::testing::Test {
 protected:
  v1::Claim& Ldhc(const std::string& practice, int64_t t, const std::string& id,
                  const std::string& patient, const std::string& service = "LDHC") {
    auto& c = log_.Claim(practice, t, id, v1::PAYMENT_STREAM_ITEM_OF_SERVICE, 14000);
    c.set_service_code(service);
    c.set_patient_ref(patient);
    SetPeriod(c, t, t + 86400);
    return c;
  }
  LogBuilder log_;
  RuleSet rs_ = OneRule("duplicate_item_of_service");
};

TEST_F(DuplicateTest, FiresOnSamePatientSameFinancialYear) {
  Ldhc("A81001", T(2022, 5, 10), "c1", "p1");
  Ldhc("A81001", T(2022, 9, 10), "c2", "p1");
  auto flags = RunRules(rs_, log_.entries());
  ASSERT_EQ(flags.size(), 1u);
  const auto& f = flags[0].flag();
  EXPECT_EQ(f.rule_kind(), "duplicate_item_of_service");
  EXPECT_EQ(f.claim_id(), "c2");
  ASSERT_EQ(f.evidence_size(), 2);
  EXPECT_EQ(f.evidence(0).log_index(), 0u);
  EXPECT_EQ(f.evidence(1).log_index(), 1u);
  EXPECT_EQ(f.judged_at_tree_size(), 2u);
  EXPECT_EQ(f.window_start().seconds(), T(2022, 4, 1));
  EXPECT_EQ(f.window_end().seconds(), T(2023, 4, 1));
}

TEST_F(DuplicateTest, SilentAcrossFinancialYearBoundary) {
  Ldhc("A81001", T(2023, 3, 31, 12), "c1", "p1");
  Ldhc("A81001", T(2023, 4, 1, 12), "c2", "p1");
  EXPECT_TRUE(RunRules(rs_, log_.entries()).empty());
}

TEST_F(DuplicateTest, SilentForOtherPatientOtherPracticeOrSameClaimId) {
  Ldhc("A81001", T(2022, 5, 10), "c1", "p1");
  Ldhc("A81001", T(2022, 6, 10), "c2", "p2");  // other patient
  Ldhc("B81001", T(2022, 6, 10), "c3", "p1");  // other practice
  Ldhc("A81001", T(2022, 7, 10), "c1", "p1");  // same claim id: a status update, not a new item
  Ldhc("A81001", T(2022, 7, 10), "c4", "p1", "SMOKE");  // service without an interval
  EXPECT_TRUE(RunRules(rs_, log_.entries()).empty());
}

TEST_F(DuplicateTest, PrefixIntervalsAndDayIntervals) {
  auto rs = OneRule("duplicate_item_of_service", "{intervals: {'FLU*': 300d}}");
  Ldhc("A81001", T(2022, 10, 1), "c1", "p1", "FLU65");
  Ldhc("A81001", T(2023, 7, 1), "c2", "p1", "FLU65");  // 273 days later: duplicate
  Ldhc("A81001", T(2022, 10, 1), "c3", "p9", "FLU65");
  Ldhc("A81001", T(2023, 8, 30), "c4", "p9", "FLU65");  // 333 days later: fine
  auto flags = RunRules(rs, log_.entries());
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].flag().claim_id(), "c2");
}

TEST_F(DuplicateTest, RejectedOriginalDoesNotCount) {
  Ldhc("A81001", T(2022, 5, 10), "c1", "p1").set_status(v1::CLAIM_STATUS_REJECTED);
  Ldhc("A81001", T(2022, 9, 10), "c2", "p1");
  EXPECT_TRUE(RunRules(rs_, log_.entries()).empty());
}

// ---- claim_exceeds_cohort ----
TEST(CohortTest, FiresAboveCohortSilentAtIt) {
  LogBuilder log;
  log.Practice("A81001", T(2022, 4, 1), 5000, 5200);
  auto& c1 =
      log.Claim("A81001", T(2022, 10, 5), "flu-1", v1::PAYMENT_STREAM_ENHANCED_SERVICE, 1000);
  c1.set_quantity(130);
  c1.set_eligible_cohort(100);
  auto& c2 =
      log.Claim("A81001", T(2022, 10, 5), "flu-2", v1::PAYMENT_STREAM_ENHANCED_SERVICE, 1000);
  c2.set_quantity(100);
  c2.set_eligible_cohort(100);
  auto flags = RunRules(OneRule("claim_exceeds_cohort"), log.entries());
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].flag().claim_id(), "flu-1");
  EXPECT_DOUBLE_EQ(flags[0].flag().observed(), 130);
  EXPECT_DOUBLE_EQ(flags[0].flag().upper_limit(), 100);
}

TEST(CohortTest, ListSizeOnlyForPatientStreams) {
  LogBuilder log;
  log.Practice("A81001", T(2022, 4, 1), 1000, 1200);
  log.Claim("A81001", T(2022, 10, 5), "ios", v1::PAYMENT_STREAM_ITEM_OF_SERVICE, 1)
      .set_quantity(1001);
  log.Claim("A81001", T(2022, 10, 5), "gsum", v1::PAYMENT_STREAM_GLOBAL_SUM, 1).set_quantity(1200);
  log.Claim("A81001", T(2022, 10, 5), "ok", v1::PAYMENT_STREAM_ITEM_OF_SERVICE, 1)
      .set_quantity(1000);
  auto flags = RunRules(OneRule("claim_exceeds_cohort"), log.entries());
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].flag().claim_id(), "ios");
  auto none = RunRules(OneRule("claim_exceeds_cohort", "{check_list_size: false}"), log.entries());
  EXPECT_TRUE(none.empty());
}

// ---- qof_points_over_maximum ----
TEST(QofTest, IndicatorOverMaximum) {
  LogBuilder log;
  auto& c = log.Claim("A81001", T(2023, 4, 20), "q1", v1::PAYMENT_STREAM_QOF_ACHIEVEMENT, 100);
  c.set_indicator_code("DM012");
  c.set_points_claimed(6.0);
  c.set_points_maximum(4.0);
  auto& ok = log.Claim("A81001", T(2023, 4, 20), "q2", v1::PAYMENT_STREAM_QOF_ACHIEVEMENT, 100);
  ok.set_indicator_code("DM014");
  ok.set_points_claimed(4.0);
  ok.set_points_maximum(4.0);
  auto flags = RunRules(OneRule("qof_points_over_maximum"), log.entries());
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].flag().claim_id(), "q1");
}

TEST(QofTest, AnnualTotalOverMaximumOncePerYearAndResubmissionReplaces) {
  LogBuilder log;
  auto add = [&](const std::string& id, const std::string& ind, double pts, int64_t t) {
    auto& c = log.Claim("A81001", t, id, v1::PAYMENT_STREAM_QOF_ACHIEVEMENT, 100);
    c.set_indicator_code(ind);
    c.set_points_claimed(pts);
    c.set_points_maximum(400);
    SetPeriod(c, T(2022, 4, 1), T(2023, 4, 1));
  };
  add("a", "X1", 300, T(2023, 4, 10));
  add("b", "X2", 300, T(2023, 4, 10));
  add("b", "X2", 335, T(2023, 4, 11));  // replaces 300: total 635, not over
  EXPECT_TRUE(RunRules(OneRule("qof_points_over_maximum"), log.entries()).empty());
  add("c", "X3", 1, T(2023, 4, 12));  // 636
  add("d", "X4", 1, T(2023, 4, 12));  // still over: same flag id, not repeated
  auto flags = RunRules(OneRule("qof_points_over_maximum"), log.entries());
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_DOUBLE_EQ(flags[0].flag().observed(), 636);
  EXPECT_EQ(flags[0].flag().window_start().seconds(), T(2022, 4, 1));
}

// ---- late_or_resubmitted_claim ----
TEST(LateTest, LateBeyondLimitOnly) {
  LogBuilder log;
  auto& late = log.Claim("A81001", T(2022, 5, 1) + 91 * 86400, "late",
                         v1::PAYMENT_STREAM_ENHANCED_SERVICE, 1);
  SetPeriod(late, T(2022, 4, 1), T(2022, 5, 1));
  auto& edge = log.Claim("A81001", T(2022, 5, 1) + 90 * 86400, "edge",
                         v1::PAYMENT_STREAM_ENHANCED_SERVICE, 1);
  SetPeriod(edge, T(2022, 4, 1), T(2022, 5, 1));
  auto flags = RunRules(OneRule("late_or_resubmitted_claim"), log.entries());
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].flag().claim_id(), "late");
}

TEST(LateTest, PaidClaimResubmittedWithHigherAmount) {
  LogBuilder log;
  log.Claim("A81001", T(2022, 6, 1), "c1", v1::PAYMENT_STREAM_ENHANCED_SERVICE, 10000)
      .set_status(v1::CLAIM_STATUS_PAID);
  log.Claim("A81001", T(2022, 7, 1), "c1", v1::PAYMENT_STREAM_ENHANCED_SERVICE, 12500);
  auto flags = RunRules(OneRule("late_or_resubmitted_claim"), log.entries());
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_DOUBLE_EQ(flags[0].flag().observed(), 12500);
  EXPECT_DOUBLE_EQ(flags[0].flag().expected(), 10000);
  EXPECT_NE(flags[0].flag().summary().find("after it had already been paid"), std::string::npos);
}

TEST(LateTest, LifecycleUpdatesAndDecreasesAreSilent) {
  LogBuilder log;
  log.Claim("A81001", T(2022, 6, 1), "c1", v1::PAYMENT_STREAM_ENHANCED_SERVICE, 10000);
  log.Claim("A81001", T(2022, 6, 5), "c1", v1::PAYMENT_STREAM_ENHANCED_SERVICE, 9000)
      .set_status(v1::CLAIM_STATUS_APPROVED);  // partial approval
  log.Claim("A81001", T(2022, 6, 9), "c1", v1::PAYMENT_STREAM_ENHANCED_SERVICE, 9000)
      .set_status(v1::CLAIM_STATUS_PAID);
  log.Claim("A81001", T(2022, 6, 9), "c1", v1::PAYMENT_STREAM_ENHANCED_SERVICE, 9000)
      .set_status(v1::CLAIM_STATUS_WITHDRAWN);  // recovery after payment
  log.Claim("B81001", T(2022, 6, 9), "c1", v1::PAYMENT_STREAM_ENHANCED_SERVICE,
            99000);  // other practice
  EXPECT_TRUE(RunRules(OneRule("late_or_resubmitted_claim"), log.entries()).empty());
}

TEST(LateTest, ConflictingResubmissionWithSameEventId) {
  LogBuilder log;
  log.Claim("A81001", T(2022, 6, 1), "c1", v1::PAYMENT_STREAM_ENHANCED_SERVICE, 100);
  log.Claim("A81001", T(2022, 6, 1), "c1", v1::PAYMENT_STREAM_ENHANCED_SERVICE, 200);
  auto entries = log.entries();
  entries[1].envelope.set_event_id(entries[0].envelope.event_id());
  entries[1].record.set_conflicting_resubmission(true);
  auto flags = RunRules(OneRule("late_or_resubmitted_claim"), entries);
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_NE(flags[0].flag().summary().find("reuses the original event id"), std::string::npos);
}

// ---- payment_per_patient_outlier ----
// 30 practices, monthly global-sum claims for a financial year; one at 2.5x.
// `contract(i)` gives practice i's contract type (unspecified when null); `scale(i)` multiplies
// its claims on top of `factor` for the outlier.
void PaymentYear(LogBuilder* log, int practices, int outlier, double factor, int64_t list = 5000,
                 const std::function<v1::ContractType(int)>& contract = nullptr,
                 const std::function<double(int)>& scale = nullptr) {
  for (int i = 0; i < practices; ++i) {
    char code[8];
    std::snprintf(code, sizeof(code), "A8%04d", i);
    auto* u =
        log->Add(v1::EVENT_KIND_PRACTICE_UPDATE, code, T(2022, 4, 1)).mutable_practice_update();
    u->set_list_size(list);
    u->set_weighted_list_size(list * 1.1);
    u->set_icb_code("QHM");
    if (contract) u->set_contract_type(contract(i));
  }
  for (int m = 0; m < 12; ++m) {
    int64_t ps = MonthStartSeconds(2022 * 12 + 3 + m), pe = MonthStartSeconds(2022 * 12 + 4 + m);
    for (int i = 0; i < practices; ++i) {
      char code[8];
      std::snprintf(code, sizeof(code), "A8%04d", i);
      double per_patient = 950 * (1 + 0.01 * (i % 7));  // pence a month per weighted patient
      if (i == outlier) per_patient *= factor;
      if (scale) per_patient *= scale(i);
      auto& c =
          log->Claim(code, pe + 3600 * (i + 1), std::string(code) + "-gs-" + std::to_string(m),
                     v1::PAYMENT_STREAM_GLOBAL_SUM, static_cast<int64_t>(per_patient * list * 1.1));
      SetPeriod(c, ps, pe);
    }
  }
  log->Tick(T(2023, 6, 1));
}

TEST(PaymentTest, FlagsPracticeAtTwoAndAHalfTimesPeersOnce) {
  LogBuilder log;
  PaymentYear(&log, 30, 3, 2.5);
  auto flags = RunRules(OneRule("payment_per_patient_outlier"), log.entries());
  // One flag per measure (total, GLOBAL_SUM) per financial year, for the outlier only.
  ASSERT_EQ(flags.size(), 2u);
  for (const auto& f : flags) {
    EXPECT_EQ(f.practice_code(), "A80003");
    // No contract type on the register: the "other" contract stratum.
    EXPECT_EQ(f.flag().baseline().group(), "national/non-dispensing/other");
    EXPECT_EQ(f.flag().baseline().peers(), 30u);
    EXPECT_GT(f.flag().observed(), f.flag().upper_limit());
  }
}

// Regression: APMS contracts are priced locally and run at up to ~3x the GMS figure per weighted
// patient in the real 2022-23 file; judged against GMS peers, atypical APMS practices were
// flagged every month (most of the payment false positives at full scale). Peers now share the
// contract type.
TEST(PaymentTest, ApmsPracticesAreJudgedAgainstApmsPeers) {
  auto contract = [](int i) { return i < 30 ? v1::CONTRACT_TYPE_GMS : v1::CONTRACT_TYPE_APMS; };
  auto scale = [](int i) { return i < 30 ? 1.0 : (i % 2 ? 2.2 : 1.6); };
  LogBuilder log;
  PaymentYear(&log, 55, -1, 1, 5000, contract, scale);
  EXPECT_TRUE(RunRules(OneRule("payment_per_patient_outlier"), log.entries()).empty());
  // The same year judged without the contract stratum flags the dearer APMS practices.
  auto flags = RunRules(OneRule("payment_per_patient_outlier", "{stratify_contract_type: false}"),
                        log.entries());
  ASSERT_FALSE(flags.empty());
  for (const auto& f : flags) EXPECT_EQ(f.flag().baseline().group(), "national/non-dispensing");
}

TEST(PaymentTest, SmallContractStratumFallsBackToDispensingStratum) {
  // 30 GMS practices and 5 APMS: the APMS stratum is under min_peers, so its practices are
  // judged against all 35 non-dispensing practices (and an APMS outlier is still caught).
  auto contract = [](int i) { return i < 30 ? v1::CONTRACT_TYPE_GMS : v1::CONTRACT_TYPE_APMS; };
  LogBuilder log;
  PaymentYear(&log, 35, 32, 2.5, 5000, contract);
  auto flags = RunRules(OneRule("payment_per_patient_outlier"), log.entries());
  ASSERT_EQ(flags.size(), 2u);
  for (const auto& f : flags) {
    EXPECT_EQ(f.practice_code(), "A80032");
    EXPECT_EQ(f.flag().baseline().group(), "national/non-dispensing");
    EXPECT_EQ(f.flag().baseline().peers(), 35u);
  }
}

TEST(PaymentTest, SilentOnNormalSpreadSmallPracticesAndTooFewPeers) {
  LogBuilder clean;
  PaymentYear(&clean, 30, -1, 1);
  EXPECT_TRUE(RunRules(OneRule("payment_per_patient_outlier"), clean.entries()).empty());
  LogBuilder small;  // under the minimum list size: not judged
  PaymentYear(&small, 30, 3, 2.5, 900);
  EXPECT_TRUE(RunRules(OneRule("payment_per_patient_outlier"), small.entries()).empty());
  LogBuilder few;
  PaymentYear(&few, 10, 3, 2.5);
  EXPECT_TRUE(RunRules(OneRule("payment_per_patient_outlier"), few.entries()).empty());
}

// ---- claimed_value_shift ----
void MonthlyClaims(LogBuilder* log, const std::string& code, int months, int shift_from,
                   double factor, v1::PaymentStream stream = v1::PAYMENT_STREAM_GLOBAL_SUM) {
  for (int m = 0; m < months; ++m) {
    int64_t ps = MonthStartSeconds(2022 * 12 + 3 + m), pe = MonthStartSeconds(2022 * 12 + 4 + m);
    double v = 4'000'000 * (1 + 0.02 * ((m * 7) % 3 - 1));
    if (m >= shift_from) v *= factor;
    auto& c = log->Claim(code, pe + 86400 * 20, code + "-" + std::to_string(m), stream,
                         static_cast<int64_t>(v));
    SetPeriod(c, ps, pe);
  }
}

TEST(ValueShiftTest, FiresOnEightyPercentRiseSilentWithoutOrOnExcludedStream) {
  LogBuilder log;
  MonthlyClaims(&log, "A81001", 12, 9, 1.8);
  MonthlyClaims(&log, "B81001", 12, 99, 1.0);
  MonthlyClaims(&log, "C81001", 12, 9, 1.8,
                v1::PAYMENT_STREAM_QOF_ACHIEVEMENT);  // not a monthly stream
  log.Tick(T(2023, 6, 1));
  auto flags = RunRules(OneRule("claimed_value_shift"), log.entries());
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].practice_code(), "A81001");
  EXPECT_EQ(flags[0].flag().baseline().group(), "own-history");
}

TEST(ValueShiftTest, SilentWithTooLittleHistory) {
  LogBuilder log;
  MonthlyClaims(&log, "A81001", 6, 4, 1.8);
  log.Tick(T(2023, 6, 1));
  EXPECT_TRUE(RunRules(OneRule("claimed_value_shift"), log.entries()).empty());
}

// Issue #16: a 10% rise sustained over the last three months (the graded scenario's smallest
// value shift) sits inside the 5% sd floor (z = 2 a month, the CUSUM reaches 4.5 < 5 after three
// months) unless each practice's own sd, from a few months, is shrunk towards the month-to-month
// variation of all practices (shrink_months), which is about 3% here.
TEST(ValueShiftTest, TenPercentRiseIsFlaggedWithShrunkNoise) {
  LogBuilder log;
  for (int i = 0; i < 24; ++i) {
    char code[8];
    std::snprintf(code, sizeof(code), "B%05d", 81001 + i);
    MonthlyClaims(&log, code, 12, 99, 1.0);
  }
  MonthlyClaims(&log, "A81001", 12, 9, 1.1);
  log.Tick(T(2023, 6, 1));
  EXPECT_TRUE(RunRules(OneRule("claimed_value_shift"), log.entries()).empty());
  auto flags = RunRules(
      OneRule("claimed_value_shift", "{shrink_months: 12, min_sd_fraction: 0.01}"), log.entries());
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].practice_code(), "A81001");
  EXPECT_NE(flags[0].flag().summary().find("month-to-month variation"), std::string::npos);
}

}  // namespace
}  // namespace probity::rules::testing
