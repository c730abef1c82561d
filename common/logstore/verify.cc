// LogStore::Verify: recomputes every leaf and node from the stored entries and checks them against
// the stored tiles, tree size, range and checkpoints (store.h).
//
// How it is fast and still reports exactly what a one-pass check in log order would:
//  - The entries are split into aligned chunks of 2^kChunkLevel leaves. Worker threads take chunks
//    in increasing order; each scans its chunk with its own RocksDB iterator (bounded to the
//    chunk's keys, so the chunks partition the key space exactly as one iterator over [0, size)
//    would), hashes every leaf straight from the iterator's value (no copy), folds the chunk's own
//    compact range and checks every node inside the chunk (levels 0 .. kChunkLevel) against the
//    tiles, which it reads pinned and in place (no Tile parse). It stops at the first failure in
//    its chunk and records it with the index it happened at.
//  - The calling thread consumes chunk results strictly in index order: it replays, for each
//    chunk, what the sequential loop did after each entry (progress callback, checkpoint checks at
//    the sizes they name, and for a chunk's last entry the nodes above the chunk, which it folds
//    from the chunk roots), and stops at the first failure in log order. Later chunks that failed
//    too are never looked at, so the first bad index and the message are those of the one-pass
//    check. The progress callback is only ever called from the calling thread.
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/logstore/keys.h"
#include "common/logstore/proofs.h"
#include "common/logstore/store.h"
#include "common/merkle/compact_range.h"
#include "common/sync/mutex.h"

namespace probity::logstore {
namespace {

// 16,384 entries per chunk: small enough to balance two threads and to keep the progress
// callback moving, large enough that the per-chunk iterator setup is noise.
constexpr uint32_t kChunkLevel = 14;
constexpr uint64_t kChunkSize = uint64_t{1} << kChunkLevel;
constexpr size_t kMaxThreads = 4;

// Checks tree nodes against the stored tiles, keeping the current tile of each tile level pinned
// (as LogStore::ReadTile followed by Tile::Get would, with the same messages) and reading hashes
// in place. One per thread.
class NodeChecker {
 public:
  NodeChecker(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* tiles) : db_(db), tiles_(tiles) {}

  // Empty on success; otherwise the message the sequential check gave for this node.
  bool Check(merkle::NodeId n, const merkle::Hash& h, std::string* error) {
    const merkle::TileId tid = merkle::TileOf(n);
    Slot& slot = slots_[tid.level];
    if (!slot.loaded || slot.id.index != tid.index) {
      if (!Load(tid, n, &slot, error)) return false;
    }
    const uint32_t row = merkle::TileRow(n);
    const uint32_t offset = merkle::TileOffset(n);
    if (offset >= (slot.width >> row)) {
      *error =
          "tree node " + std::to_string(n.level) + "/" + std::to_string(n.index) + " is missing";
      return false;
    }
    const char* stored =
        slot.bytes.data() + slot.row_start[row] + size_t{offset} * merkle::kHashSize;
    if (std::memcmp(stored, h.data(), merkle::kHashSize) != 0) {
      *error = "tree node " + std::to_string(n.level) + "/" + std::to_string(n.index) +
               " does not match the entries below it";
      return false;
    }
    return true;
  }

 private:
  struct Slot {
    bool loaded = false;
    merkle::TileId id;
    rocksdb::PinnableSlice bytes;
    uint32_t width = 0;
    std::array<size_t, merkle::kTileHeight> row_start{};
  };

  bool Load(merkle::TileId tid, merkle::NodeId n, Slot* slot, std::string* error) {
    slot->loaded = false;
    slot->bytes.Reset();
    const std::string key = keys::TileKey(tid.level, tid.index);
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;  // each tile is read once per pass; its bytes stay pinned in the slot
    rocksdb::Status rs = db_->Get(ro, tiles_, key, &slot->bytes);
    if (rs.IsNotFound()) {
      *error =
          "tile " + std::to_string(tid.level) + "/" + std::to_string(tid.index) + " is missing";
      return false;
    }
    if (!rs.ok()) {
      *error = FromRocks(rs, "read tile").message();
      return false;
    }
    const std::string_view bytes(slot->bytes.data(), slot->bytes.size());
    // Same header and length checks (and messages) as Tile::Parse, which ReadTile used.
    auto probe = merkle::Tile::GetFromSerialized(tid, bytes, n);
    if (!probe.ok() && probe.status().code() != Code::kNotFound) {
      *error = "tile " + std::to_string(tid.level) + "/" + std::to_string(tid.index) + ": " +
               probe.status().message();
      return false;
    }
    slot->width = uint32_t{static_cast<uint8_t>(bytes[0])} << 8 | static_cast<uint8_t>(bytes[1]);
    size_t pos = 2;
    for (uint32_t r = 0; r < merkle::kTileHeight; ++r) {
      slot->row_start[r] = pos;
      pos += size_t{slot->width >> r} * merkle::kHashSize;
    }
    slot->id = tid;
    slot->loaded = true;
    return true;
  }

  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* tiles_;
  std::array<Slot, 64 / merkle::kTileHeight + 1> slots_;  // tile levels of node levels 0..64
};

// What a worker found in one chunk [begin, end).
struct ChunkResult {
  // Entries [begin, ok_end) passed every check inside the chunk. If ok_end < end, or `error` is
  // set, the sequential check failed with `error` right after finishing entry ok_end - 1 (and
  // the checkpoint checks at size ok_end).
  uint64_t ok_end = 0;
  Status error;
  bool error_sets_bad_index = false;  // the failure was an entry or node mismatch (fail_at)
  // The chunk's compact range (local, largest first) after each checkpoint size in
  // (begin, end] it reached, and at the end of the chunk.
  std::vector<std::pair<uint64_t, std::vector<merkle::Hash>>> ranges_at;
  std::vector<merkle::Hash> final_range;
};

ChunkResult VerifyChunk(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* entries, NodeChecker* checker,
                        uint64_t begin, uint64_t end, const std::vector<uint64_t>& cp_sizes) {
  ChunkResult res;
  rocksdb::ReadOptions ro;
  const std::string hi = keys::EntryKey(end);
  rocksdb::Slice upper(hi);
  ro.iterate_upper_bound = &upper;
  // Each chunk's iterator seeks every LSM level; a 2 MB readahead per level per chunk read
  // (and copied) far more than the chunk (measured: 256 KB costs ~20% less CPU).
  ro.readahead_size = 256 << 10;
  ro.fill_cache = false;  // a one-pass scan: do not churn the block cache
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, entries));
  auto cp = std::upper_bound(cp_sizes.begin(), cp_sizes.end(), begin);
  merkle::CompactRange range;  // leaves of this chunk, local indices
  std::string node_error;
  uint64_t want = begin;
  auto fail_scan = [&](Status st) {
    res.error = std::move(st);
    res.ok_end = want;
    res.final_range = range.hashes();
    return res;
  };
  const std::string lo = keys::EntryKey(begin);
  for (it->Seek(lo); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    const rocksdb::Slice v = it->value();
    if (k.size() != 8) {
      return fail_scan(DataLoss("entry key of " + std::to_string(k.size()) + " bytes after index " +
                                std::to_string(want)));
    }
    const uint64_t index = keys::GetBe64(std::string_view(k.data(), 8));
    if (index != want) return fail_scan(DataLoss("entry " + std::to_string(want) + " is missing"));
    if (v.size() < keys::kLeafHashSize) {
      return fail_scan(DataLoss("entry " + std::to_string(index) + " is truncated"));
    }
    const merkle::Hash leaf = merkle::HashLeaf(
        std::string_view(v.data() + keys::kLeafHashSize, v.size() - keys::kLeafHashSize));
    if (std::memcmp(leaf.data(), v.data(), keys::kLeafHashSize) != 0) {
      res.error_sets_bad_index = true;
      return fail_scan(DataLoss("entry " + std::to_string(index) +
                                ": stored bytes do not match their leaf hash"));
    }
    range.Append(leaf, [&](merkle::NodeId n, const merkle::Hash& h) {
      if (!node_error.empty()) return;
      checker->Check(merkle::NodeId{n.level, n.index + (begin >> n.level)}, h, &node_error);
    });
    if (!node_error.empty()) {
      res.error_sets_bad_index = true;
      return fail_scan(DataLoss("entry " + std::to_string(index) + ": " + node_error));
    }
    ++want;
    if (cp != cp_sizes.end() && *cp == want) {
      res.ranges_at.emplace_back(want, range.hashes());
      ++cp;
    }
  }
  Status st = FromRocks(it->status(), "scan entries");
  if (!st.ok()) return fail_scan(std::move(st));
  if (want < end) return fail_scan(DataLoss("entry " + std::to_string(want) + " is missing"));
  res.ok_end = end;
  res.final_range = range.hashes();
  return res;
}

}  // namespace

StatusOr<VerifyReport> LogStore::Verify(const ProgressFn& progress,
                                        const std::vector<note::Verifier>& log_keys) const {
  PROBITY_RETURN_IF_ERROR(Opened(tiles()));
  VerifyReport report;
  if (!log_keys.empty()) {
    // Every stored note, by key: the record under be64(N) MUST be the checkpoint of size N, and
    // its note MUST be signed by the log's key for that size and root.
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), checkpoints()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const rocksdb::Slice k = it->key();
      v1::CheckpointRecord r;
      if (k.size() != 8 ||
          !r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return DataLoss("a stored checkpoint does not parse");
      }
      const uint64_t keyed = keys::GetBe64(std::string_view(k.data(), 8));
      if (r.tree_size() != keyed) {
        return DataLoss("checkpoint stored at size " + std::to_string(keyed) +
                        " is the record of size " + std::to_string(r.tree_size()));
      }
      PROBITY_RETURN_IF_ERROR(CheckCheckpointRecord(r, log_keys).status());
      ++report.notes_checked;
    }
    PROBITY_RETURN_IF_ERROR(FromRocks(it->status(), "scan checkpoints"));
  }
  PROBITY_ASSIGN_OR_RETURN(uint64_t size, TreeSize());
  PROBITY_ASSIGN_OR_RETURN(auto checkpoints, Checkpoints());
  size_t next_cp = 0;
  // The sizes at which the one-pass check compares a checkpoint: the longest non-decreasing
  // prefix of the stored checkpoints' sizes that stays within the tree (a checkpoint out of order
  // blocks the ones after it, which are then reported as beyond the tree).
  std::vector<uint64_t> cp_sizes;
  for (const auto& cp : checkpoints) {
    const uint64_t s = cp.tree_size();
    if (s > size || (!cp_sizes.empty() && s < cp_sizes.back())) break;
    if (cp_sizes.empty() || s != cp_sizes.back()) cp_sizes.push_back(s);
  }

  // Nodes above the chunks, folded from the chunk roots on this thread.
  merkle::CompactRange upper;
  NodeChecker upper_checker(db(), tiles());
  uint64_t bad_index = 0;
  auto fail_at = [&](uint64_t index, const std::string& why) -> Status {
    bad_index = index;
    return DataLoss("entry " + std::to_string(index) + ": " + why);
  };
  // The root of the tree of `at` leaves, given the compact range of the chunk `at` falls in.
  auto root_with = [&](const std::vector<merkle::Hash>* local) {
    std::vector<merkle::Hash> all = upper.hashes();
    if (local) all.insert(all.end(), local->begin(), local->end());
    return merkle::FoldRight(all);
  };
  auto check_checkpoints = [&](uint64_t at, const std::vector<merkle::Hash>* local) -> Status {
    while (next_cp < checkpoints.size() && checkpoints[next_cp].tree_size() == at) {
      const auto& cp = checkpoints[next_cp];
      merkle::Hash root = root_with(local);
      if (cp.root_hash() != merkle::AsBytes(root)) {
        bad_index = at == 0 ? 0 : at - 1;
        return DataLoss("checkpoint at size " + std::to_string(at) +
                        " does not match the root recomputed from the entries (first bad index "
                        "is at or before " +
                        std::to_string(bad_index) + ")");
      }
      ++report.checkpoints_checked;
      ++next_cp;
    }
    return Status::Ok();
  };

  std::vector<merkle::Hash> tail_range;  // local range of a last, partial chunk
  Status st = check_checkpoints(0, nullptr);
  const uint64_t num_chunks = (size + kChunkSize - 1) / kChunkSize;
  if (st.ok() && num_chunks > 0) {
    // Workers hand finished chunks to this thread in any order; it takes them in order.
    struct Handoff {
      Mutex mu;
      CondVar cv;
      std::vector<ChunkResult> results GUARDED_BY(mu);
      std::vector<char> ready GUARDED_BY(mu);
    } done;
    {
      MutexLock lock(&done.mu);
      done.results.resize(num_chunks);
      done.ready.assign(num_chunks, 0);
    }
    std::atomic<uint64_t> next_chunk{0};
    std::atomic<uint64_t> stop_after{num_chunks};  // chunks beyond this one are not needed
    auto worker = [&] {
      NodeChecker checker(db(), tiles());
      for (;;) {
        const uint64_t c = next_chunk.fetch_add(1);
        if (c >= num_chunks || c > stop_after.load()) return;
        const uint64_t b = c * kChunkSize;
        ChunkResult r =
            VerifyChunk(db(), entries(), &checker, b, std::min(size, b + kChunkSize), cp_sizes);
        if (!r.error.ok()) {
          uint64_t cur = stop_after.load();
          while (c < cur && !stop_after.compare_exchange_weak(cur, c)) {
          }
        }
        {
          MutexLock lock(&done.mu);
          done.results[c] = std::move(r);
          done.ready[c] = 1;
        }
        done.cv.NotifyAll();
      }
    };
    const size_t hw = std::max<size_t>(1, std::thread::hardware_concurrency());
    const size_t nthreads = std::min<size_t>({hw, kMaxThreads, num_chunks});
    std::vector<std::thread> threads;
    threads.reserve(nthreads);
    for (size_t i = 0; i < nthreads; ++i) threads.emplace_back(worker);

    for (uint64_t c = 0; c < num_chunks && st.ok(); ++c) {
      ChunkResult r;
      {
        MutexLock lock(&done.mu);
        while (done.ready[c] == 0) done.cv.Wait(&done.mu);
        r = std::move(done.results[c]);
      }
      const uint64_t b = c * kChunkSize;
      const uint64_t e = std::min(size, b + kChunkSize);
      const bool full = e - b == kChunkSize;
      const uint64_t ok_end = r.ok_end;
      // Entries [b, e) all passed inside the chunk (a failure may still follow the last one, as
      // a missing or stray key would): fold the chunk root into the nodes above.
      const bool fold = full && ok_end == e;
      // Replay, in entry order, what the one-pass check did after each entry of [b, ok_end):
      // the nodes above the chunk (last entry of a full chunk), progress, checkpoints.
      std::vector<uint64_t> points;  // entries after which something happens
      for (uint64_t p = (b + 0xffff) & ~uint64_t{0xffff}; p < ok_end; p += 0x10000)
        points.push_back(p);
      for (const auto& [s, hashes] : r.ranges_at) {
        if (s <= ok_end) points.push_back(s - 1);
      }
      if (fold) points.push_back(e - 1);
      std::sort(points.begin(), points.end());
      points.erase(std::unique(points.begin(), points.end()), points.end());
      size_t next_range = 0;
      for (uint64_t idx : points) {
        if (fold && idx == e - 1) {
          std::string node_error;
          const merkle::Hash chunk_root = r.final_range.front();
          upper.Append(chunk_root, [&](merkle::NodeId n, const merkle::Hash& h) {
            if (n.level == 0 || !node_error.empty())
              return;  // the chunk root: checked by the worker
            upper_checker.Check(merkle::NodeId{n.level + kChunkLevel, n.index}, h, &node_error);
          });
          if (!node_error.empty()) {
            st = fail_at(idx, node_error);
            break;
          }
        }
        if (progress && (idx & 0xffff) == 0) progress(idx, size);
        while (next_range < r.ranges_at.size() && r.ranges_at[next_range].first < idx + 1)
          ++next_range;
        if (next_range < r.ranges_at.size() && r.ranges_at[next_range].first == idx + 1) {
          // After folding a full chunk into `upper`, the chunk's range is already in it.
          const bool folded = fold && idx == e - 1;
          st = check_checkpoints(idx + 1, folded ? nullptr : &r.ranges_at[next_range].second);
          if (!st.ok()) break;
        }
      }
      if (!st.ok()) break;
      report.entries_checked += ok_end - b;
      if (!r.error.ok()) {
        if (r.error_sets_bad_index) bad_index = ok_end;
        st = std::move(r.error);
        break;
      }
      if (!full) tail_range = std::move(r.final_range);
    }
    stop_after.store(0);
    for (auto& t : threads) t.join();
  }
  if (st.ok()) {
    // Nothing may sit beyond the committed size.
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), entries()));
    it->Seek(keys::EntryKey(size));
    if (it->Valid()) {
      bad_index = size;
      st = DataLoss("entry " + std::to_string(size) + " exists beyond the tree size " +
                    std::to_string(size));
    }
  }
  if (st.ok() && next_cp < checkpoints.size()) {
    bad_index = size;
    st = DataLoss("checkpoint at size " + std::to_string(checkpoints[next_cp].tree_size()) +
                  " is beyond the stored tree (" + std::to_string(size) + " entries): truncated");
  }
  std::vector<merkle::Hash> final_range = upper.hashes();
  final_range.insert(final_range.end(), tail_range.begin(), tail_range.end());
  if (st.ok()) {
    std::string stored_range;
    rocksdb::Status rs =
        db_->Get(rocksdb::ReadOptions(), meta(), keys::kMetaTreeRange, &stored_range);
    if (!rs.ok() && !rs.IsNotFound()) return FromRocks(rs, "read tree range");
    std::string want;
    for (const auto& h : final_range) want.append(merkle::AsBytes(h));
    if (stored_range != want) {
      bad_index = size == 0 ? 0 : size - 1;
      st = DataLoss("stored tree range does not match the entries");
    }
  }
  if (!st.ok()) {
    if (st.code() == Code::kDataLoss && !report.first_bad_index) {
      // Scan reports a missing entry by message; recover its index when we did not set one.
      report.first_bad_index = bad_index;
      if (st.message().rfind("entry ", 0) == 0) {
        report.first_bad_index = std::strtoull(st.message().c_str() + 6, nullptr, 10);
      }
    }
    return Status(st.code(), st.message() + " [first bad index " +
                                 std::to_string(report.first_bad_index.value_or(bad_index)) + "]");
  }
  report.root = merkle::FoldRight(final_range);
  if (progress) progress(size, size);
  return report;
}

}  // namespace probity::logstore
