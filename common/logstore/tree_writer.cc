#include "common/logstore/tree_writer.h"

#include "common/logstore/keys.h"
#include "common/logstore/store.h"

namespace probity::logstore {

Status TreeWriter::Load() {
  PROBITY_ASSIGN_OR_RETURN(uint64_t size, store_->TreeSize());
  std::string raw;
  rocksdb::Status rs =
      store_->db()->Get(rocksdb::ReadOptions(), store_->meta(), keys::kMetaTreeRange, &raw);
  if (!rs.ok() && !rs.IsNotFound()) return FromRocks(rs, "read tree range");
  if (raw.size() % merkle::kHashSize != 0) return DataLoss("stored tree range is malformed");
  std::vector<merkle::Hash> hashes(raw.size() / merkle::kHashSize);
  for (size_t i = 0; i < hashes.size(); ++i) {
    std::copy_n(raw.data() + i * merkle::kHashSize, merkle::kHashSize, hashes[i].begin());
  }
  auto range = merkle::CompactRange::Create(size, std::move(hashes));
  if (!range.ok()) return DataLoss("stored tree range: " + range.status().message());
  range_ = std::move(range).value();
  edge_.clear();
  // The right-edge tile of each level holds the nodes completed so far at that edge.
  for (uint32_t t = 0; (size >> (merkle::kTileHeight * t)) > 0; ++t) {
    uint64_t nodes_at_level = size >> (merkle::kTileHeight * t);
    merkle::TileId id{t, nodes_at_level >> merkle::kTileHeight};
    PROBITY_ASSIGN_OR_RETURN(auto tile, store_->ReadTile(id));
    if (tile) {
      edge_.emplace(t, std::move(*tile));
    } else if ((nodes_at_level & (merkle::kTileWidth - 1)) != 0) {
      return DataLoss("right-edge tile " + std::to_string(t) + "/" + std::to_string(id.index) +
                      " is missing");
    }
  }
  return Status::Ok();
}

Status TreeWriter::Stage(const std::vector<merkle::Hash>& leaves, rocksdb::WriteBatch* batch) {
  staged_range_ = range_;
  staged_edge_ = edge_;
  std::set<merkle::TileId> dirty;
  Status err;
  auto visit = [&](merkle::NodeId node, const merkle::Hash& h) {
    merkle::TileId id = merkle::TileOf(node);
    auto it = staged_edge_.find(id.level);
    if (it == staged_edge_.end() || it->second.id() != id) {
      if (it != staged_edge_.end() && dirty.count(it->second.id())) {
        // The previous edge tile is complete: write it before moving on.
        const merkle::Tile& done = it->second;
        batch->Put(store_->tiles(), keys::TileKey(done.id().level, done.id().index),
                   done.Serialize());
        dirty.erase(done.id());
      }
      it = staged_edge_.insert_or_assign(id.level, merkle::Tile(id)).first;
    }
    Status st = it->second.Set(node, h);
    if (!st.ok() && err.ok()) err = st;
    dirty.insert(id);
  };
  for (const merkle::Hash& leaf : leaves) staged_range_.Append(leaf, visit);
  PROBITY_RETURN_IF_ERROR(err);
  for (const auto& [level, tile] : staged_edge_) {
    if (dirty.count(tile.id())) {
      batch->Put(store_->tiles(), keys::TileKey(tile.id().level, tile.id().index),
                 tile.Serialize());
    }
  }
  batch->Put(store_->meta(), keys::kMetaTreeSize, keys::Be64(staged_range_.size()));
  std::string range;
  range.reserve(staged_range_.hashes().size() * merkle::kHashSize);
  for (const auto& h : staged_range_.hashes()) range.append(merkle::AsBytes(h));
  batch->Put(store_->meta(), keys::kMetaTreeRange, range);
  return Status::Ok();
}

void TreeWriter::Commit() {
  range_ = std::move(staged_range_);
  edge_ = std::move(staged_edge_);
}

void TreeWriter::Discard() {
  staged_range_ = merkle::CompactRange();
  staged_edge_.clear();
}

}  // namespace probity::logstore
