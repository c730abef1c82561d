#include "common/logstore/sequencer.h"

#include <rocksdb/write_batch.h>

#include <map>
#include <unordered_map>

#include "common/logstore/keys.h"
#include "common/merkle/hasher.h"
#include "common/note/key_files.h"
#include "common/time/proto_time.h"

namespace probity::logstore {

StatusOr<std::unique_ptr<Sequencer>> Sequencer::Create(LogStore* store) {
  if (store->read_only()) return FailedPrecondition("the audit log is open read-only");
  std::unique_ptr<Sequencer> s(new Sequencer(store));
  PROBITY_RETURN_IF_ERROR(s->tree_.Load());
  PROBITY_ASSIGN_OR_RETURN(s->dead_letter_next_, store->DeadLetterCount());
  return s;
}

namespace {

// The payload stored in entry `index`, for telling a redelivery from a conflicting resubmission.
StatusOr<std::string> StoredPayload(const LogStore& store, uint64_t index) {
  PROBITY_ASSIGN_OR_RETURN(Entry e, store.Get(index));
  v1::LogRecord r;
  if (!r.ParseFromString(e.record_bytes)) {
    return DataLoss("entry " + std::to_string(index) + " does not parse as a LogRecord");
  }
  return std::move(*r.mutable_payload());
}

}  // namespace

StatusOr<BatchResult> Sequencer::Append(std::vector<v1::LogRecord>* records,
                                        const OffsetMap& offsets,
                                        const std::vector<std::string>& dead_letters,
                                        const std::vector<Serialized>* serialized) {
  return AppendImpl(records, offsets, dead_letters, serialized, /*copy=*/false);
}

StatusOr<BatchResult> Sequencer::AppendCopy(std::vector<v1::LogRecord>* records,
                                            const std::vector<Serialized>& serialized) {
  return AppendImpl(records, {}, {}, &serialized, /*copy=*/true);
}

StatusOr<BatchResult> Sequencer::AppendImpl(std::vector<v1::LogRecord>* records,
                                            const OffsetMap& offsets,
                                            const std::vector<std::string>& dead_letters,
                                            const std::vector<Serialized>* serialized, bool copy) {
  BatchResult result;
  const size_t n = records->size();
  if (serialized != nullptr && serialized->size() != n) {
    return InvalidArgument("append: " + std::to_string(serialized->size()) +
                           " serialized records for " + std::to_string(n) + " records");
  }
  result.outcomes.resize(n, AppendOutcome::kAppended);
  result.indexes.resize(n, UINT64_MAX);

  // 1. Look up every event id at once (a copy: only those its log marked as resubmitted): the
  // committed log, then earlier records of this batch. looked[i]: record i's lookup, or -1.
  std::vector<rocksdb::Slice> ids;
  ids.reserve(n);
  std::vector<int> looked(n, -1);
  for (size_t i = 0; i < n; ++i) {
    const v1::LogRecord& r = (*records)[i];
    if (copy && !r.conflicting_resubmission()) continue;
    looked[i] = static_cast<int>(ids.size());
    ids.emplace_back(r.event_id());
  }
  std::vector<rocksdb::PinnableSlice> found(ids.size());
  std::vector<rocksdb::Status> statuses(ids.size());
  if (!ids.empty()) {
    store_->db()->MultiGet(rocksdb::ReadOptions(), store_->event_index(), ids.size(), ids.data(),
                           found.data(), statuses.data());
  }
  // event id -> every index logged for it so far (committed, then this batch's), in log order.
  std::unordered_map<std::string_view, std::vector<uint64_t>> known;
  known.reserve(n);

  // Index puts go into the batch in record order, so a later put of the same event id (a repeat
  // within the batch) comes after the earlier one. (Sorting them by key helped skiplist
  // memtables; idx_event's hash memtable and idx_practice's vector memtable do not need it.)
  std::string idx_value;
  std::string practice_key;
  // idx_kind: one group per kind present, its indexes ascending (records are taken in order).
  std::map<uint32_t, std::string> kind_groups;  // kind -> be64 indexes

  rocksdb::WriteBatch& batch = batch_;
  batch.Clear();
  std::vector<merkle::Hash>& leaves = result.leaf_hashes;
  leaves.reserve(n);
  result.leaf_ends.reserve(n);
  std::string& leaf_bytes = result.leaf_bytes;
  leaf_bytes.reserve(n * 320);
  uint64_t next = tree_.size();
  for (size_t i = 0; i < n; ++i) {
    v1::LogRecord& rec = (*records)[i];
    auto [kit, first_seen] = known.try_emplace(rec.event_id());
    std::vector<uint64_t>& prior = kit->second;
    const int l = looked[i];
    if (first_seen && l >= 0 && statuses[l].ok()) {
      std::string_view v(found[l].data(), found[l].size());
      if (v.size() % keys::kEventIndexItemSize != 0 || v.empty()) {
        return DataLoss("event index entry for '" + rec.event_id() + "' is malformed");
      }
      for (size_t off = 0; off < v.size(); off += 8)
        prior.push_back(keys::GetBe64(v.substr(off, 8)));
    } else if (first_seen && l >= 0 && !statuses[l].IsNotFound()) {
      return FromRocks(statuses[l], "look up event id");
    }
    if (!prior.empty()) {
      bool duplicate = false;
      for (uint64_t idx : prior) {
        std::string payload;
        if (idx >= tree_.size()) {
          // idx belongs to this batch: find that record.
          for (size_t j = 0; j < i; ++j) {
            if (result.indexes[j] == idx) payload = (*records)[j].payload();
          }
        } else {
          PROBITY_ASSIGN_OR_RETURN(payload, StoredPayload(*store_, idx));
        }
        if (payload == rec.payload()) {
          duplicate = true;
          break;
        }
      }
      if (duplicate) {
        result.outcomes[i] = AppendOutcome::kDuplicate;
        ++result.duplicates;
        continue;
      }
      rec.set_conflicting_resubmission(true);
      rec.set_first_index_of_event_id(prior.front());
      result.outcomes[i] = AppendOutcome::kConflictingAppended;
      ++result.conflicts;
    }
    const uint64_t index = next++;
    result.indexes[i] = index;
    ++result.appended;
    prior.push_back(index);

    // Sequencing: the entry (leaf hash || record bytes) ...
    const size_t begin = leaf_bytes.size();
    merkle::Hash leaf;
    if (serialized != nullptr && result.outcomes[i] == AppendOutcome::kAppended) {
      leaf_bytes.append((*serialized)[i].bytes);
      leaf = (*serialized)[i].leaf;
    } else {
      rec.AppendToString(&leaf_bytes);
      leaf = merkle::HashLeaf(std::string_view(leaf_bytes).substr(begin));
    }
    const std::string_view data = std::string_view(leaf_bytes).substr(begin);
    leaves.push_back(leaf);
    result.leaf_ends.push_back(static_cast<uint32_t>(leaf_bytes.size()));
    char entry_key[8];
    keys::EncodeBe64(entry_key, index);
    const rocksdb::Slice key_part(entry_key, sizeof(entry_key));
    const rocksdb::Slice value_parts[2] = {
        rocksdb::Slice(reinterpret_cast<const char*>(leaf.data()), leaf.size()),
        rocksdb::Slice(data.data(), data.size())};
    batch.Put(store_->entries(), rocksdb::SliceParts(&key_part, 1),
              rocksdb::SliceParts(value_parts, 2));

    // ... and its indexes.
    idx_value.clear();
    for (uint64_t p : prior) keys::PutBe64(&idx_value, p);
    batch.Put(store_->event_index(), rocksdb::Slice(rec.event_id()), idx_value);
    if (!rec.practice_code().empty()) {
      const int64_t occurred = FromTimestamp(rec.occurred_at());
      practice_key.clear();
      keys::AppendPracticeIndexKey(&practice_key, rec.practice_code(), occurred, index);
      batch.Put(store_->practice_index(), practice_key, rocksdb::Slice());
    }
    keys::PutBe64(&kind_groups[static_cast<uint32_t>(rec.kind())], index);
  }

  for (const auto& [kind, indexes] : kind_groups) {
    batch.Put(store_->kind_index(), keys::KindIndexKey(kind, keys::GetBe64(indexes)), indexes);
  }

  // Integration: the tree nodes the new leaves complete.
  PROBITY_RETURN_IF_ERROR(tree_.Stage(leaves, &batch));

  // The consumer offsets the batch came from, and the dead-letter outbox.
  for (const auto& [tp, offset] : offsets) {
    batch.Put(store_->meta(), keys::OffsetKey(tp.first, tp.second),
              keys::Be64(static_cast<uint64_t>(offset)));
  }
  uint64_t dl = dead_letter_next_;
  for (const std::string& d : dead_letters) batch.Put(store_->deadletters(), keys::Be64(dl++), d);
  if (!dead_letters.empty()) batch.Put(store_->meta(), keys::kMetaDeadLetterNext, keys::Be64(dl));

  if (observer_) observer_(batch);
  rocksdb::Status rs = store_->db()->Write(store_->write_options(), &batch);
  if (!rs.ok()) {
    tree_.Discard();
    return FromRocks(rs, "append batch");
  }
  tree_.Commit();
  dead_letter_next_ = dl;
  result.tree_size = tree_.size();
  return result;
}

Status Sequencer::AddCheckpoint(const v1::CheckpointRecord& cp) {
  if (cp.tree_size() > tree_.size()) {
    return InvalidArgument("checkpoint size " + std::to_string(cp.tree_size()) +
                           " is beyond the tree (" + std::to_string(tree_.size()) + ")");
  }
  PROBITY_ASSIGN_OR_RETURN(merkle::Hash root, store_->Root(cp.tree_size()));
  if (cp.root_hash() != merkle::AsBytes(root)) {
    return InvalidArgument("checkpoint root does not match the tree at size " +
                           std::to_string(cp.tree_size()));
  }
  std::string v;
  cp.SerializeToString(&v);
  return FromRocks(store_->db()->Put(store_->write_options(), store_->checkpoints(),
                                     keys::Be64(cp.tree_size()), v),
                   "store checkpoint");
}

Status Sequencer::PinLogKey(const std::string& verifier_key, bool rotate) {
  PROBITY_ASSIGN_OR_RETURN(std::optional<std::string> pinned, store_->PinnedLogKey());
  if (!pinned) {
    return FromRocks(
        store_->db()->Put(store_->write_options(), store_->meta(), keys::kMetaLogKey, verifier_key),
        "pin the log key");
  }
  if (*pinned == verifier_key) return Status::Ok();
  if (!rotate) {
    return FailedPrecondition("the log's checkpoints are signed by " + *pinned +
                              "; refusing to sign with another key (" + verifier_key +
                              "): to rotate the log's key, start ingest once with --rotate-log-key "
                              "(docs/operations.md, \"Key rotation\")");
  }
  PROBITY_ASSIGN_OR_RETURN(std::vector<std::string> known, store_->LogKeys());
  PROBITY_ASSIGN_OR_RETURN(std::vector<note::Verifier> parsed, note::ParseLogKeys(known));
  PROBITY_ASSIGN_OR_RETURN(note::Verifier next, note::Verifier::FromVerifierKey(verifier_key));
  if (next.name() != parsed.front().name()) {
    return FailedPrecondition("the new key names the log '" + next.name() + "', this log is '" +
                              parsed.front().name() +
                              "': a rotated key keeps the log's origin (probity keygen --name " +
                              parsed.front().name() + ")");
  }
  // The retired keys, newest first, without the new one if it signed here before.
  std::string retired;
  for (const std::string& k : known) {
    if (k == verifier_key) continue;
    if (!retired.empty()) retired += '\n';
    retired += k;
  }
  rocksdb::WriteBatch batch;
  batch.Put(store_->meta(), keys::kMetaLogKey, verifier_key);
  batch.Put(store_->meta(), keys::kMetaRetiredLogKeys, retired);
  return FromRocks(store_->db()->Write(store_->write_options(), &batch), "rotate the log key");
}

Status Sequencer::SetLogPublished(uint64_t next) {
  return FromRocks(store_->db()->Put(store_->write_options(), store_->meta(),
                                     keys::kMetaLogPublished, keys::Be64(next)),
                   "store log publish cursor");
}

Status Sequencer::SetDeadLettersPublished(uint64_t next) {
  return FromRocks(store_->db()->Put(store_->write_options(), store_->meta(),
                                     keys::kMetaDeadLetterPublished, keys::Be64(next)),
                   "store dead-letter publish cursor");
}

}  // namespace probity::logstore
