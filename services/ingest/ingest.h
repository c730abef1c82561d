// The ingest target: Probity's sequencer, the only writer of the audit log.
//
// It consumes every ingested topic (bus/topics.h) from the offsets stored in the log itself,
// decodes and validates each message (common/codec), and in ONE atomic write per batch appends
// the accepted ones, queues the rejected ones as dead letters, and records the next offsets. Then
// it publishes the new entries on probity.log.v1 and the dead letters on probity.deadletter.v1
// from cursors that advance only when the bus confirms delivery, and signs checkpoints.
//
// Guarantees (docs/architecture.md):
//  - Every consumed message ends in the log exactly once (exact redeliveries are dropped by event
//    id and bytes) or in the dead-letter outbox, at any crash point: offsets move with the data.
//  - probity.log.v1 carries every index in order; after a restart publishing resumes from the
//    last confirmed index, so a follower may see an index again and MUST drop repeats by index.
//  - No input can jam it (docs/events.md, "Size budget"): every accepted input fits the bus, and a
//    record the bus refuses anyway (a misconfigured topic, an ACL) stays in the store's outbox,
//    is named in /healthz, which turns not ready, and is retried with backoff until it goes
//    through; the service keeps running and loses nothing.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/bus/kafka.h"
#include "common/bus/outbox.h"
#include "common/codec/codec.h"
#include "common/logstore/sequencer.h"
#include "common/logstore/store.h"
#include "common/metrics/health.h"
#include "common/metrics/http_server.h"
#include "common/note/note.h"
#include "common/sync/mutex.h"
#include "common/time/clock.h"

namespace prometheus {
class Registry;
}

namespace probity::ingest {

// Collects witness cosignatures of the checkpoints ingest signs (c2sp.org/tlog-witness), on its
// own thread and cadence; services/witness/collector.h is the implementation. Ingest offers its
// latest checkpoint (at most every IngestOptions::witness_interval_ms) and takes back cosigned
// ones, which it stores in place of the record of that size (same text, same log signature,
// cosignature lines added) and publishes on probity.checkpoints.v1.
class CheckpointCosigner {
 public:
  virtual ~CheckpointCosigner() = default;
  // Hands over the latest checkpoint to be cosigned. MUST NOT block (the sequencer's thread).
  virtual void Offer(const v1::CheckpointRecord& checkpoint) = 0;
  // A checkpoint that gained cosignatures since the last call, if any. MUST NOT block.
  virtual std::optional<v1::CheckpointRecord> TakeCosigned() = 0;
};

struct IngestOptions {
  size_t max_batch = 5000;        // messages per append
  int max_batch_latency_ms = 20;  // a batch is appended at most this long after its first message
  size_t max_unconfirmed =
      200000;               // stop consuming while this many published entries await the bus
  bool publish_log = true;  // publish probity.log.v1
  std::string checkpoint_origin = "probity.example/log";
  int checkpoint_interval_ms = 1000;           // sign a checkpoint this often when the tree grew
  uint64_t checkpoint_every_entries = 100000;  // ... or after this many new entries
  // Start every partition from its beginning whatever offsets the log holds: for a bus that is
  // known to be new (the embedded bus starts empty on every run). Event-id deduplication still
  // drops exact redeliveries.
  bool ignore_stored_offsets = false;
  // Sign with a key other than the one the log pinned, retiring that one (Sequencer::PinLogKey;
  // docs/operations.md, "Key rotation"). Without it such a key is refused.
  bool rotate_log_key = false;
  codec::Policy policy;
  // Witnesses expect about one checkpoint a minute, not one a second (SetCosigner).
  int witness_interval_ms = 60000;
  // Readiness (docs/operations.md, "Health"): work pending and no progress for this long.
  int stall_seconds = 60;
  // A publication the bus refused is retried after 1 s, doubling up to this.
  int max_retry_seconds = 60;
};

struct IngestMetrics;

struct IngestStats {
  uint64_t consumed = 0;
  uint64_t appended = 0;
  uint64_t duplicates = 0;
  uint64_t rejected = 0;
  uint64_t log_size = 0;
  uint64_t log_published = 0;
  uint64_t dead_letters = 0;
  uint64_t dead_letters_published = 0;
  uint64_t checkpoint_size = 0;
  int64_t lag = -1;
  bool ready = false;
  std::map<std::string, uint64_t> accepted_by_kind;
  std::map<std::string, uint64_t> rejected_by_reason;
};

class IngestService {
 public:
  // REQUIRES: store is open writable; bus, store, clock, registry and signer outlive the service.
  // `bus` makes the consumer, the producer and the topic-config reader (tests pass fakes).
  IngestService(IngestOptions options, bus::BusFactory* bus, logstore::LogStore* store,
                const Clock* clock, prometheus::Registry* registry, const note::Signer* signer);
  // The same on librdkafka clients for `bus`.
  IngestService(IngestOptions options, bus::ClientConfig bus, logstore::LogStore* store,
                const Clock* clock, prometheus::Registry* registry, const note::Signer* signer);
  ~IngestService();

  // Sends checkpoints to witnesses through `cosigner` (nullptr: none). REQUIRES: called before
  // Start(); cosigner outlives the service.
  void SetCosigner(CheckpointCosigner* cosigner) { cosigner_ = cosigner; }

  // Checks the size budget against the policy and the output topics' limits (refusing to start,
  // with the fix, when a topic allows less), connects, assigns every partition of the ingested
  // topics from the stored offsets (the beginning when none) and republishes anything the bus
  // had not confirmed before a restart.
  Status Start();
  // One poll-validate-append-publish round on the calling thread. Returns after at most
  // ~max_batch_latency_ms (plus the wait for the bus under backpressure).
  Status RunOnce();
  // Runs until *stop is set, reading and validating on a second thread while this one appends
  // and publishes; then drains: appends what was read, waits for the bus to confirm publications
  // (bounded), writes the cursors and a final checkpoint.
  Status Run(const std::atomic<bool>* stop);
  Status Drain();

  IngestStats stats() const EXCLUDES(stats_mu_);
  // /healthz: a probity.v1.HealthReport (docs/operations.md, "Health").
  metrics::Health health() const EXCLUDES(stats_mu_);

 private:
  // One polled message, decoded and validated: a record to append, or a dead letter.
  struct PreparedRecord {
    v1::LogRecord record;
    logstore::Sequencer::Serialized serialized;  // its leaf bytes and hash
  };
  struct PreparedDeadLetter {
    std::string bytes;  // serialized DeadLetter, as stored
    std::string reason;
  };
  // A polled batch: what Commit appends in one write.
  struct Prepared {
    std::vector<PreparedRecord> records;
    std::vector<PreparedDeadLetter> dead_letters;
    logstore::OffsetMap offsets;  // next offset per topic-partition
    size_t consumed = 0;
  };
  // Decodes and validates (the reader thread's stage; touches no state but the clock).
  Prepared Prepare(std::vector<bus::Message>& batch) const;
  // Appends, publishes and counts one prepared batch (the sequencer's stage).
  Status Commit(Prepared& p);
  Status WaitForBus(const std::atomic<bool>* stop = nullptr);
  Status PollBatch(std::vector<bus::Message>* batch);
  Status AfterRound();
  Status CheckBudget();
  Status MakeProducer();
  void OnDelivery(const bus::DeliveryReport& r);
  // Retries refused publications when due; replaces a producer that failed for good.
  void ServicePublications();
  // Sends log entries from the log stream's next() up to the tree size: those of `fresh` (the
  // batch just appended) from the append result, any earlier ones from the store.
  Status PublishEntries(const logstore::BatchResult* fresh);
  // Hands record `seq` of `stream` to the producer (refusing one over the record limit); on
  // failure pauses the stream at it and counts the refusal. Returns whether it was sent.
  bool Send(bus::PublicationStream& stream, uint64_t seq, std::string_view key,
            std::string_view value, const bus::Headers& headers);
  Status PublishDeadLetters();
  Status PublishCheckpoints();
  Status MaybeCheckpoint(bool force);
  // Offers the latest checkpoint to the cosigner when due; stores and publishes cosigned ones.
  Status CollectCosignatures();
  Status PersistCursors();
  void UpdateLag();
  void ObserveProgress();

  IngestOptions options_;
  std::unique_ptr<bus::BusFactory> owned_bus_;
  bus::BusFactory* bus_;
  logstore::LogStore* store_;
  const Clock* clock_;
  const note::Signer* signer_;
  CheckpointCosigner* cosigner_ = nullptr;
  Micros last_offer_at_ = 0;
  uint64_t last_offered_size_ = 0;
  std::unique_ptr<IngestMetrics> metrics_;
  std::unique_ptr<logstore::Sequencer> sequencer_;
  std::unique_ptr<bus::MessageConsumer> consumer_;
  std::unique_ptr<bus::MessageProducer> producer_;
  std::vector<std::pair<std::string, int32_t>> partitions_;

  // Publication cursors: everything below confirmed() is acknowledged by the bus.
  std::unique_ptr<bus::PublicationStream> log_stream_;
  std::unique_ptr<bus::PublicationStream> dl_stream_;
  std::unique_ptr<bus::PublicationStream> cp_stream_;  // seq: ordinal of the stored checkpoint
  uint64_t log_persisted_ = 0, dl_persisted_ = 0;
  uint64_t checkpoints_stored_ = 0;
  metrics::ProgressWatch watch_;

  uint64_t rounds_ = 0;
  Micros last_checkpoint_at_ = 0;
  uint64_t last_checkpoint_size_ = 0;
  mutable Mutex stats_mu_;
  IngestStats stats_ GUARDED_BY(stats_mu_);
};

// Builds the dead-letter record for a rejected message, as the store keeps it: the original key,
// value and headers whole, with their size and the value's SHA-256.
v1::DeadLetter MakeDeadLetter(const bus::Message& m, const codec::Rejection& why, Micros now);
// The copy of a stored dead letter that goes on probity.deadletter.v1: the stored one with its
// sequence number, or, for MESSAGE_TOO_LARGE, a reference in place of the original bytes
// (docs/events.md, "Size budget"). Always within bus::kMaxRecordBytes.
v1::DeadLetter PublishedDeadLetter(v1::DeadLetter stored, uint64_t sequence);

}  // namespace probity::ingest
