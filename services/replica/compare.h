// Compares a replica's copy of the log with the sequencer's store, byte for byte: what
// `probity replica compare` prints and what the replica tests and the soak check.
//
// Equal means, for the two stores as they are when read:
//  - the same tree size, tree range and format (meta), so the same roots and proofs;
//  - every key and value of the entries, tiles, idx_event and idx_practice column families;
//  - idx_kind by its answers: the same indices, ascending, for every kind (its keys are grouped
//    by appended batch, and a replica's batches are its own);
//  - checkpoints: with CompareOptions::every_checkpoint, the same keys and values; otherwise every
//    checkpoint the copy holds is byte-identical to the primary's at that size, and the latest of
//    each is the same (the sequencer re-publishes only its latest checkpoint after a crash, so a
//    checkpoint it stored just before being killed may never reach a follower).
// Not compared: consumer offsets, publication cursors, the pinned log key and the dead-letter
// outbox (the sequencer's own state, not the log's).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/logstore/store.h"
#include "common/status/status.h"

namespace probity::replica {

struct CompareOptions {
  bool every_checkpoint = true;
};

struct Comparison {
  uint64_t tree_size = 0;  // the primary's
  uint64_t entries = 0;    // keys compared in each column family (the primary's count)
  uint64_t tiles = 0;
  uint64_t event_keys = 0;
  uint64_t practice_keys = 0;
  uint64_t kind_indices = 0;  // indices listed in idx_kind
  uint64_t checkpoints = 0;   // checkpoints the copy holds, each equal to the primary's
  uint64_t primary_checkpoints = 0;
  std::vector<std::string> differences;  // empty: equal; otherwise the first of each kind

  bool equal() const { return differences.empty(); }
};

// Reads both stores whole. An I/O error is a Status; a difference is a line in `differences`.
// REQUIRES: nothing writes either store while this runs (open them read-only, or stop writers).
StatusOr<Comparison> CompareStores(const logstore::LogStore& primary,
                                   const logstore::LogStore& copy,
                                   const CompareOptions& options = {});

}  // namespace probity::replica
