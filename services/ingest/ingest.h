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
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/bus/kafka.h"
#include "common/codec/codec.h"
#include "common/logstore/sequencer.h"
#include "common/logstore/store.h"
#include "common/metrics/http_server.h"
#include "common/note/note.h"
#include "common/time/clock.h"

namespace probity::ingest {

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
  codec::Policy policy;
};

// Metrics of the ingest target, declared together.
struct IngestMetrics {
  explicit IngestMetrics(prometheus::Registry& r);
  prometheus::Family<prometheus::Counter>& accepted;  // by kind
  prometheus::Family<prometheus::Counter>& rejected;  // by reason
  prometheus::Counter& duplicates;
  prometheus::Counter& conflicts;
  prometheus::Gauge& log_size;
  prometheus::Gauge& lag;
  prometheus::Gauge& unconfirmed;
  prometheus::Counter& checkpoints;
  prometheus::Histogram& append_seconds;
  prometheus::Counter& bus_errors;
};

struct IngestStats {
  uint64_t consumed = 0;
  uint64_t appended = 0;
  uint64_t duplicates = 0;
  uint64_t rejected = 0;
  uint64_t log_size = 0;
  uint64_t log_published = 0;
  uint64_t dead_letters = 0;
  uint64_t checkpoint_size = 0;
  int64_t lag = -1;
  bool ready = false;
  std::map<std::string, uint64_t> accepted_by_kind;
  std::map<std::string, uint64_t> rejected_by_reason;
};

class IngestService {
 public:
  // REQUIRES: store is open writable; store, clock, registry and signer outlive the service.
  IngestService(IngestOptions options, bus::ClientConfig bus, logstore::LogStore* store,
                const Clock* clock, prometheus::Registry* registry, const note::Signer* signer);
  ~IngestService();

  // Connects, assigns every partition of the ingested topics from the stored offsets (the
  // beginning when none) and republishes anything the bus had not confirmed before a restart.
  Status Start();
  // One poll-validate-append-publish round on the calling thread. Returns after at most
  // ~max_batch_latency_ms (plus the wait for the bus under backpressure).
  Status RunOnce();
  // Runs until *stop is set, reading and validating on a second thread while this one appends
  // and publishes; then drains: appends what was read, waits for the bus to confirm publications
  // (bounded), writes the cursors and a final checkpoint.
  Status Run(const std::atomic<bool>* stop);
  Status Drain();

  IngestStats stats() const;
  metrics::Health health() const;

 private:
  // A polled batch, decoded and validated: what Commit appends in one write.
  struct Prepared {
    std::vector<v1::LogRecord> records;
    std::vector<v1::EventKind> kinds;                         // of each record
    std::vector<logstore::Sequencer::Serialized> serialized;  // of each record
    std::vector<std::string> dead_letters;                    // serialized DeadLetter
    std::vector<std::string> dead_reasons;                    // reason code of each dead letter
    std::vector<std::string> dead_keys;                       // original key of each dead letter
    logstore::OffsetMap offsets;                              // next offset per topic-partition
    size_t consumed = 0;
  };
  // Decodes and validates (the reader thread's stage; touches no state but the clock).
  Prepared Prepare(std::vector<bus::Message>& batch) const;
  // Appends, publishes and counts one prepared batch (the sequencer's stage).
  Status Commit(Prepared& p);
  Status WaitForBus(const std::atomic<bool>* stop = nullptr);
  Status PollBatch(std::vector<bus::Message>* batch);
  Status AfterRound();
  // Publishes entries [from, size) on probity.log.v1: those of `fresh` (the batch just appended)
  // from the append result, any earlier ones from the store.
  Status PublishEntries(uint64_t from, const logstore::BatchResult* fresh);
  Status CatchUpPublications();
  Status MaybeCheckpoint(bool force);
  Status PersistCursors();
  void UpdateLag();

  IngestOptions options_;
  bus::ClientConfig bus_config_;
  logstore::LogStore* store_;
  const Clock* clock_;
  const note::Signer* signer_;
  IngestMetrics metrics_;
  std::unique_ptr<logstore::Sequencer> sequencer_;
  std::unique_ptr<bus::Consumer> consumer_;
  std::unique_ptr<bus::Producer> producer_;
  std::vector<std::pair<std::string, int32_t>> partitions_;

  // Publication cursors: everything below *_confirmed_ is acknowledged by the bus.
  std::atomic<uint64_t> log_confirmed_{0};
  std::atomic<uint64_t> dl_confirmed_{0};
  uint64_t log_sent_ = 0;  // next index to send on probity.log.v1
  uint64_t dl_sent_ = 0;   // next dead letter to send
  uint64_t log_persisted_ = 0, dl_persisted_ = 0;
  std::atomic<bool> publish_failed_{false};
  std::string publish_error_;
  std::mutex publish_mu_;

  uint64_t rounds_ = 0;
  Micros last_checkpoint_at_ = 0;
  uint64_t last_checkpoint_size_ = 0;
  mutable std::mutex stats_mu_;
  IngestStats stats_;
};

// Builds the dead-letter record for a rejected message.
v1::DeadLetter MakeDeadLetter(const bus::Message& m, const codec::Rejection& why, Micros now);

}  // namespace probity::ingest
