#include "common/bus/embedded_cluster.h"

#include "common/bus/topics.h"

namespace probity::bus {

EmbeddedCluster::~EmbeddedCluster() {
  forwarder_.reset();
  if (mock_ != nullptr) rd_kafka_mock_cluster_destroy(mock_);
  if (handle_ != nullptr) rd_kafka_destroy(handle_);
}

StatusOr<std::unique_ptr<EmbeddedCluster>> EmbeddedCluster::Start(
    const EmbeddedClusterOptions& options) {
  std::unique_ptr<EmbeddedCluster> c(new EmbeddedCluster());
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err)) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return Internal(std::string("embedded bus: ") + err);
  }
  // The handle only anchors the mock cluster; it never produces.
  c->handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (c->handle_ == nullptr) {
    return Internal(std::string("embedded bus: cannot create anchor handle: ") + err);
  }
  c->mock_ = rd_kafka_mock_cluster_new(c->handle_, options.brokers);
  if (c->mock_ == nullptr) return Internal("embedded bus: rd_kafka_mock_cluster_new failed");
  std::string brokers = rd_kafka_mock_cluster_bootstraps(c->mock_);
  c->bootstrap_ = brokers;
  if (options.bootstrap_port != 0) {
    std::string first = brokers.substr(0, brokers.find(','));
    auto fwd = TcpForwarder::Start(options.bootstrap_port, first);
    if (!fwd.ok()) return fwd.status();
    c->forwarder_ = std::move(fwd).value();
    c->bootstrap_ = "127.0.0.1:" + std::to_string(options.bootstrap_port);
  }
  if (options.create_topics) {
    for (const TopicSpec& t : kTopics) {
      PROBITY_RETURN_IF_ERROR(c->CreateTopic(std::string(t.name), t.partitions));
    }
  }
  return c;
}

std::string EmbeddedCluster::broker_addresses() const {
  return rd_kafka_mock_cluster_bootstraps(mock_);
}

Status EmbeddedCluster::CreateTopic(const std::string& name, int partitions) {
  rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mock_, name.c_str(), partitions, 1);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
    return Internal("embedded bus: cannot create topic " + name + ": " + rd_kafka_err2str(e));
  }
  return Status::Ok();
}

}  // namespace probity::bus
