#include "services/api/publisher.h"

#include <chrono>

namespace probity::api {

StatusOr<std::unique_ptr<ConfirmingBusPublisher>> ConfirmingBusPublisher::Create(
    bus::BusFactory* bus) {
  std::unique_ptr<ConfirmingBusPublisher> p(new ConfirmingBusPublisher());
  ConfirmingBusPublisher* self = p.get();
  PROBITY_ASSIGN_OR_RETURN(p->producer_, bus->NewProducer([self](const bus::DeliveryReport& r) {
    self->OnDelivery(r);
  }));
  p->poller_ = std::thread([self] {
    while (!self->stop_.load()) {
      {
        MutexLock l(&self->produce_mu_);
        self->producer_->Poll(0);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  return p;
}

ConfirmingBusPublisher::~ConfirmingBusPublisher() {
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  MutexLock l(&produce_mu_);
  (void)producer_->Flush(2000);
}

void ConfirmingBusPublisher::OnDelivery(const bus::DeliveryReport& r) {
  MutexLock l(&mu_);
  auto it = waiting_.find(r.tag);
  if (it == waiting_.end()) return;  // nobody waits for it any more
  it->second->status = r.status;
  it->second->delivered.NotifyOne();
  waiting_.erase(it);
}

Status ConfirmingBusPublisher::Publish(std::string_view topic, std::string_view key,
                                       std::string_view value, int timeout_ms) {
  Waiter w;
  uint64_t tag;
  {
    MutexLock l(&mu_);
    tag = next_tag_++;
    waiting_.emplace(tag, &w);  // before producing: the report may come at once
  }
  Status produced;
  {
    MutexLock l(&produce_mu_);
    produced = producer_->Produce(topic, -1, key, value, {}, tag);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  MutexLock l(&mu_);
  if (!produced.ok()) {
    waiting_.erase(tag);
    return produced;
  }
  while (!w.status) {
    if (!w.delivered.WaitUntil(&mu_, deadline) && !w.status) {
      waiting_.erase(tag);
      return Unavailable("the bus did not confirm the record within " + std::to_string(timeout_ms) +
                         " ms");
    }
  }
  return *w.status;
}

}  // namespace probity::api
