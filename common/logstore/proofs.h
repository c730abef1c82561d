// What the log hands to third parties, as the messages of proto/probity/v1/proofs.proto:
// inclusion and consistency proofs, entries with their proofs, and signed checkpoints checked
// against the log's key. Every caller that serves proofs (the CLI, the api, dispute bundles)
// builds them here, so they all say the same thing the same way; docs/checkpoints.md is the
// third party's side.
//
// Conventions (MUST hold for every message built here):
//  - hashes are raw 32-byte `bytes` fields, so the one JSON printer (codec::ToJson) prints them
//    as standard base64 with padding, the encoding C2SP checkpoints use for roots;
//  - a proof names the tree size it is for; callers choose that size from a signed checkpoint
//    (LatestVerifiedCheckpoint) unless the reader asked for another;
//  - a consistency proof from size 0 is refused: RFC 9162 §2.1.4 defines none (the empty tree
//    is consistent with every tree, so there is nothing to prove).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/logstore/reader.h"
#include "common/note/note.h"
#include "common/status/status.h"
#include "probity/v1/log.pb.h"
#include "probity/v1/proofs.pb.h"

namespace probity::logstore {

// The inclusion proof of entry `index` in the tree of `size` entries, with the entry's leaf hash.
// kInvalidArgument unless index < size <= log.TreeSize().
StatusOr<v1::InclusionProof> MakeInclusionProof(const LogReader& log, uint64_t index,
                                                uint64_t size);

// The consistency proof from the tree of `old_size` entries to the tree of `new_size`.
// kInvalidArgument if old_size == 0, old_size > new_size or new_size > log.TreeSize().
StatusOr<v1::ConsistencyProof> MakeConsistencyProof(const LogReader& log, uint64_t old_size,
                                                    uint64_t new_size);

// Entry `index`'s exact leaf bytes (the stored LogRecord) and its inclusion proof in the tree of
// `size`. Same errors as MakeInclusionProof; kDataLoss if the stored bytes do not hash to the
// stored leaf hash.
StatusOr<v1::EntryProof> MakeEntryProof(const LogReader& log, uint64_t index, uint64_t size);

// Checks a stored checkpoint record against the log's key: its note opens with `log_key` (origin
// = the key's name, Probity's rule), and the size and root in the note equal the record's.
// Returns the Checkpoint message: origin, size, root, the note as stored, and in `witnesses` the
// names of the note's other signatures (cosignatures the sequencer collected, in note order).
// kDataLoss naming the record's size when the note does not open or does not match the record.
StatusOr<v1::Checkpoint> CheckCheckpointRecord(const v1::CheckpointRecord& record,
                                               const note::Verifier& log_key);
// The same for a log whose key was rotated: the note must open with one of `log_keys` (the log's
// keys over time, all named for its origin).
StatusOr<v1::Checkpoint> CheckCheckpointRecord(const v1::CheckpointRecord& record,
                                               const std::vector<note::Verifier>& log_keys);

// The largest stored checkpoint that passes CheckCheckpointRecord, or nullopt if none does. A
// stored record that fails is skipped (`log verify` is the command that reports it).
// With `at_size`, only the checkpoint of exactly that size is considered.
StatusOr<std::optional<v1::Checkpoint>> LatestVerifiedCheckpoint(
    const LogReader& log, const note::Verifier& log_key,
    std::optional<uint64_t> at_size = std::nullopt);
StatusOr<std::optional<v1::Checkpoint>> LatestVerifiedCheckpoint(
    const LogReader& log, const std::vector<note::Verifier>& log_keys,
    std::optional<uint64_t> at_size = std::nullopt);

}  // namespace probity::logstore
