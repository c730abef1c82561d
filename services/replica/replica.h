// The replica target: a follower that keeps a verified copy of the log in the same on-disk format
// as the sequencer's store (common/logstore: entries, tiles, checkpoints, indexes), so that it
// serves exactly the sequencer's proofs. It is what the api reads away from the sequencer, and it
// can run at another site.
//
// Guarantees:
//  - It writes an entry only once a checkpoint signed by the log's key covers it and that
//    checkpoint's root equals the root of the tree the runtime built from the entries itself
//    (Runtime::Options::apply_verified_only), and a checkpoint only once its entries are written.
//  - Entries are written through logstore::Sequencer, with the exact leaf bytes read from the log;
//    the replica checks that the bytes it stored hash to the verified leaf hashes.
//  - Its store's size is its cursor: entries and the tree nodes they complete land in one atomic
//    write, so a kill at any instant leaves a prefix of the log, and a restart carries on from it.
//  - It never deletes or rewrites: a store that is not a prefix of the verified log stops it.
//
// What is not copied: the primary's consumer offsets, publication cursors and dead-letter outbox
// (they are the sequencer's, not the log's), and the batch grouping of idx_kind keys (one key per
// kind per appended batch): the replica's batches are its own, so FindByKind answers the same
// while the keys may differ (docs/operations.md, "Running a replica").
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/follow/background_writer.h"
#include "common/follow/checkpoint_source.h"
#include "common/follow/entry_source.h"
#include "common/follow/follower.h"
#include "common/follow/runtime.h"
#include "common/logstore/sequencer.h"
#include "common/logstore/store.h"
#include "common/metrics/http_server.h"
#include "common/note/note.h"
#include "common/status/status.h"
#include "common/time/clock.h"

namespace prometheus {
class Registry;
}

namespace probity::replica {

class ReplicaFollower final : public follow::Follower {
 public:
  // The copy lives at `store_path` (a LogStore directory).
  explicit ReplicaFollower(std::string store_path, bool sync = false)
      : store_path_(std::move(store_path)), sync_(sync) {}

  std::string_view name() const override { return "replica"; }
  // It copies the leaf bytes: the payload need not be parsed (and one that no longer parses is
  // still the log's, copied as it is).
  bool needs_envelope() const override { return false; }
  StatusOr<uint64_t> Restore() override;
  Status Apply(const follow::Event& event, follow::Publisher* out) override;
  Status Checkpoint(const v1::CheckpointRecord& checkpoint) override;
  // Writes the entries applied since the last save (one atomic batch), then the checkpoints, on
  // a background thread, after waiting for the previous save (whose failure it returns): the
  // runtime verifies the next round while this one is written (follower.h allows it).
  Status Save(uint64_t next_index) override;
  // Nothing applied this round: a write that finished meanwhile reports its failure, if any, to
  // the runtime (which restarts from what is durable) without waiting for one still running
  // (the round may be reading ahead to the next checkpoint).
  Status Idle(Micros, follow::Publisher*) override { return writer_.Poll(); }
  // Waits for the save in the background, if any; its status.
  Status WaitForSave() { return writer_.Wait(); }
  // Waits for it and keeps its status for the next Save, Idle or WaitForSave.
  void FinishSave() { writer_.Join(); }

  // The copy (for readers in the same process, and tests). Null before Restore().
  const logstore::LogStore* store() const { return store_.get(); }

 private:
  std::string store_path_;
  bool sync_;
  std::unique_ptr<logstore::LogStore> store_;
  std::unique_ptr<logstore::Sequencer> sequencer_;
  std::vector<v1::LogRecord> records_;
  std::vector<logstore::Sequencer::Serialized> serialized_;
  uint64_t first_ = 0;  // index of records_[0]
  std::vector<v1::CheckpointRecord> checkpoints_;
  // What one Save() writes, off the runtime's thread.
  struct Batch {
    uint64_t first = 0;
    std::vector<v1::LogRecord> records;
    std::vector<logstore::Sequencer::Serialized> serialized;
    std::vector<v1::CheckpointRecord> checkpoints;
  };
  Status Write(Batch* batch);
  follow::BackgroundWriter writer_;  // last: joined before the store it writes goes
};

struct ReplicaOptions {
  std::string data_dir;  // the copy in DATA_DIR/log; the runtime's state in DATA_DIR/replica
  bool sync = false;     // fsync every batch
  std::string origin;    // the log's origin and key: required
  std::vector<note::Verifier> log_keys;
  size_t max_batch = 10000;
  // The follower runtime's gauges (follow::Runtime::Options::registry); null: none.
  prometheus::Registry* registry = nullptr;
};

// The replica wired on the follower runtime.
class ReplicaRunner {
 public:
  // REQUIRES: entries, checkpoints and clock outlive the runner.
  ReplicaRunner(ReplicaOptions options, follow::EntrySource* entries,
                follow::CheckpointSource* checkpoints, const Clock* clock);
  Status Start();
  // One round of the runtime (Runtime::Step). When it applied nothing or failed, the copy's last
  // write has finished when it returns: the store then holds every entry the runtime saved.
  StatusOr<size_t> RunOnce();
  Status Run(const std::atomic<bool>* stop);
  // Writes what was applied and the runtime's tree.
  Status Save();
  follow::RuntimeStats stats() const;
  metrics::Health health() const;
  const logstore::LogStore* store() const { return follower_.store(); }

 private:
  ReplicaOptions options_;
  ReplicaFollower follower_;
  std::unique_ptr<follow::Runtime> runtime_;
};

}  // namespace probity::replica
