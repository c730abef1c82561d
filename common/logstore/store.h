// The audit log's storage: RocksDB on disk, an RFC 6962 Merkle tree over every entry, signed
// checkpoints. A LogStore opened read-only serves readers (CLI, api, verify); only the ingest
// service opens it writable and appends through a Sequencer (sequencer.h).
//
// Guarantees (docs/log_format.md):
//  - The log only grows: there is no update or delete path for entries, tiles or checkpoints.
//  - Each entry's index, bytes, indexes and tree nodes are written in one atomic WriteBatch, with
//    the consumer offsets of the messages they came from.
#pragma once

#include <rocksdb/db.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/logstore/reader.h"
#include "common/merkle/hasher.h"
#include "common/merkle/tile.h"
#include "common/note/note.h"
#include "common/status/status.h"
#include "common/sync/mutex.h"
#include "probity/v1/log.pb.h"

namespace probity::logstore {

struct OpenOptions {
  bool read_only = false;
  bool create_if_missing = true;  // ignored when read_only
  bool sync = false;  // fsync the WAL on every batch (survives power loss, not only crashes)
  // With read_only: open as a RocksDB secondary instance keeping its own files in this
  // directory, so that CatchUp() sees what the writer (another process) appended since. Empty:
  // a plain read-only open, which sees the store as it was when opened.
  std::string secondary_path;
  // With read_only (and no secondary_path): opens the meta and entries column families alone, for
  // a reader that copies entries (follow::CatchUpSource). RocksDB then replays only their share of
  // the writer's write-ahead log (measured: half the open's time at 150,000 unflushed entries).
  // TreeSize, Get, GetMany and Scan work; the other reads return kFailedPrecondition.
  bool entries_only = false;
};

// Progress callback for long scans: (done, total).
using ProgressFn = std::function<void(uint64_t, uint64_t)>;

struct VerifyReport {
  uint64_t entries_checked = 0;
  uint64_t checkpoints_checked = 0;
  merkle::Hash root{};
  std::optional<uint64_t> first_bad_index;  // set when verification failed at an entry or node
  uint64_t notes_checked = 0;  // checkpoint notes whose signature was checked (with a log key)
};

class TileCache;

// The on-disk LogReader, and what the sequencer writes through. db() and the column families
// are for the sequencer, verify, benchmarks and tamper tests; everything else reads through
// LogReader.
class LogStore final : public LogReader {
 public:
  ~LogStore();
  static StatusOr<std::unique_ptr<LogStore>> Open(const std::string& path,
                                                  const OpenOptions& options);

  bool read_only() const { return read_only_; }
  // For a store opened with secondary_path: reads what the writer appended since the open or
  // the last CatchUp. REQUIRES: not called concurrently with reads of this store. A no-op
  // otherwise.
  Status CatchUp();
  const std::string& path() const { return path_; }

  // Committed tree size (number of entries). Reads the store each time.
  StatusOr<uint64_t> TreeSize() const override;
  // Root of the committed tree, or of the tree at any earlier size (O(log n) reads).
  StatusOr<merkle::Hash> Root(uint64_t size) const override;

  StatusOr<Entry> Get(uint64_t index) const override;
  // One iterator over the entries in index order: neighbours (a trail's entries, mostly) are read
  // by stepping, not by a lookup each.
  StatusOr<std::vector<Entry>> GetMany(const std::vector<uint64_t>& indices) const override;
  // Indices of every entry with this event id, in log order (more than one only for conflicting
  // resubmissions). Empty when none.
  StatusOr<std::vector<uint64_t>> FindByEventId(const std::string& event_id) const override;
  // Indices of a practice's entries with occurred_at in [from, to) µs, in event-time order.
  StatusOr<std::vector<uint64_t>> FindByPractice(const std::string& practice, int64_t from_micros,
                                                 int64_t to_micros, size_t limit) const override;
  // Indices of entries of this kind at or after from_index, ascending, at most `limit`.
  StatusOr<std::vector<uint64_t>> FindByKind(uint32_t kind, uint64_t from_index,
                                             size_t limit) const override;

  // Calls fn for entries [begin, end) in index order; stops at the first non-ok status it returns.
  Status Scan(uint64_t begin, uint64_t end,
              const std::function<Status(const Entry&)>& fn) const override;

  // RFC 6962 proofs against the tree at `size` (REQUIRES index < size <= TreeSize()).
  StatusOr<std::vector<merkle::Hash>> InclusionProof(uint64_t index, uint64_t size) const override;
  StatusOr<std::vector<merkle::Hash>> ConsistencyProof(uint64_t size1,
                                                       uint64_t size2) const override;
  // Walks the leaves in index order keeping one tile pinned per tile level, so that the tiles a
  // run of neighbouring proofs shares (a trail's proofs share most of their nodes) are read once.
  StatusOr<std::vector<std::vector<merkle::Hash>>> InclusionProofs(
      const std::vector<uint64_t>& indices, uint64_t size) const override;

  // Stored checkpoints, oldest first; the latest one. LatestCheckpoint answers from a copy kept
  // since the last call while the store has taken no write (RocksDB's latest sequence number is
  // unchanged; for a secondary instance, no CatchUp brought one): an api asks for it on every
  // request, and it changes only when a checkpoint is stored.
  StatusOr<std::vector<v1::CheckpointRecord>> Checkpoints() const override;
  StatusOr<std::optional<v1::CheckpointRecord>> LatestCheckpoint() const override
      EXCLUDES(latest_mu_);

  // Next offset to read per (topic, partition), as committed with the entries.
  StatusOr<std::map<std::pair<std::string, int32_t>, int64_t>> ConsumerOffsets() const;
  // Entries below this index are confirmed on probity.log.v1.
  StatusOr<uint64_t> LogPublishedUpTo() const;
  StatusOr<uint64_t> DeadLetterCount() const override;
  StatusOr<uint64_t> DeadLettersPublishedUpTo() const;
  StatusOr<std::string> GetDeadLetter(uint64_t seq) const override;

  // Recomputes every leaf and node from the stored entries and checks them against the stored
  // leaf hashes, tiles, tree size and range, and every stored checkpoint. Returns kDataLoss naming
  // the first bad index on any changed, missing, extra or reordered byte.
  // With `log_keys` (the log's verifier keys: one, or several after a rotation), every stored
  // checkpoint's signed note is checked too, before the entries: its key is its record's size,
  // and it passes CheckCheckpointRecord (proofs.h) with one of them, else kDataLoss naming the
  // size.
  StatusOr<VerifyReport> Verify(const ProgressFn& progress = nullptr,
                                const std::vector<note::Verifier>& log_keys = {}) const;

  // The verifier key the sequencer pinned (keys::kMetaLogKey), or nullopt if none was pinned.
  // It is only as trustworthy as the store: prefer a key the reader holds independently.
  StatusOr<std::optional<std::string>> PinnedLogKey() const;
  // Every verifier key the log's checkpoints were signed with: the pinned one first, then the
  // retired ones, newest first (Sequencer::PinLogKey with rotate). Empty if none was pinned.
  StatusOr<std::vector<std::string>> LogKeys() const;

  // Reads the hashes of perfect nodes from tiles (used by proofs and the sequencer).
  StatusOr<std::vector<merkle::Hash>> ReadNodes(const std::vector<merkle::NodeId>& nodes) const;
  StatusOr<std::optional<merkle::Tile>> ReadTile(merkle::TileId id) const;

  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* meta() const { return cfs_[0]; }
  rocksdb::ColumnFamilyHandle* entries() const { return cfs_[1]; }
  rocksdb::ColumnFamilyHandle* tiles() const { return cfs_[2]; }
  rocksdb::ColumnFamilyHandle* event_index() const { return cfs_[3]; }
  rocksdb::ColumnFamilyHandle* practice_index() const { return cfs_[4]; }
  rocksdb::ColumnFamilyHandle* kind_index() const { return cfs_[5]; }
  rocksdb::ColumnFamilyHandle* checkpoints() const { return cfs_[6]; }
  rocksdb::ColumnFamilyHandle* deadletters() const { return cfs_[7]; }
  const rocksdb::WriteOptions& write_options() const { return write_options_; }

 private:
  static constexpr size_t kColumnFamilies = 8;  // meta() .. deadletters()
  LogStore() = default;
  StatusOr<uint64_t> ReadMetaU64(std::string_view key) const;
  // kFailedPrecondition when `cf` was not opened (OpenOptions::entries_only).
  Status Opened(rocksdb::ColumnFamilyHandle* cf) const;
  std::string path_;
  bool read_only_ = false;
  bool secondary_ = false;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
  rocksdb::WriteOptions write_options_;
  // LatestCheckpoint's copy and the sequence number the store had when it was read.
  mutable Mutex latest_mu_;
  mutable std::optional<rocksdb::SequenceNumber> latest_seq_ GUARDED_BY(latest_mu_);
  mutable std::optional<v1::CheckpointRecord> latest_ GUARDED_BY(latest_mu_);
  // The tiles above tile level 0 as last read, shared by every thread's proofs (store.cc).
  std::unique_ptr<TileCache> tile_cache_;
};

// Maps a RocksDB status to ours.
Status FromRocks(const rocksdb::Status& s, std::string_view what);

}  // namespace probity::logstore
