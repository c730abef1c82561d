// A generator sink that produces onto the bus: binary protobuf, keyed by practice.
#pragma once

#include <string>

#include "common/bus/kafka.h"
#include "services/generate/sink.h"

namespace probity::cli {

class KafkaSink final : public generate::Sink {
 public:
  explicit KafkaSink(bus::Producer* p) : p_(p) {}  // REQUIRES: p outlives the sink
  Status Emit(std::string_view topic, std::string_view key, const v1::Envelope& env) override {
    env.SerializeToString(&buf_);
    return p_->Produce(topic, -1, key, buf_);
  }

 private:
  bus::Producer* p_;
  std::string buf_;
};

}  // namespace probity::cli
