#include "services/payments/target.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include "common/bus/topics.h"

namespace probity::payments {

struct PaymentsTarget::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : instructions(prometheus::BuildCounter()
                         .Name("probity_payments_instructions_total")
                         .Help("Payment instructions published by this process, by action")
                         .Register(r)),
        next_index(prometheus::BuildGauge()
                       .Name("probity_payments_next_index")
                       .Help("The next log index the payments target applies")
                       .Register(r)
                       .Add({})),
        money(prometheus::BuildGauge()
                  .Name("probity_payments_money_pence")
                  .Help("Money at stake by the claims' current state (held, released, withheld, "
                        "reversed), in pence, in total and by practice, ICB and rule")
                  .Register(r)) {}
  prometheus::Family<prometheus::Counter>& instructions;
  prometheus::Gauge& next_index;
  prometheus::Family<prometheus::Gauge>& money;
  std::map<std::string, uint64_t> counted;  // by action, already added to `instructions`
};

PaymentsTarget::PaymentsTarget(Options options, std::optional<HoldPolicy> policy,
                               follow::EntrySource* source, bus::BusFactory* bus,
                               const Clock* clock, prometheus::Registry* registry)
    : options_(std::move(options)),
      clock_(clock),
      bus_(bus),
      source_(source),
      follower_(std::make_unique<PaymentsFollower>(
          PaymentsFollower::Options{.state_dir = options_.state_dir}, std::move(policy))),
      metrics_(registry != nullptr ? std::make_unique<Metrics>(*registry) : nullptr) {}

PaymentsTarget::~PaymentsTarget() = default;

Status PaymentsTarget::Start() {
  follower_->set_publish_time(clock_->NowMicros());
  PROBITY_ASSIGN_OR_RETURN(publisher_, follow::BusPublisher::Create(bus_));
  runtime_ = std::make_unique<follow::Runtime>(
      follow::Runtime::Options{.data_dir = options_.state_dir,
                               .origin = options_.origin,
                               .log_keys = options_.log_keys,
                               .max_batch = options_.max_batch,
                               .save_every = options_.save_every_ms * 1000LL},
      follower_.get(), source_, options_.checkpoints, publisher_.get(), clock_);
  PROBITY_RETURN_IF_ERROR(runtime_->Start());
  (void)publisher_->WarmUp(std::string(bus::kPaymentInstructionsTopic), 10000);
  ExportMetrics();
  return Status::Ok();
}

StatusOr<size_t> PaymentsTarget::RunOnce() {
  StatusOr<size_t> n = runtime_->RunOnce();
  if (runtime_->stats().saves != exported_saves_) ExportMetrics();
  return n;
}

Status PaymentsTarget::Checkpoint() {
  PROBITY_RETURN_IF_ERROR(runtime_->Save());
  ExportMetrics();
  return Status::Ok();
}

Status PaymentsTarget::Run(const std::atomic<bool>* stop) {
  // The rounds run here rather than in Runtime::Run so that the metrics are refreshed on this
  // thread between rounds; retries are the runtime's (Restart from the last saved state).
  Micros backoff = 0;
  while (!stop->load()) {
    StatusOr<size_t> n = RunOnce();
    if (!n.ok()) {
      if (!follow::Runtime::Retriable(n.status())) return n.status();
      backoff = backoff == 0 ? 1'000'000 : std::min<Micros>(backoff * 2, 60'000'000);
      for (Micros waited = 0; waited < backoff && !stop->load(); waited += 50'000)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      PROBITY_RETURN_IF_ERROR(runtime_->Restart());
      continue;
    }
    if (*n > 0) backoff = 0;
    if (*n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Checkpoint();
}

uint64_t PaymentsTarget::next_index() const { return runtime_->stats().next_index; }

follow::RuntimeStats PaymentsTarget::runtime_stats() const { return runtime_->stats(); }

void PaymentsTarget::ExportMetrics() {
  exported_saves_ = runtime_->stats().saves;
  if (!metrics_) return;
  metrics_->next_index.Set(static_cast<double>(runtime_->stats().next_index));
  for (const auto& [action, n] : follower_->stats().by_action) {
    uint64_t& done = metrics_->counted[action];
    if (n > done)
      metrics_->instructions.Add({{"action", action}}).Increment(static_cast<double>(n - done));
    done = n;
  }
  const MoneyAtStake m = follower_->money();
  auto set = [&](const std::string& scope, const std::string& key, const Money& x) {
    const std::pair<const char*, int64_t> states[] = {{"held", x.held},
                                                      {"released", x.released},
                                                      {"withheld", x.withheld},
                                                      {"reversed", x.reversed}};
    for (const auto& [state, pence] : states) {
      metrics_->money.Add({{"state", state}, {"scope", scope}, {"key", key}})
          .Set(static_cast<double>(pence));
    }
  };
  set("total", "", m.total);
  for (const auto& [k, x] : m.by_practice) set("practice", k, x);
  for (const auto& [k, x] : m.by_icb) set("icb", k, x);
  for (const auto& [k, x] : m.by_rule) set("rule", k, x);
}

metrics::Health PaymentsTarget::health() const { return runtime_->health(); }

}  // namespace probity::payments
