// The follower's own view of the log's Merkle tree, and the checks of every signed checkpoint
// against it. Pure: no I/O, no clock. The follower runtime (runtime.h) feeds it every leaf hash
// in index order and every checkpoint it reads, and persists state() with its cursor.
//
// Guarantees:
//  - A checkpoint is accepted only if its note opens with one of the log's keys for the log's
//    origin, its record agrees with its note (size, root), and the root equals the root of the
//    tree this verifier built itself at that size. Since every accepted root is a root of one
//    append-only sequence of leaves, every accepted checkpoint is consistent with every earlier
//    one: consistency is checked by construction, with no proof to trust.
//  - A checkpoint whose size is not yet reached waits (pending) and is checked when the tree
//    reaches its size; one whose size was already passed is checked against the leaves kept
//    since the last verified checkpoint (the tail).
//  - Within one read of the checkpoint stream (StartStream() to the next), checkpoints come in
//    publication order: a smaller size after a larger one is a rollback, unless it is the same
//    checkpoint (size and root) as one read before in this read of the stream, published again
//    (the sequencer re-publishes a checkpoint once witnesses cosigned it); two different roots
//    for one size is a fork. Either, and any mismatch, fails with kDataLoss and fills an
//    Evidence with the conflicting material (both notes where there are two).
//  - On failure the verifier's state is unchanged.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/merkle/compact_range.h"
#include "common/merkle/hasher.h"
#include "common/note/checkpoint.h"
#include "common/note/note.h"
#include "common/status/status.h"
#include "probity/v1/log.pb.h"

namespace probity::follow {

// The material that proves a verification failure: files to keep under
// <data dir>/evidence/<name>/.
struct Evidence {
  std::string name;                                        // e.g. "fork-at-1200"
  std::vector<std::pair<std::string, std::string>> files;  // file name -> bytes
};

// What a follower persists of its tree with its cursor: the tree at the latest verified
// checkpoint, that checkpoint, and the leaves after it. Its size is verified.size() + tail.size().
struct TreeState {
  merkle::CompactRange verified;
  std::optional<v1::CheckpointRecord> checkpoint;  // tree_size == verified.size(), when set
  std::vector<merkle::Hash> tail;

  uint64_t size() const { return verified.size() + tail.size(); }
  // Drops the leaves at or after `size`. REQUIRES: verified.size() <= size <= this->size().
  void Truncate(uint64_t size) { tail.resize(size - verified.size()); }
};

// The on-disk form of a TreeState (the file <data dir>/tree of a follower):
//   "probity-follow-tree-1\n" be64(verified size) be64(n) n*32 bytes (compact range hashes)
//   be64(tail length) tail*32 bytes be64(checkpoint length) checkpoint (CheckpointRecord bytes,
//   length 0 when none) sha256(all that precedes)
std::string EncodeTreeState(const TreeState& state);
// kDataLoss when the bytes are not such a file (truncated, wrong checksum, inconsistent sizes).
StatusOr<TreeState> DecodeTreeState(std::string_view bytes);

class TreeVerifier {
 public:
  // `keys`: the log's verifier keys; `origin`: the checkpoint origin (the log's key name).
  // REQUIRES: keys is not empty.
  TreeVerifier(std::string origin, std::vector<note::Verifier> keys, TreeState state = {});

  uint64_t size() const { return current_.size(); }
  // Size of the latest verified checkpoint; 0 before the first.
  uint64_t verified_size() const { return state_.checkpoint ? state_.checkpoint->tree_size() : 0; }
  merkle::Hash Root() const { return current_.Root(); }
  // The state to persist (the tree at size(), with its verified part).
  const TreeState& state() const { return state_; }

  // The next leaf. REQUIRES: index == size(). kDataLoss (with *evidence) when it completes the
  // size of a pending checkpoint whose root differs.
  Status AddLeaf(uint64_t index, const merkle::Hash& leaf, Evidence* evidence);

  // A checkpoint read from the log, in publication order. kDataLoss (with *evidence) on a bad
  // signature, a record that disagrees with its note, a rollback, a fork, or a root that is not
  // this verifier's root at that size.
  Status AddCheckpoint(const v1::CheckpointRecord& record, Evidence* evidence);

  // For a runtime that reads no checkpoints: the tree at size() becomes the base of the state, so
  // that the persisted tail does not grow without bound. REQUIRES: no checkpoint was accepted.
  void Settle() {
    state_.verified = current_;
    state_.tail.clear();
  }

  // The checkpoint stream is read again from its start (a restart of its source): the ordering
  // check restarts; pending checkpoints are kept.
  void StartStream() {
    stream_max_.reset();
    seen_.clear();
  }

  // The leaf at `index` when it is in the tail (verified_base <= index < size()).
  std::optional<merkle::Hash> LeafAt(uint64_t index) const {
    const uint64_t base = state_.verified.size();
    if (index < base || index >= current_.size()) return std::nullopt;
    return state_.tail[index - base];
  }

  // The checkpoints accepted since the last call, in increasing size; then, in the order read,
  // any verified checkpoint published again (cosigned: the same size and root, more signatures).
  std::vector<v1::CheckpointRecord> TakeAccepted() { return std::exchange(accepted_, {}); }

  uint64_t checkpoints_verified() const { return checkpoints_verified_; }
  // Checkpoints older than the latest verified one, read again (signature checked only).
  uint64_t checkpoints_old() const { return checkpoints_old_; }
  // Checkpoints published again after newer ones (with cosignatures added).
  uint64_t checkpoints_republished() const { return checkpoints_republished_; }
  size_t pending() const { return pending_.size(); }

 private:
  struct Parsed {
    v1::CheckpointRecord record;
    merkle::Hash root{};
  };
  struct SeenRoot {
    merkle::Hash root{};
    bool verified = false;  // checked against this tree (not only signature-checked)
    std::string note;       // its signed note (evidence, should another root come for the size)
  };
  // The sizes and roots of the last kSeenMax checkpoints of this read of the stream.
  static constexpr size_t kSeenMax = 4096;

  Status Check(const Parsed& cp, const merkle::Hash& ours, Evidence* evidence) const;
  void Accept(const Parsed& cp, merkle::CompactRange at);
  void Seen(const Parsed& cp, bool verified);

  std::string origin_;
  std::vector<note::Verifier> keys_;
  TreeState state_;
  merkle::CompactRange current_;
  std::deque<Parsed> pending_;        // sizes above size(), non-decreasing
  std::optional<Parsed> stream_max_;  // the largest checkpoint of this read of the stream
  std::map<uint64_t, SeenRoot> seen_;
  std::vector<v1::CheckpointRecord> accepted_;
  uint64_t checkpoints_verified_ = 0;
  uint64_t checkpoints_old_ = 0;
  uint64_t checkpoints_republished_ = 0;
};

}  // namespace probity::follow
