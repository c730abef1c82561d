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
  if (abandoned_.erase(r.tag) != 0) return;  // nobody waits for it any more
  done_[r.tag] = r.status;
  delivered_.NotifyAll();
}

Status ConfirmingBusPublisher::Publish(std::string_view topic, std::string_view key,
                                       std::string_view value, int timeout_ms) {
  uint64_t tag;
  {
    MutexLock l(&mu_);
    tag = next_tag_++;
  }
  {
    MutexLock l(&produce_mu_);
    PROBITY_RETURN_IF_ERROR(producer_->Produce(topic, -1, key, value, {}, tag));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  MutexLock l(&mu_);
  while (true) {
    if (auto it = done_.find(tag); it != done_.end()) {
      Status st = it->second;
      done_.erase(it);
      return st;
    }
    if (!delivered_.WaitUntil(&mu_, deadline) && done_.count(tag) == 0) {
      abandoned_.insert(tag);
      return Unavailable("the bus did not confirm the record within " + std::to_string(timeout_ms) +
                         " ms");
    }
  }
}

}  // namespace probity::api
