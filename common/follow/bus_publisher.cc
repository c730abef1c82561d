#include "common/follow/bus_publisher.h"

namespace probity::follow {
namespace {

constexpr int kGenerationShift = 48;

}  // namespace

StatusOr<std::unique_ptr<BusPublisher>> BusPublisher::Create(bus::BusFactory* bus) {
  std::unique_ptr<BusPublisher> p(new BusPublisher());
  p->bus_ = bus;
  BusPublisher* raw = p.get();
  PROBITY_ASSIGN_OR_RETURN(
      p->owned_, bus->NewProducer([raw](const bus::DeliveryReport& r) { raw->OnDelivery(r); }));
  p->producer_ = p->owned_.get();
  return p;
}

Status BusPublisher::Publish(std::string_view topic, std::string_view key, std::string_view value,
                             const bus::Headers& headers) {
  uint64_t tag;
  {
    MutexLock l(&mu_);
    tag = (generation_ << kGenerationShift) | (sent_ + 1);
  }
  PROBITY_RETURN_IF_ERROR(producer_->Produce(topic, -1, key, value, headers, tag));
  MutexLock l(&mu_);
  ++sent_;
  ++published_total_;
  return Status::Ok();
}

void BusPublisher::OnDelivery(const bus::DeliveryReport& report) {
  MutexLock l(&mu_);
  if ((report.tag >> kGenerationShift) != generation_) return;  // before the last Reset()
  if (report.status.ok()) {
    ++delivered_;
    ++confirmed_total_;
  } else if (failure_.ok()) {
    failure_ = Status(report.status.code(), "the bus refused a message to " + report.topic + ": " +
                                                report.status.message());
  }
}

Status BusPublisher::Confirm(int timeout_ms) {
  {
    MutexLock l(&mu_);
    if (!failure_.ok()) return failure_;
    if (delivered_ == sent_) return Status::Ok();
  }
  Status flushed = producer_->Flush(timeout_ms);
  MutexLock l(&mu_);
  if (!failure_.ok()) return failure_;
  if (!flushed.ok()) return Unavailable("outputs not confirmed by the bus: " + flushed.message());
  if (auto fatal = producer_->FatalError()) return Unavailable("producer failed: " + *fatal);
  if (delivered_ != sent_) {
    return Unavailable(std::to_string(sent_ - delivered_) + " of " + std::to_string(sent_) +
                       " outputs not confirmed by the bus");
  }
  return Status::Ok();
}

Status BusPublisher::Reset() {
  (void)producer_->Flush(1000);  // late reports of the old generation are ignored
  {
    MutexLock l(&mu_);
    ++generation_;
    sent_ = delivered_ = 0;
    failure_ = Status::Ok();
  }
  if (bus_ != nullptr && producer_->FatalError()) {
    BusPublisher* raw = this;
    PROBITY_ASSIGN_OR_RETURN(
        owned_, bus_->NewProducer([raw](const bus::DeliveryReport& r) { raw->OnDelivery(r); }));
    producer_ = owned_.get();
  }
  return Status::Ok();
}

Status BusPublisher::WarmUp(const std::string& topic, int timeout_ms) {
  return producer_->WarmUp(topic, timeout_ms);
}

uint64_t BusPublisher::published() const {
  MutexLock l(&mu_);
  return published_total_;
}

uint64_t BusPublisher::confirmed() const {
  MutexLock l(&mu_);
  return confirmed_total_;
}

}  // namespace probity::follow
