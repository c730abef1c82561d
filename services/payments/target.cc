#include "services/payments/target.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "common/bus/topics.h"
#include "common/codec/codec.h"

namespace probity::payments {

class PaymentsTarget::BusPublisher final : public follow::Publisher {
 public:
  explicit BusPublisher(bus::Producer* p) : p_(p) {}
  Status Publish(std::string_view topic, std::string_view key, std::string_view value,
                 const bus::Headers& headers) override {
    return p_->Produce(topic, -1, key, value, headers);
  }

 private:
  bus::Producer* p_;
};

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
                               follow::EntrySource* source, bus::Producer* producer,
                               const Clock* clock, prometheus::Registry* registry)
    : options_(std::move(options)),
      policy_(std::move(policy)),
      source_(source),
      producer_(producer),
      clock_(clock),
      publisher_(std::make_unique<BusPublisher>(producer)),
      metrics_(registry != nullptr ? std::make_unique<Metrics>(*registry) : nullptr),
      watch_(std::make_unique<metrics::ProgressWatch>("payments", clock)) {}

PaymentsTarget::~PaymentsTarget() = default;

Status PaymentsTarget::Start() {
  follower_ = std::make_unique<PaymentsFollower>(
      PaymentsFollower::Options{.state_dir = options_.state_dir}, policy_);
  follower_->set_publish_time(clock_->NowMicros());
  PROBITY_ASSIGN_OR_RETURN(uint64_t next, follower_->Restore());
  next_ = next;
  PROBITY_RETURN_IF_ERROR(follower_->PublishAtStart(publisher_.get()));
  PROBITY_RETURN_IF_ERROR(producer_->Flush(30000));
  PROBITY_RETURN_IF_ERROR(producer_->TakeDeliveryFailure());
  (void)producer_->WarmUp(std::string(bus::kPaymentInstructionsTopic), 10000);
  last_save_ = clock_->NowMicros();
  ExportMoney();
  return Status::Ok();
}

StatusOr<size_t> PaymentsTarget::RunOnce() {
  std::vector<logstore::Entry> entries;
  PROBITY_RETURN_IF_ERROR(source_->Read(next_, options_.max_batch, &entries));
  v1::LogRecord record;
  for (const logstore::Entry& e : entries) {
    if (!record.ParseFromString(e.record_bytes))
      return DataLoss("entry " + std::to_string(e.index) + " does not parse as a LogRecord");
    PROBITY_ASSIGN_OR_RETURN(v1::Envelope env, follow::DecodeRecordEnvelope(record));
    follow::Event ev{.index = e.index,
                     .leaf = e.record_bytes,
                     .record = &record,
                     .envelope = &env,
                     .tree_size = e.index + 1};
    PROBITY_RETURN_IF_ERROR(follower_->Apply(ev, publisher_.get()));
    next_ = e.index + 1;
  }
  producer_->Poll(0);
  if (clock_->NowMicros() - last_save_ >= options_.save_every_ms * 1000LL) {
    PROBITY_RETURN_IF_ERROR(Checkpoint());
  }
  return entries.size();
}

Status PaymentsTarget::Checkpoint() {
  // Instructions first: a state saying "applied up to i" MUST NOT be saved before every
  // instruction caused up to i is confirmed on the bus.
  PROBITY_RETURN_IF_ERROR(producer_->Flush(30000));
  PROBITY_RETURN_IF_ERROR(producer_->TakeDeliveryFailure());
  PROBITY_RETURN_IF_ERROR(follower_->Save(next_));
  last_save_ = clock_->NowMicros();
  ExportMoney();
  return Status::Ok();
}

void PaymentsTarget::ExportMoney() {
  if (!metrics_) return;
  metrics_->next_index.Set(static_cast<double>(next_.load()));
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

Status PaymentsTarget::Restart() {
  (void)producer_->Flush(30000);
  (void)producer_->TakeDeliveryFailure();
  follower_ = std::make_unique<PaymentsFollower>(
      PaymentsFollower::Options{.state_dir = options_.state_dir}, policy_);
  PROBITY_ASSIGN_OR_RETURN(uint64_t next, follower_->Restore());
  next_ = next;
  source_->Reset();
  return Status::Ok();
}

Status PaymentsTarget::Run(const std::atomic<bool>* stop) {
  Micros backoff = 0;
  while (!stop->load()) {
    StatusOr<size_t> n = RunOnce();
    if (!n.ok()) {
      const Code c = n.status().code();
      if (c != Code::kUnavailable && c != Code::kOutOfRange && c != Code::kFailedPrecondition)
        return n.status();
      backoff = backoff == 0 ? 1'000'000 : std::min<Micros>(backoff * 2, 60'000'000);
      ++retries_;
      watch_->SetBlocker(n.status().ToString() + " (retrying)");
      std::fprintf(stderr, "probity payments: %s; retrying from the last saved state\n",
                   n.status().ToString().c_str());
      for (Micros waited = 0; waited < backoff && !stop->load(); waited += 50'000) {
        watch_->Observe({next_, retries_}, true);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      PROBITY_RETURN_IF_ERROR(Restart());
      continue;
    }
    if (*n > 0) backoff = 0;
    watch_->SetBlocker("");
    watch_->Observe({next_}, *n > 0);
    if (*n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Checkpoint();
}

metrics::Health PaymentsTarget::health() const {
  v1::HealthReport r;
  r.set_next_index(static_cast<double>(next_.load()));
  watch_->Judge(&r);
  return {r.ready(), codec::ToJson(r, codec::JsonOptions{.print_defaults = true}), r.live()};
}

}  // namespace probity::payments
