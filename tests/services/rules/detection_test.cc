// Regression tests for the detection misses of issue #16: an APMS practice at 2.5x its figures,
// a single-stream overclaim at 1.5x, a financial year whose March was never judged, and peer
// baselines logged and recomputable from the entry alone.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>

#include "services/rules/baseline.h"
#include "tests/services/rules/test_util.h"

namespace probity::rules {
namespace {

using testing::LogBuilder;
using testing::OneRule;
using testing::RunRules;
using testing::SetPeriod;
using testing::T;

std::string Code(int i) {
  char code[8];
  std::snprintf(code, sizeof(code), "B8%04d", i);
  return code;
}

// A practice's monthly claims: pence a month per weighted patient for each stream.
struct Streams {
  double global_sum = 950;
  double qof_aspiration = 120;
  double premises = 90;
};

// `n` practices of list 5000 (weighted 5500) claiming every month of 2022-23; `contract(i)` and
// `streams(i)` describe practice i. Claims for a month are submitted in the first hours of the
// next month; the log's event time then stops at `tick` (no tick when 0).
void Year(LogBuilder* log, int n, const std::function<v1::ContractType(int)>& contract,
          const std::function<Streams(int)>& streams, int64_t tick) {
  const double weighted = 5500;
  for (int i = 0; i < n; ++i) {
    auto* u =
        log->Add(v1::EVENT_KIND_PRACTICE_UPDATE, Code(i), T(2022, 4, 1)).mutable_practice_update();
    u->set_list_size(5000);
    u->set_weighted_list_size(weighted);
    u->set_icb_code("QHM");
    u->set_contract_type(contract(i));
  }
  for (int m = 0; m < 12; ++m) {
    const int64_t ps = MonthStartSeconds(2022 * 12 + 3 + m);
    const int64_t pe = MonthStartSeconds(2022 * 12 + 4 + m);
    for (int i = 0; i < n; ++i) {
      const Streams s = streams(i);
      const std::pair<v1::PaymentStream, double> parts[] = {
          {v1::PAYMENT_STREAM_GLOBAL_SUM, s.global_sum},
          {v1::PAYMENT_STREAM_QOF_ASPIRATION, s.qof_aspiration},
          {v1::PAYMENT_STREAM_PREMISES, s.premises}};
      int k = 0;
      for (const auto& [stream, per_patient] : parts) {
        auto& c = log->Claim(Code(i), pe + 60 * (i + 1) + k,
                             Code(i) + "-" + std::to_string(m) + "-" + std::to_string(k), stream,
                             static_cast<int64_t>(per_patient * weighted));
        SetPeriod(c, ps, pe);
        ++k;
      }
    }
  }
  if (tick != 0) log->Tick(tick);
}

// Evenly spread on the log scale: practice i of n at exp(half_width * (2 (i + 0.5) / n - 1)), so
// the robust sd of the stratum is 1.4826 * half_width / 2.
double Spread(int i, int n, double half_width) {
  return std::exp(half_width * (2.0 * (i + 0.5) / n - 1.0));
}

std::vector<v1::Envelope> FlagsOf(const std::vector<v1::Envelope>& out, const std::string& code) {
  std::vector<v1::Envelope> r;
  for (const auto& e : out) {
    if (e.kind() == v1::EVENT_KIND_FLAG && e.practice_code() == code) r.push_back(e);
  }
  return r;
}

// Regression (issue #16): APMS practices were judged against their own wide stratum, whose
// upper limit sat ~3.5x above its median (the real 2022-23 APMS spread: robust sd 0.18 on the
// log scale against 0.09 for all non-dispensing practices), so an APMS practice claiming 2.5x its
// real figures stayed inside. The stratum's scale is now shrunk towards the pooled scale.
TEST(DetectionTest, ApmsPracticeAtTwoAndAHalfTimesIsFlagged) {
  const int gms = 300, apms = 60, n = gms + apms;
  const int outlier = gms + apms / 2;  // at the APMS median
  auto contract = [&](int i) { return i < gms ? v1::CONTRACT_TYPE_GMS : v1::CONTRACT_TYPE_APMS; };
  auto streams = [&](int i) {
    const double f = i < gms ? Spread(i, gms, 0.12)
                             : 1.12 * Spread(i - gms, apms, 0.244) * (i == outlier ? 2.5 : 1);
    Streams s;
    s.global_sum *= f;
    s.qof_aspiration *= f;
    s.premises *= f;
    return s;
  };
  LogBuilder log;
  Year(&log, n, contract, streams, T(2023, 6, 1));
  auto flags = RunRules(OneRule("payment_per_patient_outlier"), log.entries());
  ASSERT_FALSE(FlagsOf(flags, Code(outlier)).empty());
  for (const auto& f : flags) {
    EXPECT_EQ(f.practice_code(), Code(outlier)) << f.flag().summary();
    EXPECT_EQ(f.flag().baseline().group(), "national/non-dispensing/APMS");
  }
  // Without the shrinkage (the behaviour before the fix) the same practice is missed.
  EXPECT_TRUE(
      FlagsOf(RunRules(OneRule("payment_per_patient_outlier", "{shrink_peers: 0}"), log.entries()),
              Code(outlier))
          .empty());
}

// Regression (issue #16): a practice claiming one formula stream at 1.5x (its total rises ~1.35x)
// was never flagged: the stream's limits were floored at 2x its peers' median, however tight the
// peers. Streams now have their own floor (stream_min_ratio, 1.4x).
TEST(DetectionTest, SingleStreamOverclaimAtOneAndAHalfIsFlagged) {
  const int n = 200, outlier = 100;
  auto contract = [](int) { return v1::CONTRACT_TYPE_GMS; };
  auto streams = [&](int i) {
    Streams s;
    s.global_sum *= Spread(i, n, 0.04) * (i == outlier ? 1.5 : 1);
    s.qof_aspiration *= Spread((i * 7) % n, n, 0.3);
    s.premises *= Spread((i * 13) % n, n, 0.6);
    return s;
  };
  LogBuilder log;
  Year(&log, n, contract, streams, T(2023, 6, 1));
  auto flags = RunRules(OneRule("payment_per_patient_outlier"), log.entries());
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].practice_code(), Code(outlier));
  EXPECT_EQ(flags[0].flag().baseline().group(), "national/non-dispensing/GMS");
  EXPECT_NE(flags[0].flag().summary().find("in GLOBAL_SUM"), std::string::npos);
  // With the old floor of 2x on streams the overclaim is missed.
  EXPECT_TRUE(
      RunRules(OneRule("payment_per_patient_outlier", "{stream_min_ratio: 2.0}"), log.entries())
          .empty());
}

void EndOfData(LogBuilder* log, int64_t at, int64_t complete_until) {
  auto* e = log->Add(v1::EVENT_KIND_END_OF_DATA, "", at).mutable_end_of_data();
  e->set_feed("test");
  e->mutable_data_complete_until()->set_seconds(complete_until);
  log->last_record().set_topic("probity.control.v1");
}

// Regression (issue #16): a month is closed 31 days after its end in event time, and a finite
// feed's last claim arrives in April, so March (and with `min_months: 12` the whole year) was
// never judged when a replay or backtest ended. An END_OF_DATA entry closes every window ending
// at or before its data_complete_until.
TEST(DetectionTest, FullFinancialYearIncludingMarchIsJudgedAfterEndOfData) {
  const int n = 40, outlier = 7;
  auto contract = [](int) { return v1::CONTRACT_TYPE_GMS; };
  auto streams = [&](int i) {
    Streams s;
    s.global_sum *= Spread(i, n, 0.04) * (i == outlier ? 2.5 : 1);
    return s;
  };
  const RuleSet rs = OneRule("payment_per_patient_outlier", "{min_months: 12}");
  LogBuilder log;
  Year(&log, n, contract, streams, T(2023, 4, 20));  // the feed ends in April
  EXPECT_TRUE(RunRules(rs, log.entries()).empty());
  EndOfData(&log, T(2023, 4, 20), T(2023, 4, 1));
  auto flags = RunRules(rs, log.entries());
  ASSERT_EQ(flags.size(), 2u);  // total and GLOBAL_SUM, for the year to 31 March
  for (const auto& f : flags) {
    EXPECT_EQ(f.practice_code(), Code(outlier));
    EXPECT_NE(f.flag().summary().find("to 2023-03-31"), std::string::npos) << f.flag().summary();
  }
  // The end of data is part of the saved state: a restored engine does not judge March again,
  // and an earlier END_OF_DATA does not move it back.
  auto engine = Engine::Create(rs);
  ASSERT_TRUE(engine.ok());
  std::vector<v1::Envelope> out;
  for (size_t i = 0; i < log.entries().size(); ++i) {
    const auto& e = log.entries()[i];
    ASSERT_TRUE((*engine)->Process(LogEvent{i, e.record, e.envelope}, &out).ok());
  }
  ASSERT_EQ(out.size(), 2u);
  auto restored = Engine::Create(rs);
  ASSERT_TRUE(restored.ok());
  ASSERT_TRUE((*restored)->Restore((*engine)->Snapshot()).ok());
  LogBuilder more;
  EndOfData(&more, T(2023, 4, 21), T(2023, 3, 1));
  more.Tick(T(2023, 4, 22));
  std::vector<v1::Envelope> again;
  uint64_t index = log.entries().size();
  for (const auto& e : more.entries()) {
    ASSERT_TRUE((*restored)->Process(LogEvent{index++, e.record, e.envelope}, &again).ok());
  }
  EXPECT_TRUE(again.empty());
}

// Peer baselines in the log: each flag from a peer comparison names a Baseline entry emitted
// (once) before it, whose limits are recomputed from its values alone.
TEST(DetectionTest, PaymentBaselineIsLoggedOnceAndRecomputesFromItsValues) {
  const int n = 40;
  auto contract = [](int) { return v1::CONTRACT_TYPE_GMS; };
  auto streams = [&](int i) {
    Streams s;
    s.global_sum *= Spread(i, n, 0.04) * (i == 3 || i == 30 ? 2.5 : 1);
    return s;
  };
  LogBuilder log;
  Year(&log, n, contract, streams, T(2023, 6, 1));
  EngineOptions opts;
  opts.log_baselines = true;
  auto engine = Engine::Create(OneRule("payment_per_patient_outlier"), opts);
  ASSERT_TRUE(engine.ok());
  std::vector<v1::Envelope> out;
  for (size_t i = 0; i < log.entries().size(); ++i) {
    const auto& e = log.entries()[i];
    ASSERT_TRUE((*engine)->Process(LogEvent{i, e.record, e.envelope}, &out).ok());
  }
  std::map<std::string, v1::Baseline> baselines;
  int flags = 0;
  for (const auto& e : out) {
    if (e.kind() == v1::EVENT_KIND_BASELINE) {
      EXPECT_EQ(e.event_id(), e.baseline().baseline_id());
      EXPECT_TRUE(e.practice_code().empty());
      EXPECT_TRUE(baselines.emplace(e.baseline().baseline_id(), e.baseline()).second)
          << "baseline emitted twice";
      EXPECT_TRUE(VerifyBaseline(e.baseline()).ok()) << VerifyBaseline(e.baseline()).ToString();
      EXPECT_EQ(e.baseline().values_size(), n);
      continue;
    }
    ++flags;
    const auto& f = e.flag();
    ASSERT_EQ(baselines.count(f.baseline_id()), 1u) << "flag before (or without) its baseline";
    const v1::Baseline& b = baselines.at(f.baseline_id());
    EXPECT_EQ(b.rule_id(), f.rule_id());
    EXPECT_EQ(b.rule_set_hash(), f.rule_set_hash());
    EXPECT_DOUBLE_EQ(b.upper_limit(), f.upper_limit());
    EXPECT_DOUBLE_EQ(b.median(), f.expected());
    EXPECT_GT(f.observed(), b.upper_limit());
  }
  // Two practices, two measures (total and GLOBAL_SUM): four flags, two baselines per month
  // judged, each emitted once.
  EXPECT_EQ(flags, 4);
  EXPECT_EQ(baselines.size(), 2u);
  // Tampering with one peer's value, or with the limits, is detected.
  v1::Baseline b = baselines.begin()->second;
  b.mutable_values(5)->set_value(b.values(5).value() * 3);
  EXPECT_FALSE(VerifyBaseline(b).ok());
  b = baselines.begin()->second;
  b.set_upper_limit(b.upper_limit() * 1.01);
  EXPECT_EQ(VerifyBaseline(b).code(), Code::kFailedPrecondition);
  b.set_method("no-such-method");
  EXPECT_EQ(VerifyBaseline(b).code(), Code::kInvalidArgument);
}

TEST(DetectionTest, FunnelBaselineIsLoggedAndRecomputes) {
  LogBuilder log;
  for (int i = 0; i < 30; ++i) log.Practice(Code(i), T(2022, 4, 1), 10000, 10000);
  for (int d = 0; d < 120; ++d) {
    for (int i = 0; i < 30; ++i)
      log.Referrals(Code(i), T(2022, 4, 1) + d * 86400 + i, i == 4 ? 8 : 2);
  }
  log.Tick(T(2022, 8, 5));
  EngineOptions opts;
  opts.log_baselines = true;
  auto engine = Engine::Create(OneRule("referral_rate_outlier"), opts);
  ASSERT_TRUE(engine.ok());
  std::vector<v1::Envelope> out;
  for (size_t i = 0; i < log.entries().size(); ++i) {
    const auto& e = log.entries()[i];
    ASSERT_TRUE((*engine)->Process(LogEvent{i, e.record, e.envelope}, &out).ok());
  }
  int baselines = 0, flags = 0;
  for (const auto& e : out) {
    if (e.kind() == v1::EVENT_KIND_BASELINE) {
      ++baselines;
      EXPECT_TRUE(VerifyBaseline(e.baseline()).ok()) << VerifyBaseline(e.baseline()).ToString();
      EXPECT_GT(e.baseline().rate(), 0);
    } else {
      ++flags;
      EXPECT_EQ(e.practice_code(), Code(4));
      EXPECT_FALSE(e.flag().baseline_id().empty());
    }
  }
  EXPECT_GE(flags, 1);
  EXPECT_EQ(baselines, flags);  // one comparison a month, one flag in each
}

}  // namespace
}  // namespace probity::rules
