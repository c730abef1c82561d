// The read-only view of the audit log: what followers, the CLI and the api read through. No
// RocksDB types: LogStore (store.h) implements it over the on-disk store, and tests use an
// in-memory fake (tests/common/logstore/fake_log_reader.h). Only the sequencer writes.
//
// Every call reads a consistent state of the log at the moment of the call; a reader of a store
// that is being appended to sees it grow between calls, never shrink.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/merkle/hasher.h"
#include "common/status/status.h"
#include "probity/v1/log.pb.h"

namespace probity::logstore {

struct Entry {
  uint64_t index = 0;
  merkle::Hash leaf_hash{};  // as stored beside the record
  std::string record_bytes;  // the leaf data: a serialized probity.v1.LogRecord
};

class LogReader {
 public:
  virtual ~LogReader() = default;

  // Committed tree size (number of entries).
  virtual StatusOr<uint64_t> TreeSize() const = 0;
  // Root of the tree at `size` (REQUIRES size <= TreeSize()).
  virtual StatusOr<merkle::Hash> Root(uint64_t size) const = 0;

  // kNotFound for an index at or past TreeSize().
  virtual StatusOr<Entry> Get(uint64_t index) const = 0;
  // The entries at `indices`, in that order: the same as Get for each (kNotFound for an index at
  // or past TreeSize()). A store may read neighbouring entries together (LogStore walks one
  // iterator over them in index order); this default reads each alone.
  virtual StatusOr<std::vector<Entry>> GetMany(const std::vector<uint64_t>& indices) const {
    std::vector<Entry> out;
    out.reserve(indices.size());
    for (uint64_t index : indices) {
      PROBITY_ASSIGN_OR_RETURN(Entry e, Get(index));
      out.push_back(std::move(e));
    }
    return out;
  }
  // Calls fn for entries [begin, end) in index order; stops at the first non-ok status it
  // returns, and returns it.
  virtual Status Scan(uint64_t begin, uint64_t end,
                      const std::function<Status(const Entry&)>& fn) const = 0;
  // Indices of every entry with this event id, in log order. Empty when none.
  virtual StatusOr<std::vector<uint64_t>> FindByEventId(const std::string& event_id) const = 0;
  // Indices of a practice's entries with occurred_at in [from, to) µs, in event-time order.
  virtual StatusOr<std::vector<uint64_t>> FindByPractice(const std::string& practice,
                                                         int64_t from_micros, int64_t to_micros,
                                                         size_t limit) const = 0;
  // Indices of entries of this kind at or after from_index, ascending, at most `limit`.
  virtual StatusOr<std::vector<uint64_t>> FindByKind(uint32_t kind, uint64_t from_index,
                                                     size_t limit) const = 0;

  // RFC 6962 proofs against the tree at `size` (REQUIRES index < size <= TreeSize()).
  virtual StatusOr<std::vector<merkle::Hash>> InclusionProof(uint64_t index,
                                                             uint64_t size) const = 0;
  virtual StatusOr<std::vector<merkle::Hash>> ConsistencyProof(uint64_t size1,
                                                               uint64_t size2) const = 0;
  // Inclusion proofs of many entries against the tree at `size`, in the order of `indices`: the
  // same as InclusionProof for each (REQUIRES each index < size <= TreeSize()). A store may read
  // the nodes the proofs share once (LogStore does); this default asks for each proof alone.
  virtual StatusOr<std::vector<std::vector<merkle::Hash>>> InclusionProofs(
      const std::vector<uint64_t>& indices, uint64_t size) const {
    std::vector<std::vector<merkle::Hash>> out;
    out.reserve(indices.size());
    for (uint64_t index : indices) {
      PROBITY_ASSIGN_OR_RETURN(auto proof, InclusionProof(index, size));
      out.push_back(std::move(proof));
    }
    return out;
  }

  // Stored checkpoints, oldest first; the latest one.
  virtual StatusOr<std::vector<v1::CheckpointRecord>> Checkpoints() const = 0;
  virtual StatusOr<std::optional<v1::CheckpointRecord>> LatestCheckpoint() const = 0;

  // The dead-letter outbox: how many, and one by number (serialized v1::DeadLetter).
  virtual StatusOr<uint64_t> DeadLetterCount() const = 0;
  virtual StatusOr<std::string> GetDeadLetter(uint64_t seq) const = 0;
};

}  // namespace probity::logstore
