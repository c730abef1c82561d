#include "services/replica/replica.h"

#include <filesystem>

namespace probity::replica {

StatusOr<uint64_t> ReplicaFollower::Restore() {
  // A save still running finishes first; whatever it did not write is read again.
  (void)writer_.Wait();
  records_.clear();
  serialized_.clear();
  checkpoints_.clear();
  if (store_ == nullptr) {
    std::error_code ec;
    std::filesystem::create_directories(store_path_, ec);
    if (ec) return IoError("cannot create " + store_path_ + ": " + ec.message());
    PROBITY_ASSIGN_OR_RETURN(store_, logstore::LogStore::Open(store_path_, {.sync = sync_}));
  }
  // A new Sequencer loads the committed tree: whatever a failed write left in memory is gone.
  PROBITY_ASSIGN_OR_RETURN(sequencer_, logstore::Sequencer::Create(store_.get()));
  first_ = sequencer_->size();
  return first_;
}

Status ReplicaFollower::Apply(const follow::Event& event, follow::Publisher*) {
  if (event.index != first_ + records_.size()) {
    return Internal("replica: entry " + std::to_string(event.index) + " applied at " +
                    std::to_string(first_ + records_.size()));
  }
  records_.push_back(*event.record);
  serialized_.push_back({std::string(event.leaf), event.leaf_hash});
  return Status::Ok();
}

Status ReplicaFollower::Checkpoint(const v1::CheckpointRecord& checkpoint) {
  checkpoints_.push_back(checkpoint);
  return Status::Ok();
}

Status ReplicaFollower::Save(uint64_t next_index) {
  if (first_ + records_.size() != next_index) {
    return Internal("replica: asked to save at " + std::to_string(next_index) + " with entries " +
                    std::to_string(first_) + ".." + std::to_string(first_ + records_.size()) +
                    " applied");
  }
  auto batch = std::make_shared<Batch>();
  batch->first = first_;
  batch->records.swap(records_);
  batch->serialized.swap(serialized_);
  batch->checkpoints.swap(checkpoints_);
  first_ = next_index;
  return writer_.Start([this, batch] { return Write(batch.get()); });
}

Status ReplicaFollower::Write(Batch* batch) {
  if (!batch->records.empty()) {
    std::vector<merkle::Hash> want;
    want.reserve(batch->serialized.size());
    for (const auto& s : batch->serialized) want.push_back(s.leaf);
    PROBITY_ASSIGN_OR_RETURN(logstore::BatchResult r,
                             sequencer_->AppendCopy(&batch->records, batch->serialized));
    // The copy MUST hold the log's exact bytes at the log's indices: a resubmission the sequencer
    // would take as a redelivery or mark otherwise than the log did (its bytes would differ)
    // stops the replica.
    if (r.appended != want.size() || r.leaf_hashes != want ||
        r.tree_size != batch->first + want.size()) {
      return DataLoss("replica: the copy of entries " + std::to_string(batch->first) + ".." +
                      std::to_string(batch->first + want.size() - 1) +
                      " would differ from the verified log (" + std::to_string(r.appended) +
                      " appended, " + std::to_string(r.duplicates) + " taken as redeliveries)");
    }
  }
  for (const auto& cp : batch->checkpoints) PROBITY_RETURN_IF_ERROR(sequencer_->AddCheckpoint(cp));
  return Status::Ok();
}

ReplicaRunner::ReplicaRunner(ReplicaOptions options, follow::EntrySource* entries,
                             follow::CheckpointSource* checkpoints, const Clock* clock)
    : options_(std::move(options)), follower_(options_.data_dir + "/log", options_.sync) {
  follow::Runtime::Options o;
  o.data_dir = options_.data_dir + "/replica";
  o.origin = options_.origin;
  o.log_keys = options_.log_keys;
  o.apply_verified_only = true;
  o.max_batch = options_.max_batch;
  o.save_every = 0;       // write what each round verified
  o.tree_save_every = 0;  // and the leaves integrated while waiting for a checkpoint
  o.registry = options_.registry;
  runtime_ = std::make_unique<follow::Runtime>(o, &follower_, entries, checkpoints,
                                               /*publisher=*/nullptr, clock);
}

Status ReplicaRunner::Start() {
  if (options_.log_keys.empty()) {
    return InvalidArgument(
        "replica: the log's verifier key is required (it writes only what a "
        "checkpoint signed by that key covers)");
  }
  return runtime_->Start();
}

StatusOr<size_t> ReplicaRunner::RunOnce() {
  StatusOr<size_t> n = runtime_->Step();
  if (!n.ok() || *n == 0) follower_.FinishSave();
  return n;
}

Status ReplicaRunner::Run(const std::atomic<bool>* stop) {
  Status st = runtime_->Run(stop);
  Status saved = follower_.WaitForSave();
  return st.ok() ? saved : st;
}

Status ReplicaRunner::Save() {
  PROBITY_RETURN_IF_ERROR(runtime_->Save());
  return follower_.WaitForSave();
}

follow::RuntimeStats ReplicaRunner::stats() const { return runtime_->stats(); }

metrics::Health ReplicaRunner::health() const { return runtime_->health(); }

}  // namespace probity::replica
