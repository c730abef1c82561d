// Thin RAII wrappers over librdkafka's C API: the only place Probity talks Kafka. Works against
// the embedded bus and any real Kafka cluster alike.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status/status.h"

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
  Status status;
};

class Producer {
 public:
  using DeliveryCallback = std::function<void(const DeliveryReport&)>;
  // Idempotent producer (enable.idempotence=true, acks=all): retries never duplicate or reorder
  // within a partition. `on_delivery` runs on the thread that calls Poll or Flush.
  static StatusOr<std::unique_ptr<Producer>> Create(const ClientConfig& config,
                                                    DeliveryCallback on_delivery = nullptr);
  ~Producer();

  // Enqueues one message; partition -1 lets the partitioner choose by key. When the local queue is
  // full it serves delivery reports and waits, so it applies backpressure rather than failing.
  Status Produce(std::string_view topic, int32_t partition, std::string_view key,
                 std::string_view value, const Headers& headers = {}, uint64_t tag = 0);
  // Serves delivery reports without blocking longer than timeout_ms.
  void Poll(int timeout_ms);
  // Waits until everything enqueued is delivered or failed. Unavailable on timeout.
  Status Flush(int timeout_ms);
  int OutQueueLength() const;
  // Fetches the topic's metadata now, so that the first message to it does not wait for the
  // leader lookup (about a second after start-up otherwise).
  Status WarmUp(const std::string& topic, int timeout_ms);
  rd_kafka_t* handle() { return rk_; }

 private:
  Producer() = default;
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);
  rd_kafka_t* rk_ = nullptr;
  DeliveryCallback on_delivery_;
};

struct TopicPartitionOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;  // next offset to read; RD_KAFKA_OFFSET_BEGINNING (-2) reads from the start
};

// A consumer without a group: partitions are assigned by the caller, from offsets the caller
// keeps (ingest keeps them in the log store, in the same write as the entries).
class Consumer {
 public:
  static StatusOr<std::unique_ptr<Consumer>> Create(const ClientConfig& config);
  ~Consumer();

  StatusOr<int> PartitionCount(const std::string& topic, int timeout_ms);
  Status Assign(const std::vector<TopicPartitionOffset>& assignment);
  // Appends up to max messages to *out, waiting at most timeout_ms for the first. Errors that
  // librdkafka recovers from by itself (broker down, transport) are not returned; they are
  // counted in transient_errors().
  Status Poll(size_t max, int timeout_ms, std::vector<Message>* out);
  // High watermark (next offset to be written) as last seen by the client; -1 if unknown.
  int64_t HighWatermark(const std::string& topic, int32_t partition) const;
  uint64_t transient_errors() const { return transient_errors_; }

 private:
  Consumer() = default;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_queue_t* queue_ = nullptr;
  uint64_t transient_errors_ = 0;
};

// Builds an rd_kafka_conf_t from config plus extra properties; the caller owns the result.
StatusOr<rd_kafka_conf_t*> MakeConf(const ClientConfig& config,
                                    const std::map<std::string, std::string>& extra);

}  // namespace probity::bus
