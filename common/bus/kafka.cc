#include "common/bus/kafka.h"

#include <cstring>
#include <thread>

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

void Producer::OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<Producer*>(opaque);
  if (!self->on_delivery_) return;
  DeliveryReport r;
  r.topic = rd_kafka_topic_name(m->rkt);
  r.partition = m->partition;
  r.offset = m->offset;
  r.tag = reinterpret_cast<uintptr_t>(m->_private);
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    r.status =
        Unavailable(std::string("delivery to ") + r.topic + " failed: " + rd_kafka_err2str(m->err));
  }
  self->on_delivery_(r);
}

StatusOr<std::unique_ptr<Producer>> Producer::Create(const ClientConfig& config,
                                                     DeliveryCallback on_delivery) {
  std::unique_ptr<Producer> p(new Producer());
  p->on_delivery_ = std::move(on_delivery);
  PROBITY_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf,
                           MakeConf(config, {{"enable.idempotence", "true"},
                                             {"linger.ms", "5"},
                                             {"batch.num.messages", "10000"},
                                             {"queue.buffering.max.messages", "500000"},
                                             {"message.timeout.ms", "0"}}));
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
    return Unavailable("produce to " + topic_s + ": " + rd_kafka_err2str(err));
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

Status Producer::WarmUp(const std::string& topic, int timeout_ms) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, 0, rkt, &md, timeout_ms);
  rd_kafka_topic_destroy(rkt);
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unavailable("metadata for " + topic + ": " + rd_kafka_err2str(err));
  }
  return Status::Ok();
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

int64_t Consumer::HighWatermark(const std::string& topic, int32_t partition) const {
  int64_t lo = -1, hi = -1;
  if (rd_kafka_get_watermark_offsets(rk_, topic.c_str(), partition, &lo, &hi) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return -1;
  }
  return hi;
}

}  // namespace probity::bus
