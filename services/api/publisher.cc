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
  p->thread_ = std::thread([self] { self->Run(); });
  return p;
}

ConfirmingBusPublisher::~ConfirmingBusPublisher() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  work_.NotifyAll();
  if (thread_.joinable()) thread_.join();
  (void)producer_->Flush(2000);
}

void ConfirmingBusPublisher::Run() {
  std::vector<Pending> batch;
  for (;;) {
    {
      MutexLock l(&mu_);
      // Idle (nothing to produce, no report awaited): sleep until a Publish() queues one.
      while (!stop_ && pending_.empty() && waiting_.empty()) work_.Wait(&mu_);
      if (stop_) return;
      batch.swap(pending_);
    }
    for (const Pending& m : batch) {
      Status st = producer_->Produce(m.topic, -1, m.key, m.value, {}, m.tag);
      if (!st.ok()) {
        MutexLock l(&mu_);
        Finish(m.tag, st);
      }
    }
    batch.clear();
    // Serves the reports that have come (OnDelivery runs here), waiting up to 1 ms for one. A
    // producer whose poll does not block is not spun on: each round takes at least 200 µs
    // unless a Publish() queues a message.
    const auto round = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
    producer_->Poll(1);
    MutexLock l(&mu_);
    while (!stop_ && pending_.empty() && work_.WaitUntil(&mu_, round)) {
    }
  }
}

void ConfirmingBusPublisher::Finish(uint64_t tag, const Status& status) {
  auto it = waiting_.find(tag);
  if (it == waiting_.end()) return;  // nobody waits for it any more
  it->second->status = status;
  it->second->delivered.NotifyOne();
  waiting_.erase(it);
}

void ConfirmingBusPublisher::OnDelivery(const bus::DeliveryReport& r) {
  MutexLock l(&mu_);
  Finish(r.tag, r.status);
}

Status ConfirmingBusPublisher::Publish(std::string_view topic, std::string_view key,
                                       std::string_view value, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  Waiter w;
  MutexLock l(&mu_);
  if (stop_) return Unavailable("the publisher is stopping");
  const uint64_t tag = next_tag_++;
  waiting_.emplace(tag, &w);
  pending_.push_back({tag, std::string(topic), std::string(key), std::string(value)});
  work_.NotifyOne();
  while (!w.status) {
    if (!w.delivered.WaitUntil(&mu_, deadline) && !w.status) {
      waiting_.erase(tag);
      // Not produced yet: it never will be. (Produced: it may still arrive; what it carries is
      // idempotent.)
      std::erase_if(pending_, [tag](const Pending& m) { return m.tag == tag; });
      return Unavailable("the bus did not confirm the record within " + std::to_string(timeout_ms) +
                         " ms");
    }
  }
  return *w.status;
}

}  // namespace probity::api
