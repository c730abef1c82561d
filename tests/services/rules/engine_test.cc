#include <gtest/gtest.h>

#include <filesystem>

#include "services/rules/backtest.h"
#include "services/rules/state_store.h"
#include "tests/services/rules/test_util.h"

namespace probity::rules::testing {
namespace {

RuleSet DefaultRules() {
  auto rs = LoadRuleSetFile(PROBITY_DEFAULT_RULES);
  EXPECT_TRUE(rs.ok()) << rs.status().ToString();
  return *rs;
}

// A mixed log exercising every rule: 30 practices over 15 months with claims, referrals,
// contacts, visits and register updates, and planted anomalies.
std::vector<LogBuilder::Entry> BuildMixedLog() {
  LogBuilder log;
  auto code = [](int i) {
    char c[8];
    std::snprintf(c, sizeof(c), "M8%04d", i);
    return std::string(c);
  };
  for (int i = 0; i < 30; ++i) {
    log.Practice(code(i), T(2022, 4, 1), 8000 + 100 * i, 9000 + 90 * i, i < 15 ? "QHM" : "QOP",
                 i % 10 == 0);
    log.Visit(code(i), i == 4 ? T(2020, 1, 5) : T(2021, 6, 5),
              v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW);
  }
  for (int d = 0; d < 450; ++d) {
    const int64_t day = T(2022, 4, 1) + d * kSecondsPerDay;
    const int64_t month = MonthOf(day);
    for (int i = 0; i < 30; ++i) {
      double f = 1 + 0.03 * (i % 5);
      log.Referrals(code(i), day + 9 * 3600, static_cast<int>((i == 11 && d > 200 ? 24 : 6) * f));
      log.Contact(code(i), day + 18 * 3600, v1::CONTACT_MODE_HOME_VISIT, false,
                  static_cast<uint32_t>(3 * f));
      log.Contact(code(i), day + 23 * 3600, v1::CONTACT_MODE_TELEPHONE, true,
                  static_cast<uint32_t>(5 * f));
      if (Civil c = CivilFromDays(DayOf(day)); c.day == 10) {
        double v = 900.0 * (9000 + 90 * i) * (i == 17 ? 2.5 : 1) * (i == 21 && d > 300 ? 1.8 : 1);
        auto& gs = log.Claim(code(i), day, code(i) + "-gs-" + std::to_string(month),
                             v1::PAYMENT_STREAM_GLOBAL_SUM, static_cast<int64_t>(v));
        SetPeriod(gs, MonthStartSeconds(month - 1), MonthStartSeconds(month));
      }
    }
    if (d == 40) {
      auto& a = log.Claim(code(2), day, "ld-1", v1::PAYMENT_STREAM_ITEM_OF_SERVICE, 14000);
      a.set_service_code("LDHC");
      a.set_patient_ref("pt-1");
      auto& b = log.Claim(code(2), day + 90 * kSecondsPerDay, "ld-2",
                          v1::PAYMENT_STREAM_ITEM_OF_SERVICE, 14000);
      b.set_service_code("LDHC");
      b.set_patient_ref("pt-1");
      auto& c = log.Claim(code(3), day, "flu-1", v1::PAYMENT_STREAM_ENHANCED_SERVICE, 1000);
      c.set_quantity(130);
      c.set_eligible_cohort(100);
      log.Practice(code(6), day, 9800, 10000);  // 8,600 -> 9,800: +14% in 40 days
      auto& late = log.Claim(code(9), day, "late-1", v1::PAYMENT_STREAM_ENHANCED_SERVICE, 5000);
      SetPeriod(late, day - 230 * kSecondsPerDay, day - 200 * kSecondsPerDay);
      auto& v = log.Visit(code(8), day, v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW,
                          v1::MONITORING_OUTCOME_REMEDIAL_NOTICE);
      v.mutable_remedy_due_at()->set_seconds(day + 30 * kSecondsPerDay);
    }
  }
  return log.entries();
}

const std::vector<LogBuilder::Entry>& MixedLog() {
  static const auto* log = new std::vector<LogBuilder::Entry>(BuildMixedLog());
  return *log;
}

std::vector<std::string> Serialize(const std::vector<v1::Envelope>& flags) {
  std::vector<std::string> out;
  for (const auto& f : flags) out.push_back(SerializeDeterministic(f));
  return out;
}

TEST(EngineTest, EveryKindFiresOnMixedLogAndFlagsAreWellFormed) {
  const auto& entries = MixedLog();
  auto flags = RunRules(DefaultRules(), entries);
  std::set<std::string> kinds;
  std::set<std::string> ids;
  for (const auto& f : flags) {
    kinds.insert(f.flag().rule_kind());
    EXPECT_EQ(f.kind(), v1::EVENT_KIND_FLAG);
    EXPECT_EQ(f.event_id(), f.flag().flag_id());
    EXPECT_EQ(f.source_system(), "probity-rules");
    EXPECT_EQ(f.occurred_at().seconds(), f.recorded_at().seconds());
    EXPECT_FALSE(f.flag().summary().empty());
    EXPECT_GT(f.flag().judged_at_tree_size(), 0u);
    EXPECT_LE(f.flag().judged_at_tree_size(), entries.size());
    EXPECT_TRUE(ids.insert(f.flag().flag_id()).second) << "duplicate flag id";
    for (const auto& e : f.flag().evidence()) {
      ASSERT_LT(e.log_index(), entries.size());
      EXPECT_EQ(entries[e.log_index()].envelope.event_id(), e.event_id());
    }
  }
  for (const char* k :
       {"duplicate_item_of_service", "claim_exceeds_cohort", "late_or_resubmitted_claim",
        "payment_per_patient_outlier", "referral_rate_outlier", "claimed_value_shift",
        "list_inflation", "monitoring_visit_overdue", "remedial_deadline_missed"}) {
    EXPECT_TRUE(kinds.count(k)) << k;
  }
}

TEST(EngineTest, ReplayIsByteIdentical) {
  const auto& entries = MixedLog();
  auto a = Serialize(RunRules(DefaultRules(), entries));
  auto b = Serialize(RunRules(DefaultRules(), entries));
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, b);
}

TEST(EngineTest, RestartMidStreamThroughStateStoreGivesSameFlags) {
  const auto& entries = MixedLog();
  const auto expected = Serialize(RunRules(DefaultRules(), entries));
  const std::string dir = ::testing::TempDir() + "/rules_state_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::vector<v1::Envelope> flags;
  {
    auto engine = Engine::Create(DefaultRules());
    ASSERT_TRUE(engine.ok());
    auto store = StateStore::Open(dir);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (size_t i = 0; i < entries.size() / 2; ++i) {
      ASSERT_TRUE((*engine)->Process({i, entries[i].record, entries[i].envelope}, &flags).ok());
    }
    ASSERT_TRUE((*store)->Save(**engine).ok());
    // Processing more after the save is lost by the "crash" and redone after the restart.
    for (size_t i = entries.size() / 2; i < entries.size() / 2 + 1000; ++i) {
      std::vector<v1::Envelope> lost;
      ASSERT_TRUE((*engine)->Process({i, entries[i].record, entries[i].envelope}, &lost).ok());
    }
  }
  auto engine = Engine::Create(DefaultRules());
  ASSERT_TRUE(engine.ok());
  auto store = StateStore::Open(dir);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Load(engine->get()).ok());
  ASSERT_EQ((*engine)->last_index(), entries.size() / 2 - 1);
  for (size_t i = (*engine)->last_index() + 1; i < entries.size(); ++i) {
    ASSERT_TRUE((*engine)->Process({i, entries[i].record, entries[i].envelope}, &flags).ok());
  }
  EXPECT_EQ(Serialize(flags), expected);
  std::filesystem::remove_all(dir);
}

TEST(EngineTest, SnapshotRoundTripIsStable) {
  const auto& entries = MixedLog();
  auto engine = Engine::Create(DefaultRules());
  ASSERT_TRUE(engine.ok());
  std::vector<v1::Envelope> flags;
  for (size_t i = 0; i < entries.size() / 4; ++i) {
    ASSERT_TRUE((*engine)->Process({i, entries[i].record, entries[i].envelope}, &flags).ok());
  }
  auto snap = (*engine)->Snapshot();
  auto copy = Engine::Create(DefaultRules());
  ASSERT_TRUE((*copy)->Restore(snap).ok());
  auto again = (*copy)->Snapshot();
  EXPECT_EQ(again.global, snap.global);
  EXPECT_EQ(again.practices, snap.practices);
  // Corrupt state is rejected, not crashed on; another rule set's state is refused.
  auto bad = snap;
  bad.practices[0].second.resize(bad.practices[0].second.size() / 2);
  auto fresh = Engine::Create(DefaultRules());
  EXPECT_EQ((*fresh)->Restore(bad).code(), Code::kDataLoss);
  auto other = Engine::Create(OneRule("list_inflation"));
  EXPECT_EQ((*other)->Restore(snap).code(), Code::kFailedPrecondition);
}

TEST(EngineTest, RejectsNonIncreasingIndex) {
  LogBuilder log;
  log.Tick(T(2022, 1, 1));
  auto engine = Engine::Create(OneRule("list_inflation"));
  std::vector<v1::Envelope> flags;
  const auto& e = log.entries()[0];
  ASSERT_TRUE((*engine)->Process({5, e.record, e.envelope}, &flags).ok());
  EXPECT_EQ((*engine)->Process({5, e.record, e.envelope}, &flags).code(),
            Code::kFailedPrecondition);
  EXPECT_EQ((*engine)->Process({4, e.record, e.envelope}, &flags).code(),
            Code::kFailedPrecondition);
}

TEST(EngineTest, FlagsSeenInLogAreNeverEmittedAgain) {
  const auto& entries = MixedLog();
  auto flags = RunRules(DefaultRules(), entries);
  ASSERT_FALSE(flags.empty());
  // Feed the first flag back into the log before the entry that raised it: the engine must
  // recognise it and not emit it again.
  const auto& first = flags[0];
  const size_t at = first.flag().judged_at_tree_size() - 1;
  std::vector<LogBuilder::Entry> with_flag(entries.begin(),
                                           entries.begin() + static_cast<std::ptrdiff_t>(at));
  LogBuilder::Entry fe;
  fe.envelope = first;
  fe.record.set_kind(v1::EVENT_KIND_FLAG);
  with_flag.push_back(fe);
  with_flag.insert(with_flag.end(), entries.begin() + static_cast<std::ptrdiff_t>(at),
                   entries.end());
  auto again = RunRules(DefaultRules(), with_flag);
  EXPECT_EQ(again.size(), flags.size() - 1);
  for (const auto& f : again) EXPECT_NE(f.flag().flag_id(), first.flag().flag_id());
}

TEST(BacktestTest, ReportsWouldFireAgainstRaised) {
  const auto& entries = MixedLog();
  auto active = DefaultRules();
  auto flags = RunRules(active, entries);
  ASSERT_FALSE(flags.empty());
  // The log as production would hold it: the active set's flags appended at the end.
  std::vector<LogBuilder::Entry> log = entries;
  for (const auto& f : flags) {
    LogBuilder::Entry e;
    e.envelope = f;
    e.record.set_kind(v1::EVENT_KIND_FLAG);
    log.push_back(e);
  }
  VectorEventSource source(log);
  // Same rules: would-fire equals raised for every (rule, practice).
  auto same = Backtest(active, source);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_EQ(same->flags.size(), flags.size());
  for (const auto& row : same->rows)
    EXPECT_EQ(row.would_fire, row.raised) << row.rule_id << " " << row.practice_code;
  // A candidate with a stricter list-inflation threshold fires less for that rule.
  std::string yaml = active.yaml_content;
  yaml.replace(yaml.find("threshold_pct: 10"), 17, "threshold_pct: 50");
  auto candidate = LoadRuleSet(yaml);
  ASSERT_TRUE(candidate.ok());
  auto report = Backtest(*candidate, source);
  ASSERT_TRUE(report.ok());
  bool saw = false;
  for (const auto& row : report->rows) {
    if (row.rule_id == "list-inflation") {
      EXPECT_EQ(row.would_fire, 0u);
      EXPECT_GT(row.raised, 0u);
      saw = true;
    }
  }
  EXPECT_TRUE(saw);
  // Rebuild: the flags are judged at entries that precede their FLAG entries, so a rebuilt engine
  // re-derives exactly the same bytes (which ingest drops as exact redeliveries).
  auto rebuilt = Rebuild(active, source);
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_EQ(Serialize(rebuilt->flags), Serialize(flags));
  EXPECT_EQ(rebuilt->engine->last_index(), log.size() - 1);
}

}  // namespace
}  // namespace probity::rules::testing
