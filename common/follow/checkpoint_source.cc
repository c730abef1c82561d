#include "common/follow/checkpoint_source.h"

#include "common/bus/topics.h"

namespace probity::follow {

Status StoreCheckpointSource::Read(std::vector<v1::CheckpointRecord>* out) {
  PROBITY_ASSIGN_OR_RETURN(auto latest, store_->LatestCheckpoint());
  if (!latest || static_cast<int64_t>(latest->tree_size()) <= last_size_) return Status::Ok();
  last_size_ = static_cast<int64_t>(latest->tree_size());
  out->push_back(std::move(*latest));
  return Status::Ok();
}

StatusOr<std::unique_ptr<CheckpointTopicSource>> CheckpointTopicSource::Create(
    const bus::ClientConfig& cfg) {
  PROBITY_ASSIGN_OR_RETURN(std::unique_ptr<bus::Consumer> c, bus::Consumer::Create(cfg));
  return std::make_unique<CheckpointTopicSource>(std::move(c));
}

Status CheckpointTopicSource::Read(std::vector<v1::CheckpointRecord>* out) {
  if (!assigned_) {
    PROBITY_RETURN_IF_ERROR(
        consumer_->Assign({{std::string(bus::kCheckpointsTopic), 0, RD_KAFKA_OFFSET_BEGINNING}}));
    assigned_ = true;
  }
  std::vector<bus::Message> msgs;
  Status polled = consumer_->Poll(1000, 0, &msgs);
  if (polled.code() == Code::kDataLoss) {
    assigned_ = false;  // old segments deleted under the reader: read what is left again
    return Unavailable("probity.checkpoints.v1 moved under the reader (" + polled.message() + ")");
  }
  PROBITY_RETURN_IF_ERROR(polled);
  for (const auto& m : msgs) {
    v1::CheckpointRecord r;
    if (!r.ParseFromString(m.value)) {
      return DataLoss("probity.checkpoints.v1 offset " + std::to_string(m.offset) +
                      " is not a CheckpointRecord");
    }
    out->push_back(std::move(r));
  }
  return Status::Ok();
}

}  // namespace probity::follow
