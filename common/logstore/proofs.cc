#include "common/logstore/proofs.h"

#include <algorithm>
#include <string>

#include "common/merkle/hasher.h"
#include "common/note/checkpoint.h"

namespace probity::logstore {
namespace {

void AddHashes(const std::vector<merkle::Hash>& hashes,
               google::protobuf::RepeatedPtrField<std::string>* out) {
  out->Reserve(static_cast<int>(hashes.size()));
  for (const merkle::Hash& h : hashes) out->Add(std::string(merkle::AsBytes(h)));
}

Status CheckSize(const LogReader& log, uint64_t size) {
  PROBITY_ASSIGN_OR_RETURN(uint64_t tree, log.TreeSize());
  if (size > tree) {
    return InvalidArgument("size " + std::to_string(size) + " is beyond the tree (" +
                           std::to_string(tree) + " entries)");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<v1::InclusionProof> MakeInclusionProof(const LogReader& log, uint64_t index,
                                                uint64_t size) {
  if (index >= size) {
    return InvalidArgument("index " + std::to_string(index) + " is not in a tree of " +
                           std::to_string(size) + " entries");
  }
  PROBITY_RETURN_IF_ERROR(CheckSize(log, size));
  PROBITY_ASSIGN_OR_RETURN(Entry e, log.Get(index));
  PROBITY_ASSIGN_OR_RETURN(std::vector<merkle::Hash> path, log.InclusionProof(index, size));
  v1::InclusionProof p;
  p.set_leaf_index(index);
  p.set_tree_size(size);
  p.set_leaf_hash(std::string(merkle::AsBytes(e.leaf_hash)));
  AddHashes(path, p.mutable_hashes());
  return p;
}

StatusOr<v1::ConsistencyProof> MakeConsistencyProof(const LogReader& log, uint64_t old_size,
                                                    uint64_t new_size) {
  if (old_size == 0) {
    return InvalidArgument(
        "no consistency proof from size 0: RFC 9162 defines none (the empty tree is consistent "
        "with every tree)");
  }
  if (old_size > new_size) {
    return InvalidArgument("old size " + std::to_string(old_size) + " is above the new size " +
                           std::to_string(new_size));
  }
  PROBITY_RETURN_IF_ERROR(CheckSize(log, new_size));
  PROBITY_ASSIGN_OR_RETURN(std::vector<merkle::Hash> path,
                           log.ConsistencyProof(old_size, new_size));
  v1::ConsistencyProof p;
  p.set_old_size(old_size);
  p.set_new_size(new_size);
  AddHashes(path, p.mutable_hashes());
  return p;
}

StatusOr<v1::EntryProof> MakeEntryProof(const LogReader& log, uint64_t index, uint64_t size) {
  PROBITY_ASSIGN_OR_RETURN(v1::InclusionProof proof, MakeInclusionProof(log, index, size));
  PROBITY_ASSIGN_OR_RETURN(Entry e, log.Get(index));
  if (merkle::HashLeaf(e.record_bytes) != e.leaf_hash) {
    return DataLoss("entry " + std::to_string(index) +
                    ": stored bytes do not match their leaf hash");
  }
  v1::EntryProof out;
  out.set_index(index);
  out.set_leaf(std::move(e.record_bytes));
  *out.mutable_proof() = std::move(proof);
  return out;
}

StatusOr<v1::Checkpoint> CheckCheckpointRecord(const v1::CheckpointRecord& record,
                                               const note::Verifier& log_key) {
  return CheckCheckpointRecord(record, std::vector<note::Verifier>{log_key});
}

StatusOr<v1::Checkpoint> CheckCheckpointRecord(const v1::CheckpointRecord& record,
                                               const std::vector<note::Verifier>& log_keys) {
  const std::string at = "checkpoint at size " + std::to_string(record.tree_size()) + ": ";
  if (log_keys.empty()) return InvalidArgument(at + "no log key to check it with");
  auto opened = note::Open(record.signed_note(), log_keys);
  if (!opened.ok()) return DataLoss(at + opened.status().message());
  auto cp = note::ParseCheckpoint(opened->text);
  if (!cp.ok()) return DataLoss(at + cp.status().message());
  // Every key of one log carries its origin (ParseLogKeys), so the first names it.
  const std::string& origin = log_keys.front().name();
  if (cp->origin != origin) {
    return DataLoss(at + "origin '" + cp->origin + "' is not the log's '" + origin + "'");
  }
  if (cp->size != record.tree_size()) {
    return DataLoss(at + "the signed note is for size " + std::to_string(cp->size));
  }
  if (merkle::AsBytes(cp->root) != record.root_hash()) {
    return DataLoss(at + "the signed note's root is not the stored root");
  }
  v1::Checkpoint out;
  out.set_origin(cp->origin);
  out.set_tree_size(cp->size);
  out.set_root_hash(std::string(merkle::AsBytes(cp->root)));
  out.set_signed_note(record.signed_note());
  for (const note::Signature& s : opened->unverified) out.add_witnesses(s.name);
  return out;
}

StatusOr<std::optional<v1::Checkpoint>> LatestVerifiedCheckpoint(const LogReader& log,
                                                                 const note::Verifier& log_key,
                                                                 std::optional<uint64_t> at_size) {
  return LatestVerifiedCheckpoint(log, std::vector<note::Verifier>{log_key}, at_size);
}

StatusOr<std::optional<v1::Checkpoint>> LatestVerifiedCheckpoint(
    const LogReader& log, const std::vector<note::Verifier>& log_keys,
    std::optional<uint64_t> at_size) {
  // Largest first: usually one signature check. (The record under the largest key is not
  // necessarily the largest verified checkpoint: a store may hold an older note there.)
  PROBITY_ASSIGN_OR_RETURN(std::vector<v1::CheckpointRecord> all, log.Checkpoints());
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return a.tree_size() > b.tree_size(); });
  for (const v1::CheckpointRecord& r : all) {
    if (at_size && r.tree_size() != *at_size) continue;
    if (auto cp = CheckCheckpointRecord(r, log_keys); cp.ok()) return {std::move(cp).value()};
  }
  return std::optional<v1::Checkpoint>();
}

}  // namespace probity::logstore
