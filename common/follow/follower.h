// The follower contract: what every follower of the audit log (rules, alerts, api, payments,
// webhooks, replica, witness feeder) implements, and what the one follower runtime
// (common/follow/runtime.h) promises it.
//
// The runtime reads the log in index order (from the sequencer's store in the same process, or
// from probity.log.v1 + probity.checkpoints.v1, catching up from a verified store when the topic
// no longer holds an index), and for each entry:
//   1. checks the leaf hash and integrates the entry into its own Merkle tree;
//   2. checks every checkpoint it sees: the log's signature, root equal to its own root at that
//      size, consistent with the previous checkpoint; on any mismatch it stops with an error
//      naming the index or checkpoint and keeps the conflicting material in its data directory;
//   3. parses the entry ONCE (LogRecord and, with codec::ParseStored, its Envelope: parsing, not
//      re-validation; the Envelope only for followers that read it) and hands the typed Event to
//      the follower.
// A follower's outputs go through the runtime's one Publisher. The runtime calls Save() only
// after the bus confirmed every output published before it, so a crash replays from the last
// saved index and republishes the same (deterministic) outputs, which receivers drop as exact
// redeliveries: nothing lost, nothing repeated in the log.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/bus/kafka.h"
#include "common/merkle/hasher.h"
#include "common/status/status.h"
#include "common/time/clock.h"
#include "probity/v1/events.pb.h"
#include "probity/v1/log.pb.h"

namespace probity::follow {

// One verified log entry, parsed once. Valid only during the call it is passed to.
struct Event {
  uint64_t index = 0;
  std::string_view leaf;         // the exact leaf bytes (a serialized v1::LogRecord)
  merkle::Hash leaf_hash{};      // HashLeaf(leaf), checked by the runtime
  const v1::LogRecord* record;   // parsed leaf
  const v1::Envelope* envelope;  // parsed payload (codec::ParseStored); null only for a follower
                                 // whose needs_envelope() is false
  uint64_t tree_size = 0;        // index + 1: the size of the tree this entry completes, which
                                 // the runtime has integrated and hash-checked
  uint64_t verified_size = 0;    // size of the latest checkpoint the runtime verified against its
                                 // own tree (>= tree_size when the runtime applies verified
                                 // entries only)
};

// The one way a follower publishes. Messages are produced in call order; the runtime waits for
// the bus to confirm all of them before it calls Follower::Save().
class Publisher {
 public:
  virtual ~Publisher() = default;
  virtual Status Publish(std::string_view topic, std::string_view key, std::string_view value,
                         const bus::Headers& headers = {}) = 0;
};

class Follower {
 public:
  virtual ~Follower() = default;
  // Stable name: the target ("rules", "payments", ...), used in health, metrics and errors.
  virtual std::string_view name() const = 0;
  // False for a follower that reads only the record and the leaf (the replica copies bytes): the
  // runtime then does not parse the payload (Event::envelope is null).
  virtual bool needs_envelope() const { return true; }
  // Opens the follower's own state; returns the next log index it needs (0 for a fresh state).
  // Called again after a retriable failure: it MUST then drop whatever it applied since its last
  // Save() (the runtime replays from the index it returns).
  virtual StatusOr<uint64_t> Restore() = 0;
  // Once per start, before the first entry: publishes what the follower publishes once (its rule
  // set, hold policy, routing file). The bytes MUST be identical at every start (store them
  // before the first publication), so that ingest logs them once.
  virtual Status PublishAtStart(Publisher* out) { return Status(); }
  // One entry, in index order, each index exactly once per process lifetime after Restore().
  virtual Status Apply(const Event& event, Publisher* out) = 0;
  // A checkpoint the runtime verified against its own tree, in increasing size, once every entry
  // it covers was applied (a replica stores it). Each verified checkpoint is passed once per
  // process lifetime; after a restart, ones the runtime had not saved as verified come again.
  virtual Status Checkpoint(const v1::CheckpointRecord& checkpoint) { return Status(); }
  // Called when no entry is available for now (the follower is caught up), with the runtime's
  // clock time; for work due in wall time (re-sends, timers of external deliveries).
  virtual Status Idle(Micros now, Publisher* out) { return Status(); }
  // Every output published so far is confirmed: persist state so that Restore() returns
  // `next_index`. The runtime calls it periodically and at shutdown. The write may finish in the
  // background, provided the previous Save() is durable when this one returns and the last one
  // is durable when the follower is destroyed (the rules engine's snapshot does this).
  virtual Status Save(uint64_t next_index) = 0;
};

}  // namespace probity::follow
