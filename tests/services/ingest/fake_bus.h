// Fakes of the bus interfaces (common/bus/kafka.h) for unit tests of targets: messages to
// consume are queued by the test, produced messages are recorded, and a test decides which
// produced messages the "bus" refuses. Delivery reports are served on Poll/Flush, as librdkafka
// does.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <mutex>

#include "common/bus/kafka.h"

namespace probity::bus::testing {

class FakeConsumer final : public MessageConsumer {
 public:
  StatusOr<int> PartitionCount(const std::string& topic, int) override { return 1; }
  Status Assign(const std::vector<TopicPartitionOffset>& a) override {
    assignment = a;
    return Status::Ok();
  }
  Status Poll(size_t max, int, std::vector<Message>* out) override {
    std::lock_guard<std::mutex> l(mu);
    while (max-- > 0 && !queued.empty()) {
      out->push_back(std::move(queued.front()));
      queued.pop_front();
    }
    return Status::Ok();
  }
  int64_t HighWatermark(const std::string&, int32_t) const override { return -1; }
  uint64_t transient_errors() const override { return 0; }

  void Add(std::string topic, std::string value, std::string key = "", Headers headers = {}) {
    std::lock_guard<std::mutex> l(mu);
    Message m;
    m.topic = std::move(topic);
    m.offset = next_offset[m.topic]++;
    m.value = std::move(value);
    m.key = std::move(key);
    m.headers = std::move(headers);
    queued.push_back(std::move(m));
  }

  std::mutex mu;
  std::deque<Message> queued;
  std::map<std::string, int64_t> next_offset;
  std::vector<TopicPartitionOffset> assignment;
};

struct Produced {
  std::string topic;
  std::string key;
  std::string value;
  Headers headers;
};

class FakeProducer final : public MessageProducer {
 public:
  // Decides the delivery status of a message (Ok to accept).
  using Judge = std::function<Status(const Produced&)>;
  FakeProducer(Producer::DeliveryCallback cb, Judge* judge, std::vector<Produced>* delivered)
      : cb_(std::move(cb)), judge_(judge), delivered_(delivered) {}
  Status Produce(std::string_view topic, int32_t, std::string_view key, std::string_view value,
                 const Headers& headers, uint64_t tag) override {
    pending_.push_back({{std::string(topic), std::string(key), std::string(value), headers}, tag});
    return Status::Ok();
  }
  void Poll(int) override {
    while (!pending_.empty()) {
      auto [m, tag] = std::move(pending_.front());
      pending_.pop_front();
      DeliveryReport r;
      r.topic = m.topic;
      r.tag = tag;
      r.status = *judge_ ? (*judge_)(m) : Status::Ok();
      if (r.status.ok()) delivered_->push_back(m);
      if (cb_) cb_(r);
    }
  }
  Status Flush(int) override {
    Poll(0);
    return Status::Ok();
  }
  int OutQueueLength() const override { return static_cast<int>(pending_.size()); }
  std::optional<std::string> FatalError() const override { return std::nullopt; }

 private:
  Producer::DeliveryCallback cb_;
  Judge* judge_;
  std::vector<Produced>* delivered_;
  std::deque<std::pair<Produced, uint64_t>> pending_;
};

class FakeTopicConfigReader final : public TopicConfigReader {
 public:
  explicit FakeTopicConfigReader(const std::map<std::string, int64_t>* limits) : limits_(limits) {}
  StatusOr<int64_t> MaxMessageBytes(const std::string& topic, int) override {
    if (limits_ == nullptr) return Unimplemented("fake bus: no DescribeConfigs");
    auto it = limits_->find(topic);
    if (it == limits_->end()) return NotFound("topic " + topic);
    return it->second;
  }

 private:
  const std::map<std::string, int64_t>* limits_;
};

// The factory: one consumer (the test keeps a pointer to queue messages), producers that share
// one judge and one record of delivered messages.
class FakeBus final : public BusFactory {
 public:
  StatusOr<std::unique_ptr<MessageConsumer>> NewConsumer() override {
    auto c = std::make_unique<FakeConsumer>();
    consumer = c.get();
    for (auto& m : early) consumer->Add(m.topic, m.value, m.key, m.headers);
    early.clear();
    return std::unique_ptr<MessageConsumer>(std::move(c));
  }
  StatusOr<std::unique_ptr<MessageProducer>> NewProducer(Producer::DeliveryCallback cb) override {
    return std::unique_ptr<MessageProducer>(new FakeProducer(std::move(cb), &judge, &delivered));
  }
  StatusOr<std::unique_ptr<TopicConfigReader>> NewTopicConfigReader() override {
    return std::unique_ptr<TopicConfigReader>(
        new FakeTopicConfigReader(report_limits ? &limits : nullptr));
  }
  // Messages to consume; before the consumer exists they wait in `early`.
  void Add(std::string topic, std::string value, std::string key = "", Headers headers = {}) {
    if (consumer != nullptr) {
      consumer->Add(std::move(topic), std::move(value), std::move(key), std::move(headers));
    } else {
      early.push_back({std::move(topic), std::move(key), std::move(value), std::move(headers)});
    }
  }
  std::vector<Produced> Delivered(std::string_view topic) const {
    std::vector<Produced> out;
    for (const auto& p : delivered)
      if (p.topic == topic) out.push_back(p);
    return out;
  }

  FakeConsumer* consumer = nullptr;
  std::vector<Produced> early;
  FakeProducer::Judge judge;
  std::vector<Produced> delivered;
  bool report_limits = false;
  std::map<std::string, int64_t> limits;
};

}  // namespace probity::bus::testing
