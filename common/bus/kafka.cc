#include "common/bus/kafka.h"

#include <cstring>
#include <thread>

#include "common/bus/limits.h"

namespace probity::bus {

std::optional<std::string_view> Message::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

StatusOr<rd_kafka_conf_t*> MakeConf(const ClientConfig& config,
                                    const std::map<std::string, std::string>& extra) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  auto set = [&](const std::string& k, const std::string& v) -> Status {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      return InvalidArgument("kafka property " + k + "=" + v + ": " + err);
    }
    return Status::Ok();
  };
  Status st = set("bootstrap.servers", config.bootstrap_servers);
  if (st.ok()) st = set("log_level", "3");
  for (const auto& [k, v] : extra) {
    if (st.ok()) st = set(k, v);
  }
  for (const auto& [k, v] : config.properties) {
    if (st.ok()) st = set(k, v);
  }
  if (!st.ok()) {
    rd_kafka_conf_destroy(conf);
    return st;
  }
  return conf;
}

// ---------------------------------------------------------------------------------------------
// Producer

namespace {

// Whether a send that failed with `err` could succeed if tried again unchanged. The producer
// retries transient errors itself for ever (message.timeout.ms=0), so a failed delivery is
// permanent except for timeouts and transport failures.
bool Permanent(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return false;
    default:
      return true;
  }
}

Status SendError(rd_kafka_resp_err_t err, const std::string& what) {
  std::string m = what + ": " + rd_kafka_err2str(err) + " (" + rd_kafka_err2name(err) + ")";
  return Permanent(err) ? FailedPrecondition(std::move(m)) : Unavailable(std::move(m));
}

}  // namespace

void Producer::OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<Producer*>(opaque);
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    MutexLock l(&self->failure_mu_);
    if (self->first_failure_.ok()) {
      self->first_failure_ =
          SendError(m->err, std::string("delivery to ") + rd_kafka_topic_name(m->rkt) + " failed");
    }
  }
  if (!self->on_delivery_) return;
  DeliveryReport r;
  r.topic = rd_kafka_topic_name(m->rkt);
  r.partition = m->partition;
  r.offset = m->offset;
  r.tag = reinterpret_cast<uintptr_t>(m->_private);
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    r.status = SendError(m->err, "delivery to " + r.topic + " failed");
  }
  self->on_delivery_(r);
}

namespace {

// Asks the bus for one topic's metadata (its partitions' leaders) and waits for the answer.
Status RequestMetadata(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
  rd_kafka_topic_destroy(rkt);
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unavailable("metadata for " + topic + ": " + rd_kafka_err2str(err));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<Producer>> Producer::Create(const ClientConfig& config,
                                                     DeliveryCallback on_delivery) {
  std::unique_ptr<Producer> p(new Producer());
  p->on_delivery_ = std::move(on_delivery);
  PROBITY_ASSIGN_OR_RETURN(
      rd_kafka_conf_t * conf,
      MakeConf(config, {{"enable.idempotence", "true"},
                        {"linger.ms", "5"},
                        {"batch.num.messages", "10000"},
                        {"queue.buffering.max.messages", "500000"},
                        {"message.timeout.ms", "0"},
                        {"message.max.bytes", std::to_string(kProducerMaxMessageBytes)}}));
  rd_kafka_conf_set_opaque(conf, p.get());
  rd_kafka_conf_set_dr_msg_cb(conf, &Producer::OnDelivery);
  char err[512];
  p->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (p->rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Internal(std::string("kafka producer: ") + err);
  }
  return p;
}

Producer::~Producer() {
  if (rk_ != nullptr) {
    rd_kafka_flush(rk_, 5000);
    rd_kafka_destroy(rk_);
  }
}

Status Producer::Produce(std::string_view topic, int32_t partition, std::string_view key,
                         std::string_view value, const Headers& headers, uint64_t tag) {
  for (;;) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (!headers.empty()) {
      hdrs = rd_kafka_headers_new(headers.size());
      for (const auto& [k, v] : headers) {
        rd_kafka_header_add(hdrs, k.data(), k.size(), v.data(), v.size());
      }
    }
    std::string topic_s(topic);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_, RD_KAFKA_V_TOPIC(topic_s.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_HEADERS(hdrs),
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(tag)), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
    if (hdrs != nullptr) rd_kafka_headers_destroy(hdrs);  // not taken over on failure
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk_, 10);  // backpressure: serve reports, then retry
      continue;
    }
    return SendError(
        err, "produce to " + topic_s + " (" + std::to_string(value.size()) + "-byte value)");
  }
}

void Producer::Poll(int timeout_ms) { rd_kafka_poll(rk_, timeout_ms); }

Status Producer::Flush(int timeout_ms) {
  rd_kafka_resp_err_t err = rd_kafka_flush(rk_, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unavailable(std::string("flush: ") + rd_kafka_err2str(err) + ", " +
                       std::to_string(rd_kafka_outq_len(rk_)) + " messages outstanding");
  }
  return Status::Ok();
}

int Producer::OutQueueLength() const { return rd_kafka_outq_len(rk_); }

Status Producer::TakeDeliveryFailure() {
  MutexLock l(&failure_mu_);
  Status s = std::move(first_failure_);
  first_failure_ = Status::Ok();
  return s;
}

std::optional<std::string> Producer::FatalError() const {
  char err[512];
  if (rd_kafka_fatal_error(rk_, err, sizeof(err)) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  return std::string(err);
}

Status Producer::WarmUp(const std::string& topic, int timeout_ms) {
  return RequestMetadata(rk_, topic, timeout_ms);
}

// ---------------------------------------------------------------------------------------------
// Consumer

StatusOr<std::unique_ptr<Consumer>> Consumer::Create(const ClientConfig& config) {
  std::unique_ptr<Consumer> c(new Consumer());
  // group.id is required by librdkafka's consumer API even when nothing is committed.
  PROBITY_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf,
                           MakeConf(config, {{"group.id", "probity-unused"},
                                             {"enable.auto.commit", "false"},
                                             {"enable.auto.offset.store", "false"},
                                             {"enable.partition.eof", "false"},
                                             // Never skip silently: a stored offset the bus no
                                             // longer has is an error, not a reset.
                                             {"auto.offset.reset", "error"},
                                             {"fetch.wait.max.ms", "10"},
                                             {"max.partition.fetch.bytes",
                                              std::to_string(kConsumerMaxPartitionFetchBytes)},
                                             {"queued.min.messages", "100000"}}));
  char err[512];
  c->rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (c->rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Internal(std::string("kafka consumer: ") + err);
  }
  rd_kafka_poll_set_consumer(c->rk_);
  c->queue_ = rd_kafka_queue_get_consumer(c->rk_);
  return c;
}

Consumer::~Consumer() {
  if (queue_ != nullptr) rd_kafka_queue_destroy(queue_);
  if (rk_ != nullptr) {
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
  }
}

StatusOr<int> Consumer::PartitionCount(const std::string& topic, int timeout_ms) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, 0, rkt, &md, timeout_ms);
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unavailable("metadata for " + topic + ": " + rd_kafka_err2str(err));
  }
  int n = -1;
  Status st;
  if (md->topic_cnt == 1) {
    if (md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      st = NotFound("topic " + topic + ": " + rd_kafka_err2str(md->topics[0].err));
    } else {
      n = md->topics[0].partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(md);
  if (!st.ok()) return st;
  if (n <= 0) return NotFound("topic " + topic + " has no partitions");
  return n;
}

Status Consumer::Assign(const std::vector<TopicPartitionOffset>& assignment) {
  // A partition assigned before the client knows its leader waits for librdkafka's offset-query
  // retry timer (500 ms, fixed) before its first fetch, so each topic's metadata is asked for
  // first, once per consumer. A bus that does not answer in time only costs that wait.
  for (const auto& a : assignment) {
    if (!known_topics_.insert(a.topic).second) continue;
    if (!RequestMetadata(rk_, a.topic, kAssignMetadataTimeoutMs).ok()) {
      known_topics_.erase(a.topic);  // asked again at the next assignment
    }
  }
  rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(assignment.size());
  for (const auto& a : assignment) {
    rd_kafka_topic_partition_list_add(l, a.topic.c_str(), a.partition)->offset = a.offset;
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(rk_, l);
  rd_kafka_topic_partition_list_destroy(l);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Internal(std::string("assign: ") + rd_kafka_err2str(err));
  return Status::Ok();
}

Status Consumer::Poll(size_t max, int timeout_ms, std::vector<Message>* out) {
  std::vector<rd_kafka_message_t*> batch(max);
  ssize_t n = rd_kafka_consume_batch_queue(queue_, timeout_ms, batch.data(), max);
  if (n < 0) return Internal(std::string("consume: ") + rd_kafka_err2str(rd_kafka_last_error()));
  Status st;
  for (ssize_t i = 0; i < n; ++i) {
    rd_kafka_message_t* m = batch[i];
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        // not enabled; ignore
      } else if ((m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
                  m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) &&
                 st.ok()) {
        // The stored offset is no longer on the bus: data was lost upstream. Never skip silently.
        st = DataLoss(std::string("offset out of range on ") + rd_kafka_topic_name(m->rkt) + "/" +
                      std::to_string(m->partition) + ": " + rd_kafka_message_errstr(m));
      } else {
        ++transient_errors_;
      }
      rd_kafka_message_destroy(m);
      continue;
    }
    Message msg;
    msg.topic = rd_kafka_topic_name(m->rkt);
    msg.partition = m->partition;
    msg.offset = m->offset;
    if (m->key != nullptr) msg.key.assign(static_cast<const char*>(m->key), m->key_len);
    if (m->payload != nullptr) msg.value.assign(static_cast<const char*>(m->payload), m->len);
    rd_kafka_timestamp_type_t tstype;
    msg.timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs != nullptr) {
      const char* name;
      const void* val;
      size_t size;
      for (size_t idx = 0;
           rd_kafka_header_get_all(hdrs, idx, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++idx) {
        msg.headers.emplace_back(name, val == nullptr
                                           ? std::string()
                                           : std::string(static_cast<const char*>(val), size));
      }
    }
    out->push_back(std::move(msg));
    rd_kafka_message_destroy(m);
  }
  return st;
}

int64_t Consumer::LowWatermark(const std::string& topic, int32_t partition, int timeout_ms) const {
  int64_t lo = -1, hi = -1;
  if (rd_kafka_query_watermark_offsets(rk_, topic.c_str(), partition, &lo, &hi, timeout_ms) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return -1;
  }
  return lo;
}

int64_t Consumer::HighWatermark(const std::string& topic, int32_t partition) const {
  int64_t lo = -1, hi = -1;
  if (rd_kafka_get_watermark_offsets(rk_, topic.c_str(), partition, &lo, &hi) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return -1;
  }
  return hi;
}

// ---------------------------------------------------------------------------------------------
// Topic configuration and the factory

namespace {

class KafkaTopicConfigReader final : public TopicConfigReader {
 public:
  explicit KafkaTopicConfigReader(rd_kafka_t* rk) : rk_(rk) {}
  ~KafkaTopicConfigReader() override { rd_kafka_destroy(rk_); }

  StatusOr<int64_t> MaxMessageBytes(const std::string& topic, int timeout_ms) override {
    if (!probed_) {
      probe_ = Probe(timeout_ms);
      probed_ = true;
    }
    PROBITY_RETURN_IF_ERROR(probe_);
    char err[512];
    rd_kafka_ConfigResource_t* res =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
    rd_kafka_AdminOptions_t* opts =
        rd_kafka_AdminOptions_new(rk_, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, err, sizeof(err));
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk_);
    rd_kafka_DescribeConfigs(rk_, &res, 1, opts, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_ConfigResource_destroy(res);
    StatusOr<int64_t> out = Unavailable("describe configs of " + topic + ": no answer in " +
                                        std::to_string(timeout_ms) + " ms");
    if (ev != nullptr) out = Read(topic, ev);
    if (ev != nullptr) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    return out;
  }

 private:
  static StatusOr<int64_t> Read(const std::string& topic, rd_kafka_event_t* ev) {
    rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
    if (e == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE || e == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION ||
        e == RD_KAFKA_RESP_ERR_INVALID_REQUEST) {
      return Unimplemented("the bus does not answer DescribeConfigs: " +
                           std::string(rd_kafka_err2str(e)));
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unavailable("describe configs of " + topic + ": " + rd_kafka_event_error_string(ev));
    }
    const rd_kafka_DescribeConfigs_result_t* r = rd_kafka_event_DescribeConfigs_result(ev);
    size_t n = 0;
    const rd_kafka_ConfigResource_t** rs =
        r == nullptr ? nullptr : rd_kafka_DescribeConfigs_result_resources(r, &n);
    if (n != 1) return Unavailable("describe configs of " + topic + ": empty answer");
    rd_kafka_resp_err_t re = rd_kafka_ConfigResource_error(rs[0]);
    if (re == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return NotFound("topic " + topic);
    if (re != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unavailable("describe configs of " + topic + ": " + rd_kafka_err2str(re));
    }
    size_t cnt = 0;
    const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(rs[0], &cnt);
    for (size_t i = 0; i < cnt; ++i) {
      if (std::strcmp(rd_kafka_ConfigEntry_name(entries[i]), "max.message.bytes") != 0) continue;
      const char* v = rd_kafka_ConfigEntry_value(entries[i]);
      if (v == nullptr) break;
      char* end = nullptr;
      long long parsed = std::strtoll(v, &end, 10);
      if (end == v || *end != '\0') break;
      return static_cast<int64_t>(parsed);
    }
    return Unavailable("describe configs of " + topic + ": no max.message.bytes in the answer");
  }

  // DescribeConfigs goes to the cluster's controller. A bus whose metadata names no controller
  // among its brokers (librdkafka's mock cluster says 0, its brokers are 1..n) cannot answer it.
  Status Probe(int timeout_ms) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, 0, nullptr, &md, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unavailable(std::string("metadata: ") + rd_kafka_err2str(err));
    }
    const int32_t controller = rd_kafka_controllerid(rk_, timeout_ms);
    bool known = false;
    for (int i = 0; i < md->broker_cnt; ++i) known = known || md->brokers[i].id == controller;
    rd_kafka_metadata_destroy(md);
    if (!known) {
      return Unimplemented("the bus names no controller among its brokers (controller id " +
                           std::to_string(controller) +
                           "), so it cannot answer DescribeConfigs (the embedded bus)");
    }
    return Status::Ok();
  }

  rd_kafka_t* rk_;
  bool probed_ = false;
  Status probe_;
};

}  // namespace

Status CheckTopicLimits(TopicConfigReader* reader, const std::vector<std::string>& topics,
                        int64_t required, bool* checked) {
  *checked = false;
  for (const std::string& topic : topics) {
    StatusOr<int64_t> max = reader->MaxMessageBytes(topic, 10000);
    if (max.status().code() == Code::kUnimplemented) return Status::Ok();
    if (!max.ok()) {
      return Unavailable("cannot read max.message.bytes of " + topic + ": " +
                         max.status().message());
    }
    if (*max < required) {
      return FailedPrecondition(
          "topic " + topic + " allows messages of at most " + std::to_string(*max) +
          " bytes (max.message.bytes); Probity needs at least " + std::to_string(required) +
          " (docs/events.md, \"Size budget\"). Fix: kafka-configs.sh --bootstrap-server ... "
          "--alter --entity-type topics --entity-name " +
          topic + " --add-config max.message.bytes=" + std::to_string(required));
    }
  }
  *checked = true;
  return Status::Ok();
}

StatusOr<std::unique_ptr<MessageConsumer>> KafkaBus::NewConsumer() {
  PROBITY_ASSIGN_OR_RETURN(std::unique_ptr<Consumer> c, Consumer::Create(config_));
  return std::unique_ptr<MessageConsumer>(std::move(c));
}

StatusOr<std::unique_ptr<MessageProducer>> KafkaBus::NewProducer(
    Producer::DeliveryCallback on_delivery) {
  PROBITY_ASSIGN_OR_RETURN(std::unique_ptr<Producer> p,
                           Producer::Create(config_, std::move(on_delivery)));
  return std::unique_ptr<MessageProducer>(std::move(p));
}

StatusOr<std::unique_ptr<TopicConfigReader>> KafkaBus::NewTopicConfigReader() {
  PROBITY_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, MakeConf(config_, {}));
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Internal(std::string("kafka admin client: ") + err);
  }
  return std::unique_ptr<TopicConfigReader>(new KafkaTopicConfigReader(rk));
}

}  // namespace probity::bus
