// Replay evaluation rate of the default rule set over a synthetic log of ~1M events (mostly
// contacts and referrals, some claims and register updates). Run: rules_bench.
#include <benchmark/benchmark.h>

#include <cstdio>

#include "services/rules/backtest.h"
#include "services/rules/engine.h"
#include "services/rules/rule_set.h"
#include "services/rules/time_util.h"

namespace probity::rules {
namespace {

namespace v1 = probity::v1;

const std::vector<VectorEventSource::Entry>& SyntheticLog() {
  static const auto* log = [] {
    auto* out = new std::vector<VectorEventSource::Entry>();
    out->reserve(1'050'000);
    constexpr int kPractices = 1000;
    const int64_t start = DaysFromCivil(2022, 4, 1) * kSecondsPerDay;
    auto code = [](int i) {
      char c[8];
      std::snprintf(c, sizeof(c), "B%05d", i);
      return std::string(c);
    };
    uint64_t n = 0;
    auto add = [&](v1::EventKind kind, const std::string& practice, int64_t t) -> v1::Envelope& {
      VectorEventSource::Entry e;
      e.envelope.set_event_id("b-" + std::to_string(n++));
      e.envelope.set_kind(kind);
      e.envelope.set_practice_code(practice);
      e.envelope.mutable_occurred_at()->set_seconds(t);
      e.record.set_kind(kind);
      out->push_back(std::move(e));
      return out->back().envelope;
    };
    for (int i = 0; i < kPractices; ++i) {
      auto* u = add(v1::EVENT_KIND_PRACTICE_UPDATE, code(i), start).mutable_practice_update();
      u->set_list_size(8000 + i);
      u->set_weighted_list_size(9000 + i);
      u->set_icb_code(i % 2 ? "QHM" : "QOP");
      add(v1::EVENT_KIND_MONITORING_VISIT, code(i), start - 300 * kSecondsPerDay)
          .mutable_monitoring_visit()
          ->set_type(v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW);
    }
    // 222 days (~1M events): per practice per day ~2.5 referrals and 2 aggregated contact returns.
    for (int d = 0; d < 222; ++d) {
      const int64_t day = start + d * kSecondsPerDay;
      for (int i = 0; i < kPractices; ++i) {
        for (int r = 0; r < 2 + (d + i) % 2; ++r) {
          add(v1::EVENT_KIND_REFERRAL, code(i), day + 9 * 3600 + r)
              .mutable_referral()
              ->set_ubrn("1");
        }
        auto* c =
            add(v1::EVENT_KIND_PATIENT_CONTACT, code(i), day + 18 * 3600).mutable_patient_contact();
        c->set_mode(v1::CONTACT_MODE_HOME_VISIT);
        c->set_count(3);
        auto* o =
            add(v1::EVENT_KIND_PATIENT_CONTACT, code(i), day + 23 * 3600).mutable_patient_contact();
        o->set_mode(v1::CONTACT_MODE_TELEPHONE);
        o->set_out_of_hours(true);
        o->set_count(5);
        if (d % 30 == 10) {
          auto* cl = add(v1::EVENT_KIND_CLAIM, code(i), day + 12 * 3600).mutable_claim();
          cl->set_claim_id(code(i) + "-" + std::to_string(d));
          cl->set_stream(v1::PAYMENT_STREAM_GLOBAL_SUM);
          cl->set_amount_pence(9'000'000);
          cl->mutable_period_start()->set_seconds(day - 40 * kSecondsPerDay);
          cl->mutable_period_end()->set_seconds(day - 10 * kSecondsPerDay);
        }
      }
    }
    return out;
  }();
  return *log;
}

void BM_ReplayDefaultRules(benchmark::State& state) {
  auto rules = LoadRuleSetFile(PROBITY_DEFAULT_RULES);
  if (!rules.ok()) {
    state.SkipWithError(rules.status().ToString().c_str());
    return;
  }
  const auto& log = SyntheticLog();
  size_t flags_total = 0;
  for (auto _ : state) {
    auto engine = Engine::Create(*rules);
    std::vector<v1::Envelope> flags;
    for (size_t i = 0; i < log.size(); ++i) {
      Status s = (*engine)->Process({i, log[i].record, log[i].envelope}, &flags);
      if (!s.ok()) state.SkipWithError(s.ToString().c_str());
    }
    flags_total = flags.size();
    benchmark::DoNotOptimize(flags);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * log.size()));
  state.counters["events"] = static_cast<double>(log.size());
  state.counters["flags"] = static_cast<double>(flags_total);
}
BENCHMARK(BM_ReplayDefaultRules)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace probity::rules

BENCHMARK_MAIN();
