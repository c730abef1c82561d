// Integration: folds sequenced leaves into the Merkle tree and writes the nodes they complete,
// grouped in tiles (common/merkle/tile.h), into the caller's WriteBatch. Keeps only the compact
// range and the right-edge tile of each tile level in memory, so memory is O(log n).
#pragma once

#include <rocksdb/write_batch.h>

#include <map>
#include <set>

#include "common/merkle/compact_range.h"
#include "common/merkle/tile.h"
#include "common/status/status.h"

namespace probity::logstore {

class LogStore;

class TreeWriter {
 public:
  explicit TreeWriter(LogStore* store) : store_(store) {}

  // Loads the committed tree size, compact range and right-edge tiles.
  Status Load();

  // Stages a batch of leaf hashes: new nodes go into edge tiles; the changed tiles, the tree size
  // and the range are put into *batch. The in-memory state changes only on Commit().
  Status Stage(const std::vector<merkle::Hash>& leaves, rocksdb::WriteBatch* batch);
  // Call after the batch was written; Discard() if it was not.
  void Commit();
  void Discard();

  uint64_t size() const { return range_.size(); }
  merkle::Hash Root() const { return range_.Root(); }

 private:
  LogStore* store_;
  merkle::CompactRange range_;
  std::map<uint32_t, merkle::Tile> edge_;  // tile level -> right-edge tile
  // Staged state, swapped in by Commit().
  merkle::CompactRange staged_range_;
  std::map<uint32_t, merkle::Tile> staged_edge_;
};

}  // namespace probity::logstore
