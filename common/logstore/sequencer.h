// The Sequencer is the audit log's only writer. It gives each accepted record the next index
// (sequencing) and folds its leaf into the Merkle tree (integration, tree_writer.h); both land in
// one atomic RocksDB WriteBatch with the record's indexes and the consumer offsets of the
// messages the batch came from, so a crash at any point leaves either all of a batch or none.
#pragma once

#include <rocksdb/write_batch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/logstore/store.h"
#include "common/logstore/tree_writer.h"
#include "common/status/status.h"
#include "probity/v1/log.pb.h"

namespace probity::logstore {

using OffsetMap = std::map<std::pair<std::string, int32_t>, int64_t>;

enum class AppendOutcome {
  kAppended,             // a new event id
  kDuplicate,            // exact redelivery: same event id, same payload bytes; nothing appended
  kConflictingAppended,  // same event id with other bytes: appended and marked
};

struct BatchResult {
  std::vector<AppendOutcome> outcomes;  // one per record, in order
  std::vector<uint64_t> indexes;  // the index given to each record, or UINT64_MAX for duplicates
  uint64_t appended = 0;
  uint64_t duplicates = 0;
  uint64_t conflicts = 0;
  uint64_t tree_size = 0;  // after the batch
  // The appended entries, in index order from tree_size - appended: each one's leaf data (the
  // serialized LogRecord, exactly the stored bytes) and leaf hash, so that publishers need not
  // serialize and hash them again. leaf_data(k) is entry tree_size - appended + k.
  std::string leaf_bytes;
  std::vector<uint32_t> leaf_ends;  // end offset of each entry's bytes in leaf_bytes
  std::vector<merkle::Hash> leaf_hashes;
  std::string_view leaf_data(size_t k) const {
    const uint32_t begin = k == 0 ? 0 : leaf_ends[k - 1];
    return std::string_view(leaf_bytes).substr(begin, leaf_ends[k] - begin);
  }
};

class Sequencer {
 public:
  // REQUIRES: store is open writable and outlives the Sequencer. MUST be the only Sequencer of the
  // store (RocksDB's lock already keeps other processes out).
  static StatusOr<std::unique_ptr<Sequencer>> Create(LogStore* store);

  // Appends every record that is not an exact redelivery, and commits `offsets` (next offset to
  // read per topic-partition) and `dead_letters` (serialized DeadLetter records for the outbox)
  // in the same WriteBatch. Records are completed in place: conflicting_resubmission and
  // first_index_of_event_id are set here. On failure nothing is written and the Sequencer's
  // in-memory state is unchanged.
  //
  // `serialized`, when given, holds each record's bytes and leaf hash computed ahead (on another
  // thread, say), one per record; they are used unless Append changes the record (a conflicting
  // resubmission is serialized again with its marks). REQUIRES: serialized[i].bytes ==
  // records[i].SerializeAsString() and serialized[i].leaf == merkle::HashLeaf(those bytes).
  struct Serialized {
    std::string bytes;
    merkle::Hash leaf{};
  };
  StatusOr<BatchResult> Append(std::vector<v1::LogRecord>* records, const OffsetMap& offsets,
                               const std::vector<std::string>& dead_letters,
                               const std::vector<Serialized>* serialized = nullptr);
  // Append for a verified copy of a log (the replica): the records are that log's entries, in its
  // order, so each is the first of its event id unless the log marked it a conflicting
  // resubmission (a redelivery was never logged). Only those marked are looked up in the event
  // index; the others are appended without the lookup (ingest's Append looks every id up).
  StatusOr<BatchResult> AppendCopy(std::vector<v1::LogRecord>* records,
                                   const std::vector<Serialized>& serialized);

  // Stores a checkpoint. REQUIRES: its tree_size <= size() and its root matches the tree at that
  // size (checked).
  Status AddCheckpoint(const v1::CheckpointRecord& checkpoint);
  // Pins the verifier key of the key that signs this log's checkpoints (LogStore::PinnedLogKey)
  // if none is pinned. kFailedPrecondition, changing nothing, if another key is pinned: a log
  // MUST NOT silently change its signing key. With `rotate`, another key replaces the pinned one
  // deliberately (`probity ingest --rotate-log-key`): the old one joins the retired keys
  // (LogStore::LogKeys), with which the checkpoints it signed stay verifiable. The new key must
  // name the same log (origin): kFailedPrecondition otherwise.
  Status PinLogKey(const std::string& verifier_key, bool rotate = false);
  // Records that entries below `next` (resp. dead letters) are confirmed on the bus.
  Status SetLogPublished(uint64_t next);
  Status SetDeadLettersPublished(uint64_t next);

  // Benchmarks only: sees each WriteBatch just before it is written (logstore_bench replays them
  // to measure what RocksDB alone needs for exactly these writes).
  void SetBatchObserver(std::function<void(const rocksdb::WriteBatch&)> observer) {
    observer_ = std::move(observer);
  }

  uint64_t size() const { return tree_.size(); }
  merkle::Hash root() const { return tree_.Root(); }
  uint64_t dead_letter_count() const { return dead_letter_next_; }

 private:
  explicit Sequencer(LogStore* store) : store_(store), tree_(store) {}
  StatusOr<BatchResult> AppendImpl(std::vector<v1::LogRecord>* records, const OffsetMap& offsets,
                                   const std::vector<std::string>& dead_letters,
                                   const std::vector<Serialized>* serialized, bool copy);
  LogStore* store_;
  TreeWriter tree_;
  uint64_t dead_letter_next_ = 0;
  std::function<void(const rocksdb::WriteBatch&)> observer_;
  // Each Append's batch, cleared and reused: its buffer keeps the largest batch's capacity, so a
  // batch of thousands of entries is not written into freshly faulted-in pages every time.
  rocksdb::WriteBatch batch_;
};

}  // namespace probity::logstore
