// The embedded bus: librdkafka's in-process Kafka-protocol cluster (rdkafka_mock.h) on loopback.
// Any Kafka client (kcat, confluent-kafka, librdkafka) can produce to it and consume from it.
// Limits (docs/operations.md): everything is in memory and lost on exit; each partition keeps a
// bounded number of log segments (librdkafka's mock keeps about 5 MB per partition); transactions
// and some admin APIs are not implemented. It is for laptops, demos and tests, not production.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <memory>
#include <string>

#include "common/bus/tcp_forwarder.h"
#include "common/status/status.h"

namespace probity::bus {

struct EmbeddedClusterOptions {
  int brokers = 1;
  // Fixed loopback port for the bootstrap address; 0 means none (use the ephemeral port).
  // The mock brokers listen on ephemeral ports; a forwarder on this port relays to broker 1, and
  // clients then follow the metadata to the brokers' own addresses, all on 127.0.0.1.
  int bootstrap_port = 0;
  bool create_topics = true;  // create Probity's topics (topics.h) with their partition counts
};

class EmbeddedCluster {
 public:
  ~EmbeddedCluster();
  EmbeddedCluster(const EmbeddedCluster&) = delete;
  EmbeddedCluster& operator=(const EmbeddedCluster&) = delete;

  static StatusOr<std::unique_ptr<EmbeddedCluster>> Start(const EmbeddedClusterOptions& options);

  // The address clients should use: "127.0.0.1:<bootstrap_port>" when a fixed port was asked
  // for, else the mock cluster's own bootstrap list.
  const std::string& bootstrap_servers() const { return bootstrap_; }
  // The brokers' own addresses (ephemeral ports).
  std::string broker_addresses() const;

  // Creates a topic; an existing topic is left as it is.
  Status CreateTopic(const std::string& name, int partitions);

  // Fault injection for tests. The cluster outlives any pointer returned here.
  rd_kafka_mock_cluster_t* mock() { return mock_; }

 private:
  EmbeddedCluster() = default;
  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* mock_ = nullptr;
  std::unique_ptr<TcpForwarder> forwarder_;
  std::string bootstrap_;
};

}  // namespace probity::bus
