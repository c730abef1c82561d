#include "common/logstore/store.h"

#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include "common/logstore/keys.h"
#include "common/merkle/compact_range.h"
#include "common/merkle/proof.h"
#include "common/note/key_files.h"

namespace probity::logstore {

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string m = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return DataLoss(m);
  if (s.IsNotFound()) return NotFound(m);
  if (s.IsIOError()) return IoError(m);
  return Internal(m);
}

namespace {

rocksdb::ColumnFamilyOptions CfOptions(bool bloom, rocksdb::CompressionType compression,
                                       const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions o;
  o.write_buffer_size = 64 << 20;
  o.compression = compression;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  if (bloom) {
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    // The sequencer looks up every new event id, and nearly all are absent: a whole-key bloom
    // filter on the memtable answers those without walking the skiplist.
    o.memtable_prefix_bloom_size_ratio = 0.02;
    o.memtable_whole_key_filtering = true;
  }
  t.cache_index_and_filter_blocks = true;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

}  // namespace

LogStore::~LogStore() {
  if (db_ && !read_only_) {
    // A clean close leaves nothing in the WAL to replay, so the next open (a reader's
    // `probity log verify`, say) does not rebuild the memtables first.
    rocksdb::FlushOptions fo;
    (void)db_->Flush(fo, cfs_);
  }
  if (db_) {
    for (auto* h : cfs_) {
      if (h != nullptr) db_->DestroyColumnFamilyHandle(h);
    }
    db_->Close();
  }
}

StatusOr<std::unique_ptr<LogStore>> LogStore::Open(const std::string& path,
                                                   const OpenOptions& options) {
  std::unique_ptr<LogStore> s(new LogStore());
  s->tile_cache_ = std::make_unique<TileCache>();
  s->path_ = path;
  s->read_only_ = options.read_only;
  s->write_options_.sync = options.sync;

  rocksdb::DBOptions dbo;
  dbo.create_if_missing = options.create_if_missing && !options.read_only;
  dbo.create_missing_column_families = !options.read_only;
  dbo.max_background_jobs = 2;
  dbo.max_open_files = 512;
  // One writer (the Sequencer) writes one batch at a time, so parallel memtable inserts would
  // never happen; the hash memtable of idx_event (below) does not support them.
  dbo.allow_concurrent_memtable_write = false;
  auto cache = rocksdb::NewLRUCache(256 << 20);
  std::vector<rocksdb::ColumnFamilyDescriptor> cfds = {
      {rocksdb::kDefaultColumnFamilyName, CfOptions(false, rocksdb::kNoCompression, cache)},
      {keys::kEntriesCf, CfOptions(false, rocksdb::kLZ4Compression, cache)},
      // Hashes do not compress; tree nodes live apart from entries so that their writes and
      // compactions do not drag the entries along (measured: doubles append speed).
      {keys::kTilesCf, CfOptions(false, rocksdb::kNoCompression, cache)},
      {keys::kEventIndexCf, CfOptions(true, rocksdb::kLZ4Compression, cache)},
      {keys::kPracticeIndexCf, CfOptions(false, rocksdb::kLZ4Compression, cache)},
      {keys::kKindIndexCf, CfOptions(false, rocksdb::kLZ4Compression, cache)},
      {keys::kCheckpointsCf, CfOptions(false, rocksdb::kNoCompression, cache)},
      {keys::kDeadLettersCf, CfOptions(false, rocksdb::kLZ4Compression, cache)},
  };
  // idx_practice gets one random-key put per entry and is read only by range scans (queries,
  // never the sequencer): a vector memtable makes each insert an append and sorts once, at flush
  // (measured: appends 164k -> 235k/s with idx_kind, which now has a few keys per batch). The
  // price is paid by a reader that scans the live memtable, which sorts a copy of it: at most
  // write_buffer_size (16 MB, about 400k keys) for this column family. In-memory only: nothing
  // on disk depends on it.
  cfds[4].options.memtable_factory.reset(new rocksdb::VectorRepFactory());
  cfds[4].options.write_buffer_size = 16 << 20;
  // idx_event is read by point lookups only (MultiGet, Get), and event ids are random: a hash
  // memtable makes each insert and lookup O(1) instead of a skiplist walk. An iterator over
  // idx_event MUST set ReadOptions::total_order_seek (the prefix extractor is the whole key).
  // The two column families that take most of an append's bytes and keys may fill up to four
  // memtables before writes stall, so a slow flush (sorting idx_event's hash memtable) overlaps
  // with appends instead of stopping them (measured: the sequencer's own batches, replayed, went
  // from 3.3-4.1 ms to 2.2-2.5 ms real time per 1,000 entries; 2.0 ms CPU either way).
  cfds[1].options.max_write_buffer_number = 4;
  cfds[3].options.max_write_buffer_number = 4;
  cfds[3].options.prefix_extractor.reset(rocksdb::NewNoopTransform());
  cfds[3].options.memtable_factory.reset(rocksdb::NewHashSkipListRepFactory());
  rocksdb::DB* raw = nullptr;
  rocksdb::Status rs;
  if (!options.read_only && options.create_if_missing) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);  // RocksDB creates the last level only
  }
  if (options.read_only && !options.secondary_path.empty()) {
    dbo.max_open_files = -1;  // RocksDB requires it of a secondary instance
    std::error_code ec;
    std::filesystem::create_directories(options.secondary_path, ec);
    rs = rocksdb::DB::OpenAsSecondary(dbo, path, options.secondary_path, cfds, &s->cfs_, &raw);
    s->secondary_ = rs.ok();
  } else if (options.read_only) {
    // RocksDB opens a subset read-only, replaying only its share of the write-ahead log.
    if (options.entries_only) cfds.resize(2);
    rs = rocksdb::DB::OpenForReadOnly(dbo, path, cfds, &s->cfs_, &raw);
    s->cfs_.resize(kColumnFamilies, nullptr);
  } else {
    rs = rocksdb::DB::Open(dbo, path, cfds, &s->cfs_, &raw);
  }
  if (!rs.ok()) {
    if (rs.IsIOError() && options.read_only) {
      return NotFound("no audit log at " + path + " (" + rs.ToString() + ")");
    }
    return FromRocks(rs, "open audit log at " + path);
  }
  s->db_.reset(raw);

  std::string fmt;
  rs = s->db_->Get(rocksdb::ReadOptions(), s->meta(), keys::kMetaFormat, &fmt);
  if (rs.IsNotFound()) {
    if (options.read_only) return FailedPrecondition(path + " is not a Probity audit log");
    rs = s->db_->Put(s->write_options_, s->meta(), keys::kMetaFormat, keys::kFormatVersion);
    PROBITY_RETURN_IF_ERROR(FromRocks(rs, "write format marker"));
  } else if (!rs.ok()) {
    return FromRocks(rs, "read format marker");
  } else if (fmt != keys::kFormatVersion) {
    return FailedPrecondition(path + " has log format '" + fmt + "', this build reads '" +
                              std::string(keys::kFormatVersion) +
                              "' (keep it with the build that wrote it, or start a new log in "
                              "another data directory; docs/log_format.md lists the formats)");
  }
  return s;
}

Status LogStore::Opened(rocksdb::ColumnFamilyHandle* cf) const {
  if (cf != nullptr) return Status::Ok();
  return FailedPrecondition("the audit log at " + path_ +
                            " was opened for its entries only (OpenOptions::entries_only)");
}

StatusOr<uint64_t> LogStore::ReadMetaU64(std::string_view key) const {
  std::string v;
  rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), meta(), key, &v);
  if (rs.IsNotFound()) return uint64_t{0};
  PROBITY_RETURN_IF_ERROR(FromRocks(rs, "read " + std::string(key)));
  if (v.size() != 8) return DataLoss("meta key " + std::string(key) + " is not 8 bytes");
  return keys::GetBe64(v);
}

Status LogStore::CatchUp() {
  if (!secondary_) return Status::Ok();
  return FromRocks(db_->TryCatchUpWithPrimary(), "catch up with the writer");
}

StatusOr<std::optional<std::string>> LogStore::PinnedLogKey() const {
  std::string v;
  rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), meta(), keys::kMetaLogKey, &v);
  if (rs.IsNotFound()) return std::optional<std::string>();
  PROBITY_RETURN_IF_ERROR(FromRocks(rs, "read the pinned log key"));
  return std::optional<std::string>(std::move(v));
}

StatusOr<std::vector<std::string>> LogStore::LogKeys() const {
  std::vector<std::string> keys;
  PROBITY_ASSIGN_OR_RETURN(std::optional<std::string> pinned, PinnedLogKey());
  if (!pinned) return keys;
  keys.push_back(std::move(*pinned));
  std::string v;
  rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), meta(), keys::kMetaRetiredLogKeys, &v);
  if (rs.IsNotFound()) return keys;
  PROBITY_RETURN_IF_ERROR(FromRocks(rs, "read the retired log keys"));
  for (std::string& k : note::SplitKeyLines(v)) keys.push_back(std::move(k));
  return keys;
}

StatusOr<uint64_t> LogStore::TreeSize() const { return ReadMetaU64(keys::kMetaTreeSize); }
StatusOr<uint64_t> LogStore::LogPublishedUpTo() const {
  return ReadMetaU64(keys::kMetaLogPublished);
}
StatusOr<uint64_t> LogStore::DeadLetterCount() const {
  return ReadMetaU64(keys::kMetaDeadLetterNext);
}
StatusOr<uint64_t> LogStore::DeadLettersPublishedUpTo() const {
  return ReadMetaU64(keys::kMetaDeadLetterPublished);
}

StatusOr<std::string> LogStore::GetDeadLetter(uint64_t seq) const {
  PROBITY_RETURN_IF_ERROR(Opened(deadletters()));
  std::string v;
  rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), deadletters(), keys::Be64(seq), &v);
  if (rs.IsNotFound()) return NotFound("no dead letter " + std::to_string(seq));
  PROBITY_RETURN_IF_ERROR(FromRocks(rs, "read dead letter"));
  return v;
}

StatusOr<std::optional<merkle::Tile>> LogStore::ReadTile(merkle::TileId id) const {
  PROBITY_RETURN_IF_ERROR(Opened(tiles()));
  std::string v;
  rocksdb::Status rs =
      db_->Get(rocksdb::ReadOptions(), tiles(), keys::TileKey(id.level, id.index), &v);
  if (rs.IsNotFound()) return std::optional<merkle::Tile>();
  PROBITY_RETURN_IF_ERROR(FromRocks(rs, "read tile"));
  auto t = merkle::Tile::Parse(id, v);
  if (!t.ok()) {
    return DataLoss("tile " + std::to_string(id.level) + "/" + std::to_string(id.index) + ": " +
                    t.status().message());
  }
  return std::optional<merkle::Tile>(std::move(t).value());
}

// The tiles above tile level 0 (1/256 of the tree's nodes), each as last read. A node never
// changes once written and the log only grows, so a copy answers for every node it holds; a tile
// that grew since is read again when a node it lacks is asked for. Thread-safe.
class TileCache {
 public:
  // Level-0 tiles are not kept: there are 256 times more of them, and a proof needs one each.
  static bool Keeps(const merkle::TileId& id) { return id.level >= 1; }
  std::shared_ptr<const std::string> Find(const merkle::TileId& id) const EXCLUDES(mu_) {
    MutexLock l(&mu_);
    auto it = tiles_.find(id);
    return it == tiles_.end() ? nullptr : it->second;
  }
  void Put(const merkle::TileId& id, std::shared_ptr<const std::string> bytes) EXCLUDES(mu_) {
    MutexLock l(&mu_);
    if (tiles_.size() < kMaxTiles || tiles_.count(id) > 0) tiles_[id] = std::move(bytes);
  }

 private:
  // 64 MB of tiles: every tile above level 0 of a tree of 2^28 leaves. Beyond, they are read.
  static constexpr size_t kMaxTiles = 4096;
  mutable Mutex mu_;
  std::map<merkle::TileId, std::shared_ptr<const std::string>> tiles_ GUARDED_BY(mu_);
};

namespace {

// Reads node hashes in place from tiles, keeping the last few tiles read at each tile level pinned
// (no copy of their 16 KB): the nodes of one proof come from its leaf's tiles and, against a size
// that is no power of two, from the tiles at the tree's right edge; neighbouring leaves share both.
// Tiles above level 0 come from the store's TileCache.
class TileReader {
 public:
  TileReader(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* tiles, TileCache* cache)
      : db_(db), tiles_(tiles), cache_(cache) {
    levels_.reserve(8);  // a 64-bit tree has at most 8 tile levels: slots never move
  }

  StatusOr<merkle::Hash> Read(const merkle::NodeId& n) {
    const merkle::TileId tid = merkle::TileOf(n);
    if (tid.level >= levels_.size()) levels_.resize(tid.level + 1);
    std::array<Slot, kSlots>& level = levels_[tid.level];
    Slot* slot = nullptr;
    for (Slot& s : level) {
      if (s.id && *s.id == tid) slot = &s;
    }
    if (slot == nullptr) {
      slot = &level[0];  // the least recently used
      for (Slot& s : level) {
        if (s.used < slot->used) slot = &s;
      }
      slot->id.reset();
      slot->cached = TileCache::Keeps(tid) ? cache_->Find(tid) : nullptr;
      if (!slot->cached) PROBITY_RETURN_IF_ERROR(Load(tid, n, slot));
      slot->id = tid;
    }
    slot->used = ++clock_;
    auto h = merkle::Tile::GetFromSerialized(tid, slot->bytes(), n);
    if (!h.ok() && h.status().code() == Code::kNotFound && slot->cached) {
      // The kept copy is from before the tile grew to hold n.
      slot->id.reset();
      PROBITY_RETURN_IF_ERROR(Load(tid, n, slot));
      slot->id = tid;
      h = merkle::Tile::GetFromSerialized(tid, slot->bytes(), n);
    }
    if (!h.ok()) {
      if (h.status().code() == Code::kNotFound) {
        return DataLoss("tree node " + std::to_string(n.level) + "/" + std::to_string(n.index) +
                        " is missing from its tile");
      }
      return DataLoss("tile " + std::to_string(tid.level) + "/" + std::to_string(tid.index) + ": " +
                      h.status().message());
    }
    return *h;
  }

 private:
  static constexpr size_t kSlots = 4;
  struct Slot {
    rocksdb::PinnableSlice tile;                // read from the store, or
    std::shared_ptr<const std::string> cached;  // the cache's copy
    std::optional<merkle::TileId> id;
    uint64_t used = 0;
    std::string_view bytes() const {
      return cached ? std::string_view(*cached) : std::string_view(tile.data(), tile.size());
    }
  };
  // Reads tile tid (which holds node n) from the store into *slot, and into the cache if it keeps
  // it.
  Status Load(const merkle::TileId& tid, const merkle::NodeId& n, Slot* slot) {
    slot->tile.Reset();
    slot->cached.reset();
    const std::string key = keys::TileKey(tid.level, tid.index);
    rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), tiles_, key, &slot->tile);
    if (rs.IsNotFound()) {
      return DataLoss("tree node " + std::to_string(n.level) + "/" + std::to_string(n.index) +
                      " is missing: no tile " + std::to_string(tid.level) + "/" +
                      std::to_string(tid.index));
    }
    PROBITY_RETURN_IF_ERROR(FromRocks(rs, "read tile"));
    if (TileCache::Keeps(tid)) {
      slot->cached = std::make_shared<const std::string>(slot->tile.data(), slot->tile.size());
      slot->tile.Reset();
      cache_->Put(tid, slot->cached);
    }
    return Status::Ok();
  }
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* tiles_;
  TileCache* cache_;
  std::vector<std::array<Slot, kSlots>> levels_;
  uint64_t clock_ = 0;
};

}  // namespace

StatusOr<std::vector<merkle::Hash>> LogStore::ReadNodes(
    const std::vector<merkle::NodeId>& nodes) const {
  PROBITY_RETURN_IF_ERROR(Opened(tiles()));
  std::vector<merkle::Hash> out;
  out.reserve(nodes.size());
  TileReader reader(db_.get(), tiles(), tile_cache_.get());
  for (const merkle::NodeId& n : nodes) {
    PROBITY_ASSIGN_OR_RETURN(merkle::Hash h, reader.Read(n));
    out.push_back(h);
  }
  return out;
}

StatusOr<merkle::Hash> LogStore::Root(uint64_t size) const {
  PROBITY_ASSIGN_OR_RETURN(uint64_t tree_size, TreeSize());
  if (size > tree_size) {
    return InvalidArgument("size " + std::to_string(size) + " is beyond the tree (" +
                           std::to_string(tree_size) + " entries)");
  }
  if (size == 0) return merkle::EmptyRoot();
  PROBITY_ASSIGN_OR_RETURN(auto hashes, ReadNodes(merkle::RangeNodes(0, size)));
  return merkle::FoldRight(hashes);
}

StatusOr<Entry> LogStore::Get(uint64_t index) const {
  std::string v;
  rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), entries(), keys::EntryKey(index), &v);
  if (rs.IsNotFound()) return NotFound("no entry at index " + std::to_string(index));
  PROBITY_RETURN_IF_ERROR(FromRocks(rs, "read entry"));
  if (v.size() < keys::kLeafHashSize) {
    return DataLoss("entry " + std::to_string(index) + " is shorter than its leaf hash");
  }
  Entry e;
  e.index = index;
  std::memcpy(e.leaf_hash.data(), v.data(), keys::kLeafHashSize);
  e.record_bytes = v.substr(keys::kLeafHashSize);
  return e;
}

StatusOr<std::vector<Entry>> LogStore::GetMany(const std::vector<uint64_t>& indices) const {
  std::vector<size_t> order(indices.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return indices[a] < indices[b]; });
  std::vector<Entry> out(indices.size());
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), entries()));
  // Within this distance the iterator steps (a few hundred ns each) rather than seeks.
  constexpr uint64_t kStep = 16;
  for (size_t k : order) {
    const uint64_t want = indices[k];
    const std::string key = keys::EntryKey(want);
    uint64_t at = 0;
    bool valid = it->Valid() && it->key().size() == 8;
    if (valid) at = keys::GetBe64(std::string_view(it->key().data(), 8));
    if (!valid || at > want || want - at > kStep) {
      it->Seek(key);
    } else {
      while (it->Valid() && it->key().compare(key) < 0) it->Next();
    }
    PROBITY_RETURN_IF_ERROR(FromRocks(it->status(), "read entry"));
    if (!it->Valid() || it->key() != key)
      return NotFound("no entry at index " + std::to_string(want));
    const rocksdb::Slice v = it->value();
    if (v.size() < keys::kLeafHashSize) {
      return DataLoss("entry " + std::to_string(want) + " is shorter than its leaf hash");
    }
    Entry& e = out[k];
    e.index = want;
    std::memcpy(e.leaf_hash.data(), v.data(), keys::kLeafHashSize);
    e.record_bytes.assign(v.data() + keys::kLeafHashSize, v.size() - keys::kLeafHashSize);
  }
  return out;
}

StatusOr<std::vector<uint64_t>> LogStore::FindByEventId(const std::string& event_id) const {
  PROBITY_RETURN_IF_ERROR(Opened(event_index()));
  std::string v;
  rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), event_index(), event_id, &v);
  std::vector<uint64_t> out;
  if (rs.IsNotFound()) return out;
  PROBITY_RETURN_IF_ERROR(FromRocks(rs, "read event index"));
  if (v.size() % keys::kEventIndexItemSize != 0) return DataLoss("event index for " + event_id);
  for (size_t i = 0; i < v.size(); i += keys::kEventIndexItemSize) {
    out.push_back(keys::GetBe64(std::string_view(v).substr(i, 8)));
  }
  return out;
}

StatusOr<std::vector<uint64_t>> LogStore::FindByPractice(const std::string& practice,
                                                         int64_t from_micros, int64_t to_micros,
                                                         size_t limit) const {
  PROBITY_RETURN_IF_ERROR(Opened(practice_index()));
  std::vector<uint64_t> out;
  std::string lo = keys::PracticeIndexKey(practice, from_micros, 0);
  std::string hi = keys::PracticeIndexKey(practice, to_micros, 0);
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(hi);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, practice_index()));
  for (it->Seek(lo); it->Valid() && out.size() < limit; it->Next()) {
    rocksdb::Slice k = it->key();
    out.push_back(keys::GetBe64(std::string_view(k.data() + k.size() - 8, 8)));
  }
  PROBITY_RETURN_IF_ERROR(FromRocks(it->status(), "scan practice index"));
  return out;
}

StatusOr<std::vector<uint64_t>> LogStore::FindByKind(uint32_t kind, uint64_t from_index,
                                                     size_t limit) const {
  PROBITY_RETURN_IF_ERROR(Opened(kind_index()));
  std::vector<uint64_t> out;
  const std::string lo = keys::KindIndexKey(kind, 0);
  const std::string hi = keys::KindIndexKey(kind + 1, 0);
  rocksdb::ReadOptions ro;
  rocksdb::Slice lower(lo), upper(hi);
  ro.iterate_lower_bound = &lower;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, kind_index()));
  // Groups are keyed by their first index: the one holding from_index starts at or before it.
  it->SeekForPrev(keys::KindIndexKey(kind, from_index));
  if (!it->Valid()) it->Seek(lo);
  for (; it->Valid() && out.size() < limit; it->Next()) {
    const rocksdb::Slice v = it->value();
    if (it->key().size() != 12 || v.size() % 8 != 0 || v.empty()) {
      return DataLoss("malformed kind index group");
    }
    for (size_t off = 0; off < v.size() && out.size() < limit; off += 8) {
      const uint64_t index = keys::GetBe64(std::string_view(v.data() + off, 8));
      if (index >= from_index) out.push_back(index);
    }
  }
  PROBITY_RETURN_IF_ERROR(FromRocks(it->status(), "scan kind index"));
  return out;
}

Status LogStore::Scan(uint64_t begin, uint64_t end,
                      const std::function<Status(const Entry&)>& fn) const {
  rocksdb::ReadOptions ro;
  std::string hi = keys::EntryKey(end);
  rocksdb::Slice upper(hi);
  ro.iterate_upper_bound = &upper;
  ro.readahead_size = 2 << 20;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, entries()));
  uint64_t want = begin;
  Entry e;
  for (it->Seek(keys::EntryKey(begin)); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    rocksdb::Slice v = it->value();
    if (k.size() != 8)
      return DataLoss("entry key of " + std::to_string(k.size()) + " bytes after index " +
                      std::to_string(want));
    uint64_t index = keys::GetBe64(std::string_view(k.data(), 8));
    if (index != want) return DataLoss("entry " + std::to_string(want) + " is missing");
    if (v.size() < keys::kLeafHashSize)
      return DataLoss("entry " + std::to_string(index) + " is truncated");
    e.index = index;
    std::memcpy(e.leaf_hash.data(), v.data(), keys::kLeafHashSize);
    e.record_bytes.assign(v.data() + keys::kLeafHashSize, v.size() - keys::kLeafHashSize);
    PROBITY_RETURN_IF_ERROR(fn(e));
    ++want;
  }
  PROBITY_RETURN_IF_ERROR(FromRocks(it->status(), "scan entries"));
  if (want < end) return DataLoss("entry " + std::to_string(want) + " is missing");
  return Status::Ok();
}

StatusOr<std::vector<merkle::Hash>> LogStore::InclusionProof(uint64_t index, uint64_t size) const {
  PROBITY_ASSIGN_OR_RETURN(uint64_t tree_size, TreeSize());
  if (size > tree_size) {
    return InvalidArgument("size " + std::to_string(size) + " is beyond the tree (" +
                           std::to_string(tree_size) + " entries)");
  }
  PROBITY_ASSIGN_OR_RETURN(merkle::ProofPlan plan, merkle::InclusionPlan(index, size));
  PROBITY_ASSIGN_OR_RETURN(auto fetched, ReadNodes(plan.nodes));
  return plan.Assemble(fetched);
}

StatusOr<std::vector<std::vector<merkle::Hash>>> LogStore::InclusionProofs(
    const std::vector<uint64_t>& indices, uint64_t size) const {
  PROBITY_RETURN_IF_ERROR(Opened(tiles()));
  PROBITY_ASSIGN_OR_RETURN(uint64_t tree_size, TreeSize());
  if (size > tree_size) {
    return InvalidArgument("size " + std::to_string(size) + " is beyond the tree (" +
                           std::to_string(tree_size) + " entries)");
  }
  // In index order, neighbouring proofs read their nodes from the same pinned tiles.
  std::vector<size_t> order(indices.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return indices[a] < indices[b]; });
  TileReader reader(db_.get(), tiles(), tile_cache_.get());
  // Neighbouring proofs share most of their hashes, so what one proof needed is kept for the next:
  // the last node read at each level, and each fold of the tree's right edge (the hash of a last,
  // partial node: against one size, the fold that starts at a given node is always the same).
  struct Kept {
    std::optional<merkle::NodeId> id;
    merkle::Hash hash{};
  };
  std::vector<Kept> last(64);
  std::map<merkle::NodeId, merkle::Hash> folds;
  std::vector<std::vector<merkle::Hash>> out(indices.size());
  std::vector<merkle::Hash> fetched;
  for (size_t k : order) {
    PROBITY_ASSIGN_OR_RETURN(merkle::ProofPlan plan, merkle::InclusionPlan(indices[k], size));
    std::vector<merkle::Hash>& proof = out[k];
    proof.reserve(plan.proof_size());
    size_t begin = 0;
    for (uint32_t end : plan.entry_ends) {
      const merkle::NodeId& first = plan.nodes[begin];
      if (end - begin == 1) {
        Kept& kept = last[first.level];
        if (kept.id != first) {
          PROBITY_ASSIGN_OR_RETURN(kept.hash, reader.Read(first));
          kept.id = first;
        }
        proof.push_back(kept.hash);
      } else {
        auto it = folds.find(first);
        if (it == folds.end()) {
          fetched.clear();
          for (size_t i = begin; i < end; ++i) {
            PROBITY_ASSIGN_OR_RETURN(merkle::Hash h, reader.Read(plan.nodes[i]));
            fetched.push_back(h);
          }
          it = folds.emplace(first, merkle::FoldRight(fetched)).first;
        }
        proof.push_back(it->second);
      }
      begin = end;
    }
  }
  return out;
}

StatusOr<std::vector<merkle::Hash>> LogStore::ConsistencyProof(uint64_t size1,
                                                               uint64_t size2) const {
  PROBITY_ASSIGN_OR_RETURN(uint64_t tree_size, TreeSize());
  if (size2 > tree_size) {
    return InvalidArgument("size " + std::to_string(size2) + " is beyond the tree (" +
                           std::to_string(tree_size) + " entries)");
  }
  PROBITY_ASSIGN_OR_RETURN(merkle::ProofPlan plan, merkle::ConsistencyPlan(size1, size2));
  PROBITY_ASSIGN_OR_RETURN(auto fetched, ReadNodes(plan.nodes));
  return plan.Assemble(fetched);
}

StatusOr<std::vector<v1::CheckpointRecord>> LogStore::Checkpoints() const {
  PROBITY_RETURN_IF_ERROR(Opened(checkpoints()));
  std::vector<v1::CheckpointRecord> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), checkpoints()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    v1::CheckpointRecord r;
    if (!r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return DataLoss("stored checkpoint does not parse");
    }
    out.push_back(std::move(r));
  }
  PROBITY_RETURN_IF_ERROR(FromRocks(it->status(), "scan checkpoints"));
  return out;
}

StatusOr<std::optional<v1::CheckpointRecord>> LogStore::LatestCheckpoint() const {
  PROBITY_RETURN_IF_ERROR(Opened(checkpoints()));
  // Read before the store is: a copy read at sequence s or later holds every checkpoint written up
  // to s, so it is good for as long as the sequence number stays at s.
  const rocksdb::SequenceNumber seq = db_->GetLatestSequenceNumber();
  {
    MutexLock l(&latest_mu_);
    if (latest_seq_ == seq) return latest_;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), checkpoints()));
  it->SeekToLast();
  PROBITY_RETURN_IF_ERROR(FromRocks(it->status(), "read latest checkpoint"));
  if (!it->Valid()) return std::optional<v1::CheckpointRecord>();
  v1::CheckpointRecord r;
  if (!r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
    return DataLoss("latest checkpoint does not parse");
  }
  MutexLock l(&latest_mu_);
  latest_seq_ = seq;
  latest_ = r;
  return std::optional<v1::CheckpointRecord>(std::move(r));
}

StatusOr<std::map<std::pair<std::string, int32_t>, int64_t>> LogStore::ConsumerOffsets() const {
  std::map<std::pair<std::string, int32_t>, int64_t> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta()));
  for (it->Seek(keys::kOffsetPrefix); it->Valid() && it->key().starts_with(keys::kOffsetPrefix);
       it->Next()) {
    std::string_view k(it->key().data(), it->key().size());
    k.remove_prefix(keys::kOffsetPrefix.size());
    if (k.size() < 5 || k[k.size() - 5] != '\0' || it->value().size() != 8) {
      return DataLoss("malformed consumer offset key");
    }
    std::string topic(k.substr(0, k.size() - 5));
    int32_t partition = static_cast<int32_t>(keys::GetBe32(k.substr(k.size() - 4)));
    out[{topic, partition}] =
        static_cast<int64_t>(keys::GetBe64(std::string_view(it->value().data(), 8)));
  }
  PROBITY_RETURN_IF_ERROR(FromRocks(it->status(), "scan consumer offsets"));
  return out;
}

}  // namespace probity::logstore
