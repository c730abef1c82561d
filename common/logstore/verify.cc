// LogStore::Verify: recomputes every leaf and node from the stored entries and checks them against
// the stored tiles, tree size, range and checkpoints (store.h).
#include <cstdlib>
#include <map>
#include <optional>

#include "common/logstore/keys.h"
#include "common/logstore/store.h"
#include "common/merkle/compact_range.h"

namespace probity::logstore {

StatusOr<VerifyReport> LogStore::Verify(const ProgressFn& progress) const {
  VerifyReport report;
  PROBITY_ASSIGN_OR_RETURN(uint64_t size, TreeSize());
  PROBITY_ASSIGN_OR_RETURN(auto checkpoints, Checkpoints());
  size_t next_cp = 0;
  merkle::CompactRange range;
  // Tiles are compared as they are read: cache the current tile of each level.
  std::map<uint32_t, std::optional<merkle::Tile>> tiles;
  Status node_error;
  uint64_t bad_index = 0;
  auto check_node = [&](merkle::NodeId n, const merkle::Hash& h) {
    if (!node_error.ok()) return;
    merkle::TileId tid = merkle::TileOf(n);
    auto& cached = tiles[tid.level];
    if (!cached || cached->id().index != tid.index) {
      auto t = ReadTile(tid);
      if (!t.ok()) {
        node_error = t.status();
        return;
      }
      cached = std::move(t).value();
      if (!cached) {
        node_error = DataLoss("tile " + std::to_string(tid.level) + "/" +
                              std::to_string(tid.index) + " is missing");
        return;
      }
    }
    std::optional<merkle::Hash> stored = cached->Get(n);
    if (!stored) {
      node_error = DataLoss("tree node " + std::to_string(n.level) + "/" +
                            std::to_string(n.index) + " is missing");
    } else if (*stored != h) {
      node_error = DataLoss("tree node " + std::to_string(n.level) + "/" +
                            std::to_string(n.index) + " does not match the entries below it");
    }
  };
  auto fail_at = [&](uint64_t index, const std::string& why) -> Status {
    bad_index = index;
    return DataLoss("entry " + std::to_string(index) + ": " + why);
  };
  auto check_checkpoints = [&](uint64_t at) -> Status {
    while (next_cp < checkpoints.size() && checkpoints[next_cp].tree_size() == at) {
      const auto& cp = checkpoints[next_cp];
      merkle::Hash root = range.Root();
      if (cp.root_hash() != merkle::AsBytes(root)) {
        bad_index = at == 0 ? 0 : at - 1;
        return DataLoss("checkpoint at size " + std::to_string(at) +
                        " does not match the root recomputed from the entries (first bad index "
                        "is at or before " + std::to_string(bad_index) + ")");
      }
      ++report.checkpoints_checked;
      ++next_cp;
    }
    return Status::Ok();
  };
  Status st = check_checkpoints(0);
  if (st.ok()) {
    st = Scan(0, size, [&](const Entry& e) -> Status {
      merkle::Hash leaf = merkle::HashLeaf(e.record_bytes);
      if (leaf != e.leaf_hash) return fail_at(e.index, "stored bytes do not match their leaf hash");
      range.Append(leaf, check_node);
      if (!node_error.ok()) return fail_at(e.index, node_error.message());
      ++report.entries_checked;
      if (progress && (e.index & 0xffff) == 0) progress(e.index, size);
      return check_checkpoints(e.index + 1);
    });
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
  if (st.ok()) {
    std::string stored_range;
    rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), meta(), keys::kMetaTreeRange, &stored_range);
    if (!rs.ok() && !rs.IsNotFound()) return FromRocks(rs, "read tree range");
    std::string want;
    for (const auto& h : range.hashes()) want.append(merkle::AsBytes(h));
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
  report.root = range.Root();
  if (progress) progress(size, size);
  return report;
}

}  // namespace probity::logstore
