// Where a follower reads the log's signed checkpoints: the sequencer's (or a replica's) store, or
// probity.checkpoints.v1.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/bus/kafka.h"
#include "common/logstore/reader.h"
#include "common/status/status.h"
#include "probity/v1/log.pb.h"

namespace probity::follow {

class CheckpointSource {
 public:
  virtual ~CheckpointSource() = default;
  // Appends the checkpoints published since the last call, in publication order; after
  // construction or Reset() it starts again from the source's start (or its latest, see each
  // source). May append none. kUnavailable when a retry may help.
  virtual Status Read(std::vector<v1::CheckpointRecord>* out) = 0;
  // The next Read starts again from the source's start.
  virtual void Reset() {}
};

// The latest checkpoint of a store, each time it changes. A store keeps checkpoints by size, so
// it cannot show a rollback; the latest is all a follower needs (each verified root is a root of
// its own tree, so the ones in between add nothing).
class StoreCheckpointSource final : public CheckpointSource {
 public:
  // REQUIRES: store outlives this.
  explicit StoreCheckpointSource(const logstore::LogReader* store) : store_(store) {}
  Status Read(std::vector<v1::CheckpointRecord>* out) override;
  void Reset() override { last_size_ = -1; }

 private:
  const logstore::LogReader* store_;
  int64_t last_size_ = -1;
};

// probity.checkpoints.v1 (one partition), from its first message, in publication order.
class CheckpointTopicSource final : public CheckpointSource {
 public:
  static StatusOr<std::unique_ptr<CheckpointTopicSource>> Create(const bus::ClientConfig& cfg);
  // REQUIRES: consumer outlives this (tests and a BusFactory).
  explicit CheckpointTopicSource(std::unique_ptr<bus::MessageConsumer> consumer)
      : consumer_(std::move(consumer)) {}
  Status Read(std::vector<v1::CheckpointRecord>* out) override;
  void Reset() override { assigned_ = false; }

 private:
  std::unique_ptr<bus::MessageConsumer> consumer_;
  bool assigned_ = false;
};

}  // namespace probity::follow
