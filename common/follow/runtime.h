// The one follower runtime (the contract is in follower.h): reads the log in index order,
// verifies every leaf and checkpoint against its own tree, parses each entry once, hands it to
// the Follower, publishes through one BusPublisher, and saves the follower's state, then its own
// verified tree, only after the bus confirmed every output.
//
// Files in Options::data_dir:
//   tree, tree.prev    the verified tree state (tree_verifier.h's format) at the last two saves;
//                      a restart resumes the tree from the newest one the follower's cursor
//                      covers, and never re-reads the log from 0 unless the follower's own state
//                      went back before both
//   evidence/<name>/   material that proves a verification failure (notes, reports, entries)
//
// Resilience: what a retry can fix (the bus refused an output or timed out, the log topic moved
// under the reader, the next entry is past the topic's retention) never stops Run(): it reports
// the reason in health(), waits (1 s doubling to 60 s), goes back to the follower's last saved
// state and the matching tree, and carries on. Evidence of a damaged or dishonest log (a leaf hash
// mismatch, a gap, a bad signature, a fork, a rollback) ends Run() with kDataLoss naming the
// index or checkpoint, and the evidence directory.
//
// Thread-safety: Start/RunOnce/Save/Run on one thread; stats() and health() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/follow/bus_publisher.h"
#include "common/follow/checkpoint_source.h"
#include "common/follow/entry_source.h"
#include "common/follow/follower.h"
#include "common/follow/tree_verifier.h"
#include "common/metrics/health.h"
#include "common/metrics/http_server.h"
#include "common/note/note.h"
#include "common/status/status.h"
#include "common/sync/mutex.h"
#include "common/time/clock.h"

namespace prometheus {
class Registry;
}

namespace probity::follow {

struct RuntimeStats {
  uint64_t next_index = 0;     // the follower's next index
  uint64_t applied = 0;        // entries handed to Apply by this process
  uint64_t tree_size = 0;      // leaves integrated and hash-checked
  uint64_t verified_size = 0;  // size of the latest checkpoint verified against the tree
  uint64_t checkpoints_verified = 0;
  uint64_t published = 0;  // outputs published (all attempts)
  uint64_t confirmed = 0;  // outputs the bus confirmed
  uint64_t retries = 0;
  uint64_t saves = 0;
};

// Writes `bytes` to path + ".tmp", fsyncs it and renames it over `path`: a reader sees the old
// file or the new one, never a part. kIoError on failure.
Status WriteFileDurably(const std::string& path, std::string_view bytes);

// PublishAtStart's exactly-once helper: the first call stores `value` at `path` (durably, BEFORE
// publishing it); every call publishes the stored bytes, so a kill between the bus taking the
// message and any later save cannot make a later start publish other bytes (ingest logs the
// stored bytes once and drops the repeats as exact redeliveries).
Status PublishStored(Publisher* out, const std::string& path, std::string_view topic,
                     std::string_view key, std::string_view value);

class Runtime {
 public:
  struct Options {
    std::string data_dir;  // the runtime's tree state and evidence (the follower's own dir is fine)
    // The log's checkpoint origin and verifier keys. Required when a CheckpointSource is given.
    std::string origin;
    std::vector<note::Verifier> log_keys;
    // Apply an entry only once a verified checkpoint covers it (a replica writes only what it
    // verified). Otherwise entries are applied as soon as their leaf hash checks, and the tree
    // they form is checked at the next checkpoint.
    bool apply_verified_only = false;
    size_t max_batch = 10000;
    // Unapplied entries held waiting for a checkpoint; reading pauses above this.
    size_t max_held = 200000;
    // The follower is saved this often when it moved (0: after every round that moved it); the
    // tree at most every tree_save_every (a tree older than the follower's cursor only costs a
    // re-read of the entries in between at restart), at the first save after each start, and at
    // every explicit Save().
    Micros save_every = 10'000'000;
    Micros tree_save_every = 10'000'000;
    Micros first_retry = 1'000'000;
    Micros max_retry = 60'000'000;
    int confirm_timeout_ms = 30000;
    // Where the runtime's gauges go (docs/operations.md, "Metrics"), labelled target=<the
    // follower's name>: probity_follower_next_index, _tree_size, _verified_size and
    // probity_follower_retries_total. Null: none. REQUIRES: outlives the runtime.
    prometheus::Registry* registry = nullptr;
  };

  // `checkpoints` may be null (no checkpoint is then verified); `publisher` may be null for a
  // follower that publishes nothing on the bus (its Publish calls then fail). REQUIRES: every
  // pointer outlives the runtime.
  Runtime(Options options, Follower* follower, EntrySource* entries, CheckpointSource* checkpoints,
          BusPublisher* publisher, const Clock* clock);
  ~Runtime();

  // Restores the follower and the tree, then publishes what the follower publishes at start and
  // waits for the bus to confirm it.
  Status Start();
  // One round: new checkpoints, then up to max_batch entries, verified and applied; Idle() when
  // there was nothing; Save() when due. Returns the number of entries applied.
  StatusOr<size_t> RunOnce();
  // Confirms every output, then saves the follower (Follower::Save) and the tree.
  Status Save();
  // Back to the follower's last saved state (Restore) after a failure of RunOnce or Save, without
  // publishing at start again. Run() does this itself before it retries.
  Status Restart();
  // Runs until *stop (then saves), retrying what a retry can fix (see above). Calls Start() if
  // it was not called or failed with a retriable error.
  Status Run(const std::atomic<bool>* stop);
  // RunOnce(), after going back to the last saved state (Restart()) when the previous Step()
  // failed: for callers that drive the runtime round by round instead of Run().
  StatusOr<size_t> Step();

  RuntimeStats stats() const EXCLUDES(mu_);
  // /healthz: a probity.v1.HealthReport for the follower's target.
  metrics::Health health() const;
  // Whether Run() waits and retries after `st` rather than stopping.
  static bool Retriable(const Status& st);

 private:
  Status Restore();
  Status LoadTree(uint64_t next);
  Status SaveTree();
  Status SaveFollower();
  Status ReadCheckpoints();
  Status ReadEntries(size_t* read);
  Status ApplyHeld(size_t* applied);
  // Writes the evidence, and returns `st` naming where it is.
  Status Stop(const Status& st, const Evidence& evidence);
  void Publish() EXCLUDES(mu_);
  Publisher* out();

  Options options_;
  Follower* follower_;
  EntrySource* entries_;
  CheckpointSource* checkpoints_;
  BusPublisher* publisher_;
  const Clock* clock_;
  std::unique_ptr<TreeVerifier> tree_;
  std::deque<logstore::Entry> held_;           // integrated, not yet applied; indices ascending
  std::deque<v1::CheckpointRecord> verified_;  // verified, not yet passed to the follower
  uint64_t next_ = 0;                          // the follower's next index
  bool started_ = false;
  Micros last_save_ = 0;
  Micros last_tree_save_ = 0;
  bool tree_saved_since_start_ = false;
  uint64_t saved_tree_size_ = 0;
  uint64_t read_ = 0;  // the next index to read from the source
  // After a restart with the saved tree ahead of the follower: the leaves the tree integrated
  // before, from reread_from_ on, that the entries read again must equal. Kept here rather than
  // in the tree, whose tail a checkpoint verified in the meantime may drop.
  uint64_t reread_from_ = 0;
  std::vector<merkle::Hash> reread_;
  uint64_t saved_next_ = 0;  // the follower's cursor at its last save
  // The cursor Restore() is sure to return at least: the one of the save before the last, since
  // Follower::Save may finish in the background (it waits for the save before it). The saved
  // tree's verified base never passes it, so that a restart finds a tree to resume from.
  uint64_t durable_next_ = 0;
  bool checkpoint_unsaved_ = false;  // Follower::Checkpoint was called since its last save
  uint64_t applied_ = 0, retries_ = 0, saves_ = 0;
  size_t last_round_read_ = 0;  // entries the last RunOnce read
  bool step_failed_ = false;    // the last Step() failed: restart before the next
  std::unique_ptr<metrics::ProgressWatch> watch_;
  struct Gauges;
  std::unique_ptr<Gauges> gauges_;  // null without Options::registry
  mutable Mutex mu_;
  RuntimeStats stats_ GUARDED_BY(mu_);
};

}  // namespace probity::follow
