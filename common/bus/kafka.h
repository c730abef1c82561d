// Thin RAII wrappers over librdkafka's C API: the only place Probity talks Kafka. Works against
// the embedded bus and any real Kafka cluster alike.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status/status.h"
#include "common/sync/mutex.h"

namespace probity::bus {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Message {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  Headers headers;
  int64_t timestamp_ms = 0;
  // Value of the first header named `name`, if any.
  std::optional<std::string_view> Header(std::string_view name) const;
};

struct ClientConfig {
  std::string bootstrap_servers;
  // Any further librdkafka properties (e.g. security.protocol, sasl.*), passed through as is.
  std::map<std::string, std::string> properties;
};

struct DeliveryReport {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1;
  uint64_t tag = 0;  // what the caller passed to Produce
  // Ok, or why the bus refused the message: kFailedPrecondition when sending it again unchanged
  // cannot succeed (too large, not authorized, no such topic), kUnavailable otherwise. Produce()
  // returns errors the same way.
  Status status;
};

// What a target needs of a producer. Producer (below) is the librdkafka one; unit tests pass
// fakes. Delivery reports go to the callback given when the producer was made.
class MessageProducer {
 public:
  virtual ~MessageProducer() = default;
  // Enqueues one message; partition -1 lets the partitioner choose by key. `tag` comes back in
  // the message's delivery report. An error here means the message was not enqueued.
  virtual Status Produce(std::string_view topic, int32_t partition, std::string_view key,
                         std::string_view value, const Headers& headers = {}, uint64_t tag = 0) = 0;
  // Serves delivery reports without blocking longer than timeout_ms.
  virtual void Poll(int timeout_ms) = 0;
  // Waits until everything enqueued is delivered or failed. Unavailable on timeout.
  virtual Status Flush(int timeout_ms) = 0;
  virtual int OutQueueLength() const = 0;
  // Set once the producer can send nothing more (librdkafka's fatal error of an idempotent
  // producer): the owner must make a new one.
  virtual std::optional<std::string> FatalError() const = 0;
  // Asks for the topic's metadata now, so that the first message to it does not wait for the
  // client's periodic leader lookup (up to a second after start-up). An error only means that
  // first message may wait; fakes have nothing to warm.
  virtual Status WarmUp(const std::string& topic, int timeout_ms) { return Status::Ok(); }
};

class Producer final : public MessageProducer {
 public:
  using DeliveryCallback = std::function<void(const DeliveryReport&)>;
  // Idempotent producer (enable.idempotence=true, acks=all): retries never duplicate or reorder
  // within a partition. `on_delivery` runs on the thread that calls Poll or Flush.
  static StatusOr<std::unique_ptr<Producer>> Create(const ClientConfig& config,
                                                    DeliveryCallback on_delivery = nullptr);
  ~Producer();

  // Enqueues one message; partition -1 lets the partitioner choose by key. When the local queue is
  // full it serves delivery reports and waits, so it applies backpressure rather than failing.
  // Message size is bounded by limits.h's kProducerMaxMessageBytes (a larger one is refused here,
  // with librdkafka's "Message size too large").
  Status Produce(std::string_view topic, int32_t partition, std::string_view key,
                 std::string_view value, const Headers& headers = {}, uint64_t tag = 0) override;
  // Serves delivery reports without blocking longer than timeout_ms.
  void Poll(int timeout_ms) override;
  // Waits until everything enqueued is delivered or failed. Unavailable on timeout.
  Status Flush(int timeout_ms) override;
  int OutQueueLength() const override;
  std::optional<std::string> FatalError() const override;
  // The first delivery failure since the last call (Ok if none), then forgets it. Failures are
  // recorded whether or not a delivery callback was given, so a caller that only flushes can
  // still tell that a message did not arrive.
  Status TakeDeliveryFailure() EXCLUDES(failure_mu_);
  Status WarmUp(const std::string& topic, int timeout_ms) override;
  rd_kafka_t* handle() { return rk_; }

 private:
  Producer() = default;
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);
  rd_kafka_t* rk_ = nullptr;
  DeliveryCallback on_delivery_;
  Mutex failure_mu_;
  Status first_failure_ GUARDED_BY(failure_mu_);
};

struct TopicPartitionOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;  // next offset to read; RD_KAFKA_OFFSET_BEGINNING (-2) reads from the start
};

// What a target needs of a consumer without a group. Consumer (below) is the librdkafka one.
class MessageConsumer {
 public:
  virtual ~MessageConsumer() = default;
  virtual StatusOr<int> PartitionCount(const std::string& topic, int timeout_ms) = 0;
  virtual Status Assign(const std::vector<TopicPartitionOffset>& assignment) = 0;
  // Appends up to max messages to *out, waiting at most timeout_ms for the first. Errors that
  // librdkafka recovers from by itself (broker down, transport) are not returned; they are
  // counted in transient_errors(). An offset the bus no longer holds is kDataLoss.
  virtual Status Poll(size_t max, int timeout_ms, std::vector<Message>* out) = 0;
  // High watermark (next offset to be written) as last seen by the client; -1 if unknown.
  virtual int64_t HighWatermark(const std::string& topic, int32_t partition) const = 0;
  virtual uint64_t transient_errors() const = 0;
};

// A consumer without a group: partitions are assigned by the caller, from offsets the caller
// keeps (ingest keeps them in the log store, in the same write as the entries).
class Consumer final : public MessageConsumer {
 public:
  static StatusOr<std::unique_ptr<Consumer>> Create(const ClientConfig& config);
  ~Consumer();

  StatusOr<int> PartitionCount(const std::string& topic, int timeout_ms) override;
  Status Assign(const std::vector<TopicPartitionOffset>& assignment) override;
  Status Poll(size_t max, int timeout_ms, std::vector<Message>* out) override;
  int64_t HighWatermark(const std::string& topic, int32_t partition) const override;
  // Lowest offset still on the bus (asks the broker; waits at most timeout_ms); -1 if unknown.
  int64_t LowWatermark(const std::string& topic, int32_t partition, int timeout_ms) const;
  uint64_t transient_errors() const override { return transient_errors_; }

 private:
  Consumer() = default;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_queue_t* queue_ = nullptr;
  uint64_t transient_errors_ = 0;
  static constexpr int kAssignMetadataTimeoutMs = 2000;
  std::set<std::string> known_topics_;  // topics whose metadata (leaders) Assign has asked for
};

// Reads topic configuration (Kafka's DescribeConfigs admin call).
class TopicConfigReader {
 public:
  virtual ~TopicConfigReader() = default;
  // The topic's max.message.bytes. kUnimplemented when the bus does not answer the call (the
  // embedded bus does not implement it); kNotFound for a topic that does not exist.
  virtual StatusOr<int64_t> MaxMessageBytes(const std::string& topic, int timeout_ms) = 0;
};

// Checks that every topic in `topics` allows messages of at least `required` bytes. Returns
// kFailedPrecondition naming the first topic that allows less, with the command that fixes it.
// A bus that cannot report topic configs passes (*checked is then false; true when every topic
// was checked).
Status CheckTopicLimits(TopicConfigReader* reader, const std::vector<std::string>& topics,
                        int64_t required, bool* checked);

// Makes the bus clients a target uses: the one place a target gets them from, so that tests can
// build a whole target on fakes (constructor injection).
class BusFactory {
 public:
  virtual ~BusFactory() = default;
  virtual StatusOr<std::unique_ptr<MessageConsumer>> NewConsumer() = 0;
  virtual StatusOr<std::unique_ptr<MessageProducer>> NewProducer(
      Producer::DeliveryCallback on_delivery) = 0;
  virtual StatusOr<std::unique_ptr<TopicConfigReader>> NewTopicConfigReader() = 0;
};

// The librdkafka BusFactory for a cluster (the embedded bus or a real one).
class KafkaBus final : public BusFactory {
 public:
  explicit KafkaBus(ClientConfig config) : config_(std::move(config)) {}
  StatusOr<std::unique_ptr<MessageConsumer>> NewConsumer() override;
  StatusOr<std::unique_ptr<MessageProducer>> NewProducer(
      Producer::DeliveryCallback on_delivery) override;
  StatusOr<std::unique_ptr<TopicConfigReader>> NewTopicConfigReader() override;
  const ClientConfig& config() const { return config_; }

 private:
  ClientConfig config_;
};

// Builds an rd_kafka_conf_t from config plus extra properties; the caller owns the result.
StatusOr<rd_kafka_conf_t*> MakeConf(const ClientConfig& config,
                                    const std::map<std::string, std::string>& extra);

}  // namespace probity::bus
