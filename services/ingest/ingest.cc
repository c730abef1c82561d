#include "services/ingest/ingest.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <deque>
#include <optional>
#include <thread>

#include "common/bus/limits.h"
#include "common/bus/topics.h"
#include "common/codec/reason_codes.h"
#include "common/encoding/varint.h"
#include "common/logstore/keys.h"
#include "common/merkle/hasher.h"
#include "common/note/checkpoint.h"
#include "common/time/proto_time.h"

namespace probity::ingest {

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
  prometheus::Family<prometheus::Gauge>& stuck;             // by topic: 1 while refused
  prometheus::Family<prometheus::Counter>& publish_failed;  // by topic
  prometheus::Gauge& ready;
};

namespace {

using encoding::AppendVarint;

// Appends the wire form of v1::SequencedEntry{index, leaf_hash, record}: byte for byte what
// SerializeToString gives (fields in number order, a zero index omitted as proto3 does), without
// copying the record into a message first. Tested against SerializeToString.
void AppendSequencedEntry(uint64_t index, const merkle::Hash& leaf, std::string_view record,
                          std::string* out) {
  if (index != 0) {
    out->push_back(0x08);  // field 1, varint
    AppendVarint(index, out);
  }
  out->push_back(0x12);  // field 2, length-delimited
  AppendVarint(leaf.size(), out);
  out->append(merkle::AsBytes(leaf));
  if (!record.empty()) {
    out->push_back(0x1a);  // field 3, length-delimited
    AppendVarint(record.size(), out);
    out->append(record);
  }
}

// Bytes of a message's key and headers, as the size budget counts them.
size_t KeyAndHeaderBytes(const bus::Message& m) {
  size_t n = m.key.size();
  for (const auto& [k, v] : m.headers) n += k.size() + v.size();
  return n;
}

constexpr size_t kMaxDeadLetterMessage = 1024;  // the human explanation, truncated beyond

// The delivery tag of a cosigned checkpoint's publication: outside the checkpoint stream (whose
// tags carry a generation below 0xffff in practice), so its report is not the stream's. A lost
// one is not retried: the store and /checkpoint hold it, and the next one supersedes it.
constexpr uint64_t kCosignedTag = UINT64_MAX;

constexpr int kWarmUpTimeoutMs = 2000;  // per published topic, at each new producer

}  // namespace

IngestMetrics::IngestMetrics(prometheus::Registry& r)
    : accepted(prometheus::BuildCounter()
                   .Name("probity_ingest_accepted_total")
                   .Help("Messages appended to the audit log, by event kind")
                   .Register(r)),
      rejected(prometheus::BuildCounter()
                   .Name("probity_ingest_rejected_total")
                   .Help("Messages sent to the dead-letter topic, by reason code")
                   .Register(r)),
      duplicates(prometheus::BuildCounter()
                     .Name("probity_ingest_duplicates_total")
                     .Help("Exact redeliveries dropped (same event id, same bytes)")
                     .Register(r)
                     .Add({})),
      conflicts(prometheus::BuildCounter()
                    .Name("probity_ingest_conflicting_resubmissions_total")
                    .Help("Same event id with other bytes: appended and marked")
                    .Register(r)
                    .Add({})),
      log_size(prometheus::BuildGauge()
                   .Name("probity_log_size")
                   .Help("Entries in the audit log")
                   .Register(r)
                   .Add({})),
      lag(prometheus::BuildGauge()
              .Name("probity_ingest_consumer_lag")
              .Help("Messages on the input topics not yet read (sum over partitions)")
              .Register(r)
              .Add({})),
      unconfirmed(prometheus::BuildGauge()
                      .Name("probity_ingest_unconfirmed_publications")
                      .Help("Entries sent on probity.log.v1 not yet confirmed by the bus")
                      .Register(r)
                      .Add({})),
      checkpoints(prometheus::BuildCounter()
                      .Name("probity_checkpoints_total")
                      .Help("Signed checkpoints made")
                      .Register(r)
                      .Add({})),
      append_seconds(
          prometheus::BuildHistogram()
              .Name("probity_ingest_append_batch_seconds")
              .Help("Time to append one batch to the log (one RocksDB write)")
              .Register(r)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.002, 0.005, 0.01,
                                                               0.02, 0.05, 0.1, 0.25, 0.5, 1})),
      bus_errors(prometheus::BuildCounter()
                     .Name("probity_ingest_bus_transient_errors_total")
                     .Help("Bus errors librdkafka recovered from by itself")
                     .Register(r)
                     .Add({})),
      stuck(prometheus::BuildGauge()
                .Name("probity_publication_stuck")
                .Help("1 while the bus refuses a publication on this topic (it is retried; see "
                      "/healthz for the record and the error)")
                .Register(r)),
      publish_failed(prometheus::BuildCounter()
                         .Name("probity_publication_failures_total")
                         .Help("Publications the bus refused, by topic (each is retried)")
                         .Register(r)),
      ready(prometheus::BuildGauge()
                .Name("probity_ready")
                .Help("1 when the target is ready (/readyz), else 0")
                .Register(r)
                .Add({{"target", "ingest"}})) {}

v1::DeadLetter MakeDeadLetter(const bus::Message& m, const codec::Rejection& why, Micros now) {
  v1::DeadLetter d;
  d.set_original_key(m.key);
  d.set_original_value(m.value);
  for (const auto& [k, v] : m.headers) {
    v1::Header* h = d.add_original_headers();
    h->set_key(k);
    h->set_value(v);
  }
  d.set_source_topic(m.topic);
  d.set_source_partition(m.partition);
  d.set_source_offset(m.offset);
  d.set_reason_code(why.reason_code);
  d.set_message(why.message.size() > kMaxDeadLetterMessage
                    ? why.message.substr(0, kMaxDeadLetterMessage) + "..."
                    : why.message);
  SetTimestamp(d.mutable_rejected_at(), now);
  d.set_original_size(m.value.size() + KeyAndHeaderBytes(m));
  d.set_original_value_sha256(std::string(merkle::AsBytes(merkle::Sha256(m.value))));
  return d;
}

v1::DeadLetter PublishedDeadLetter(v1::DeadLetter stored, uint64_t sequence) {
  stored.set_sequence(sequence);
  if (stored.reason_code() == codec::reason::kMessageTooLarge) {
    stored.clear_original_key();
    stored.clear_original_value();
    stored.clear_original_headers();
    stored.set_original_omitted(true);
  }
  return stored;
}

IngestService::IngestService(IngestOptions options, bus::ClientConfig bus,
                             logstore::LogStore* store, const Clock* clock,
                             prometheus::Registry* registry, const note::Signer* signer)
    : IngestService(std::move(options), static_cast<bus::BusFactory*>(nullptr), store, clock,
                    registry, signer) {
  owned_bus_ = std::make_unique<bus::KafkaBus>(std::move(bus));
  bus_ = owned_bus_.get();
}

IngestService::IngestService(IngestOptions options, bus::BusFactory* bus, logstore::LogStore* store,
                             const Clock* clock, prometheus::Registry* registry,
                             const note::Signer* signer)
    : options_(std::move(options)),
      bus_(bus),
      store_(store),
      clock_(clock),
      signer_(signer),
      metrics_(std::make_unique<IngestMetrics>(*registry)),
      watch_("ingest", clock,
             metrics::ProgressWatch::Options{Micros{options_.stall_seconds} * 1000000,
                                             Micros{120} * 1000000}) {}

IngestService::~IngestService() = default;

Status IngestService::CheckBudget() {
  if (options_.policy.max_message_bytes > bus::kMaxInputValueBytes) {
    return InvalidArgument(
        "the message limit (" + std::to_string(options_.policy.max_message_bytes) +
        " bytes) is above the size budget's input limit of " +
        std::to_string(bus::kMaxInputValueBytes) + " (docs/events.md, \"Size budget\")");
  }
  PROBITY_ASSIGN_OR_RETURN(auto admin, bus_->NewTopicConfigReader());
  std::vector<std::string> outputs = {std::string(bus::kDeadLetterTopic),
                                      std::string(bus::kCheckpointsTopic)};
  if (options_.publish_log) outputs.insert(outputs.begin(), std::string(bus::kLogTopic));
  bool checked = false;
  PROBITY_RETURN_IF_ERROR(
      bus::CheckTopicLimits(admin.get(), outputs, bus::kRequiredTopicMaxMessageBytes, &checked));
  if (!checked) {
    std::fprintf(stderr,
                 "ingest: the bus does not report topic configs (the embedded bus, which holds "
                 "messages of any size); max.message.bytes of the output topics not checked\n");
  }
  return Status::Ok();
}

Status IngestService::MakeProducer() {
  PROBITY_ASSIGN_OR_RETURN(
      producer_, bus_->NewProducer([this](const bus::DeliveryReport& r) { OnDelivery(r); }));
  // Followers wait for the first entries otherwise (librdkafka looks a new topic up about a
  // second later); a bus that does not answer only delays them.
  for (std::string_view topic : {bus::kLogTopic, bus::kCheckpointsTopic, bus::kDeadLetterTopic}) {
    (void)producer_->WarmUp(std::string(topic), kWarmUpTimeoutMs);
  }
  return Status::Ok();
}

void IngestService::OnDelivery(const bus::DeliveryReport& r) {
  if (r.tag == kCosignedTag) {
    if (!r.status.ok()) metrics_->publish_failed.Add({{"topic", r.topic}}).Increment();
    return;
  }
  bus::PublicationStream* stream = nullptr;
  if (r.topic == bus::kLogTopic) stream = log_stream_.get();
  if (r.topic == bus::kDeadLetterTopic) stream = dl_stream_.get();
  if (r.topic == bus::kCheckpointsTopic) stream = cp_stream_.get();
  if (stream == nullptr) return;
  if (!r.status.ok()) {
    metrics_->publish_failed.Add({{"topic", r.topic}}).Increment();
  }
  stream->Delivered(r.tag, r.status);
}

Status IngestService::Start() {
  PROBITY_RETURN_IF_ERROR(CheckBudget());
  PROBITY_ASSIGN_OR_RETURN(sequencer_, logstore::Sequencer::Create(store_));
  // The key readers check the stored notes with when they hold none of their own.
  if (signer_ != nullptr) {
    PROBITY_ASSIGN_OR_RETURN(std::optional<std::string> pinned, store_->PinnedLogKey());
    PROBITY_RETURN_IF_ERROR(
        sequencer_->PinLogKey(signer_->verifier_key(), options_.rotate_log_key));
    if (pinned && *pinned != signer_->verifier_key()) {
      std::fprintf(stderr,
                   "ingest: the log's key is now %s (retired: %s); give followers, witnesses and "
                   "auditors both keys\n",
                   signer_->verifier_key().c_str(), pinned->c_str());
    }
  }
  PROBITY_ASSIGN_OR_RETURN(uint64_t published, store_->LogPublishedUpTo());
  PROBITY_ASSIGN_OR_RETURN(uint64_t dl_published, store_->DeadLettersPublishedUpTo());
  PROBITY_ASSIGN_OR_RETURN(auto checkpoints, store_->Checkpoints());
  checkpoints_stored_ = checkpoints.size();
  const bus::PublicationStream::Options retry{1'000'000,
                                              Micros{options_.max_retry_seconds} * 1000000};
  log_stream_ = std::make_unique<bus::PublicationStream>(std::string(bus::kLogTopic), published,
                                                         clock_, retry);
  dl_stream_ = std::make_unique<bus::PublicationStream>(std::string(bus::kDeadLetterTopic),
                                                        dl_published, clock_, retry);
  // Checkpoint publication is not recorded in the store: the latest one is published again at
  // every start (consumers key checkpoints by tree size), and any made after it as they come.
  cp_stream_ = std::make_unique<bus::PublicationStream>(
      std::string(bus::kCheckpointsTopic), checkpoints.empty() ? 0 : checkpoints.size() - 1, clock_,
      retry);
  log_persisted_ = published;
  dl_persisted_ = dl_published;

  PROBITY_ASSIGN_OR_RETURN(consumer_, bus_->NewConsumer());
  PROBITY_RETURN_IF_ERROR(MakeProducer());

  PROBITY_ASSIGN_OR_RETURN(auto stored, store_->ConsumerOffsets());
  std::vector<bus::TopicPartitionOffset> assignment;
  for (const bus::TopicSpec& t : bus::kTopics) {
    if (!t.ingested) continue;
    std::string topic(t.name);
    StatusOr<int> parts = Status();
    for (int attempt = 0; attempt < 30; ++attempt) {
      parts = consumer_->PartitionCount(topic, 2000);
      if (parts.ok()) break;
    }
    if (!parts.ok()) {
      return Unavailable("ingest: cannot read metadata of " + topic + ": " +
                         parts.status().message() +
                         " (is the bus up, and were Probity's topics created?)");
    }
    for (int p = 0; p < *parts; ++p) {
      auto it = stored.find({topic, p});
      int64_t offset = it == stored.end() || options_.ignore_stored_offsets
                           ? RD_KAFKA_OFFSET_BEGINNING
                           : it->second;
      assignment.push_back({topic, p, offset});
      partitions_.emplace_back(topic, p);
    }
  }
  PROBITY_RETURN_IF_ERROR(consumer_->Assign(assignment));

  PROBITY_ASSIGN_OR_RETURN(auto latest, store_->LatestCheckpoint());
  if (latest) last_checkpoint_size_ = latest->tree_size();
  last_checkpoint_at_ = clock_->NowMicros();
  // Entries and dead letters appended before a restart but not confirmed on the bus, and the
  // latest checkpoint: sent again from the store, in order. Followers drop repeats by index.
  PROBITY_RETURN_IF_ERROR(PublishEntries(nullptr));
  PROBITY_RETURN_IF_ERROR(PublishDeadLetters());
  PROBITY_RETURN_IF_ERROR(PublishCheckpoints());
  {
    MutexLock l(&stats_mu_);
    stats_.ready = true;
    // What the store already holds, so /healthz tells the truth before the first new batch.
    stats_.log_size = sequencer_->size();
    stats_.dead_letters = sequencer_->dead_letter_count();
    stats_.checkpoint_size = last_checkpoint_size_;
    stats_.log_published = log_stream_->confirmed();
    stats_.dead_letters_published = dl_stream_->confirmed();
  }
  metrics_->log_size.Set(static_cast<double>(sequencer_->size()));
  ObserveProgress();
  return Status::Ok();
}

bool IngestService::Send(bus::PublicationStream& stream, uint64_t seq, std::string_view key,
                         std::string_view value, const bus::Headers& headers) {
  Status st;
  if (value.size() + key.size() > bus::kMaxRecordBytes) {
    // Cannot happen within the size budget; if it does, it is named, not fatal.
    st = FailedPrecondition(stream.topic() + " #" + std::to_string(seq) + " is " +
                            std::to_string(value.size() + key.size()) +
                            " bytes, over the record limit of " +
                            std::to_string(bus::kMaxRecordBytes));
  } else {
    st = producer_->Produce(stream.topic(), 0, key, value, headers, stream.Tag(seq));
  }
  if (!st.ok()) {
    metrics_->publish_failed.Add({{"topic", stream.topic()}}).Increment();
    stream.SendFailed(seq, st);
    return false;
  }
  stream.Sent(seq);
  return true;
}

Status IngestService::PublishEntries(const logstore::BatchResult* fresh) {
  if (!options_.publish_log) return Status::Ok();
  bus::PublicationStream& stream = *log_stream_;
  const uint64_t to = sequencer_->size();
  // Entries not in this batch come from the store (catch-up after a restart or a refusal).
  const uint64_t store_until = fresh != nullptr ? fresh->tree_size - fresh->appended : to;
  std::string value;
  char key[8];
  auto send = [&](uint64_t index, const merkle::Hash& leaf, std::string_view record) -> Status {
    value.clear();
    AppendSequencedEntry(index, leaf, record, &value);
    logstore::keys::EncodeBe64(key, index);
    Send(stream, index, std::string_view(key, 8), value, {});
    return Status::Ok();
  };
  if (stream.paused()) return Status::Ok();
  uint64_t from = stream.next();
  if (from < store_until) {
    Status scanned = store_->Scan(from, store_until, [&](const logstore::Entry& e) -> Status {
      PROBITY_RETURN_IF_ERROR(send(e.index, e.leaf_hash, e.record_bytes));
      // Stop the scan once the stream paused: everything after waits for the retry.
      return stream.paused() ? Status(Code::kAlreadyExists, "paused") : Status::Ok();
    });
    if (!scanned.ok() && scanned.code() != Code::kAlreadyExists) return scanned;
    if (stream.paused()) return Status::Ok();
    from = store_until;
  }
  if (fresh != nullptr) {
    // The entries as the sequencer stored them: their bytes and leaf hashes come with the result.
    for (size_t k = 0; k < fresh->appended && !stream.paused(); ++k) {
      const uint64_t index = store_until + k;
      if (index < stream.next()) continue;
      PROBITY_RETURN_IF_ERROR(send(index, fresh->leaf_hashes[k], fresh->leaf_data(k)));
    }
  }
  return Status::Ok();
}

Status IngestService::PublishDeadLetters() {
  bus::PublicationStream& stream = *dl_stream_;
  while (!stream.paused() && stream.next() < sequencer_->dead_letter_count()) {
    const uint64_t seq = stream.next();
    PROBITY_ASSIGN_OR_RETURN(std::string stored, store_->GetDeadLetter(seq));
    v1::DeadLetter d;
    if (!d.ParseFromString(stored)) {
      return DataLoss("stored dead letter " + std::to_string(seq) + " does not parse");
    }
    v1::DeadLetter out = PublishedDeadLetter(std::move(d), seq);
    if (!Send(stream, seq, out.original_omitted() ? std::string() : out.original_key(),
              out.SerializeAsString(), {{"probity-deadletter-seq", std::to_string(seq)}})) {
      break;
    }
  }
  return Status::Ok();
}

Status IngestService::PublishCheckpoints() {
  bus::PublicationStream& stream = *cp_stream_;
  if (stream.paused() || stream.next() >= checkpoints_stored_) return Status::Ok();
  PROBITY_ASSIGN_OR_RETURN(auto all, store_->Checkpoints());
  while (!stream.paused() && stream.next() < all.size()) {
    const uint64_t seq = stream.next();
    const v1::CheckpointRecord& rec = all[seq];
    if (!Send(stream, seq, logstore::keys::Be64(rec.tree_size()), rec.SerializeAsString(), {})) {
      break;
    }
  }
  return Status::Ok();
}

void IngestService::ServicePublications() {
  producer_->Poll(0);
  if (auto fatal = producer_->FatalError()) {
    // An idempotent producer that failed for good sends nothing more: make a new one and send
    // again everything the bus has not confirmed.
    for (auto* s : {log_stream_.get(), dl_stream_.get(), cp_stream_.get()}) {
      s->SendFailed(s->confirmed(), FailedPrecondition("producer failed: " + *fatal));
    }
    producer_.reset();
    Status st = MakeProducer();
    if (!st.ok()) {
      std::fprintf(stderr, "ingest: cannot make a new producer: %s\n", st.ToString().c_str());
      return;
    }
  }
  bool retried = false;
  for (auto* s : {log_stream_.get(), dl_stream_.get(), cp_stream_.get()}) {
    if (s->RetryDue()) {
      retried = true;
      if (auto stuck = s->stuck()) {
        std::fprintf(stderr, "ingest: retrying %s #%llu (attempt %u): %s\n", s->topic().c_str(),
                     static_cast<unsigned long long>(stuck->sequence()), stuck->attempts() + 1,
                     stuck->error().c_str());
      }
    }
  }
  if (retried) {
    Status st = PublishEntries(nullptr);
    if (st.ok()) st = PublishDeadLetters();
    if (st.ok()) st = PublishCheckpoints();
    if (!st.ok()) std::fprintf(stderr, "ingest: republishing: %s\n", st.ToString().c_str());
  }
  for (auto* s : {log_stream_.get(), dl_stream_.get(), cp_stream_.get()}) {
    metrics_->stuck.Add({{"topic", s->topic()}}).Set(s->stuck() ? 1 : 0);
  }
}

IngestService::Prepared IngestService::Prepare(std::vector<bus::Message>& batch) const {
  const Micros now = clock_->NowMicros();
  Prepared p;
  p.consumed = batch.size();
  p.records.reserve(batch.size());
  for (bus::Message& m : batch) {
    int64_t& next = p.offsets[{m.topic, m.partition}];
    next = std::max(next, m.offset + 1);
    std::variant<codec::Decoded, codec::Rejection> decoded;
    if (const size_t extra = KeyAndHeaderBytes(m); extra > bus::kMaxInputKeyAndHeadersBytes) {
      decoded = codec::Rejection{std::string(codec::reason::kMessageTooLarge),
                                 "key and headers are " + std::to_string(extra) +
                                     " bytes, over the limit of " +
                                     std::to_string(bus::kMaxInputKeyAndHeadersBytes)};
    } else {
      decoded = codec::Decode(m.topic, m.value, m.Header("content-type"), options_.policy, now);
    }
    if (auto* rej = std::get_if<codec::Rejection>(&decoded)) {
      p.dead_letters.push_back(
          {MakeDeadLetter(m, *rej, now).SerializeAsString(), rej->reason_code});
      continue;
    }
    auto& d = std::get<codec::Decoded>(decoded);
    const v1::Envelope& env = d.envelope;
    PreparedRecord& pr = p.records.emplace_back();
    v1::LogRecord& r = pr.record;
    r.set_payload(std::move(m.value));
    r.set_content_type(d.content_type == codec::ContentType::kJson ? v1::CONTENT_TYPE_JSON
                                                                   : v1::CONTENT_TYPE_PROTOBUF);
    r.set_topic(m.topic);
    r.set_partition(m.partition);
    r.set_offset(m.offset);
    SetTimestamp(r.mutable_received_at(), now);
    r.set_event_id(env.event_id());
    r.set_kind(env.kind());
    r.set_practice_code(env.practice_code());
    *r.mutable_occurred_at() = env.occurred_at();
    if (!m.key.empty()) r.set_message_key(std::move(m.key));
    // The leaf bytes and hash, here rather than on the sequencer's thread.
    r.SerializeToString(&pr.serialized.bytes);
    pr.serialized.leaf = merkle::HashLeaf(pr.serialized.bytes);
  }
  return p;
}

Status IngestService::Commit(Prepared& p) {
  // The sequencer takes parallel vectors; they are moved in and out, not copied.
  std::vector<v1::LogRecord> records;
  std::vector<logstore::Sequencer::Serialized> serialized;
  std::vector<std::string> dead_letters;
  records.reserve(p.records.size());
  serialized.reserve(p.records.size());
  for (PreparedRecord& pr : p.records) {
    records.push_back(std::move(pr.record));
    serialized.push_back(std::move(pr.serialized));
  }
  dead_letters.reserve(p.dead_letters.size());
  for (PreparedDeadLetter& d : p.dead_letters) dead_letters.push_back(std::move(d.bytes));

  auto t0 = std::chrono::steady_clock::now();
  PROBITY_ASSIGN_OR_RETURN(logstore::BatchResult result,
                           sequencer_->Append(&records, p.offsets, dead_letters, &serialized));
  metrics_->append_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  PROBITY_RETURN_IF_ERROR(PublishEntries(&result));
  PROBITY_RETURN_IF_ERROR(PublishDeadLetters());
  // Counted per batch, then one labelled-counter lookup per kind and reason present (a lookup
  // builds a label map and takes the family's lock: too dear per message).
  std::array<uint64_t, v1::EventKind_ARRAYSIZE> accepted_by_kind{};
  for (size_t i = 0; i < records.size(); ++i) {
    if (result.outcomes[i] == logstore::AppendOutcome::kDuplicate) continue;
    // Validation rejects kinds outside the enum; "unknown" (0) would still count, not crash.
    const size_t k = static_cast<size_t>(records[i].kind());
    ++accepted_by_kind[k < accepted_by_kind.size() ? k : 0];
  }
  std::map<std::string_view, uint64_t> rejected_by_reason;
  for (const auto& d : p.dead_letters) ++rejected_by_reason[d.reason];
  MutexLock l(&stats_mu_);
  for (size_t k = 0; k < accepted_by_kind.size(); ++k) {
    if (accepted_by_kind[k] == 0) continue;
    const std::string kind(codec::ShortKindName(static_cast<v1::EventKind>(k)));
    metrics_->accepted.Add({{"kind", kind}}).Increment(static_cast<double>(accepted_by_kind[k]));
    stats_.accepted_by_kind[kind] += accepted_by_kind[k];
  }
  for (const auto& [reason, count] : rejected_by_reason) {
    metrics_->rejected.Add({{"reason", std::string(reason)}}).Increment(static_cast<double>(count));
    stats_.rejected_by_reason[std::string(reason)] += count;
  }
  metrics_->duplicates.Increment(static_cast<double>(result.duplicates));
  metrics_->conflicts.Increment(static_cast<double>(result.conflicts));
  metrics_->log_size.Set(static_cast<double>(result.tree_size));

  stats_.consumed += p.consumed;
  stats_.appended += result.appended;
  stats_.duplicates += result.duplicates;
  stats_.rejected += dead_letters.size();
  stats_.log_size = result.tree_size;
  stats_.dead_letters = sequencer_->dead_letter_count();
  return Status::Ok();
}

Status IngestService::PersistCursors() {
  ServicePublications();
  const uint64_t log_c = options_.publish_log ? log_stream_->confirmed() : 0;
  const uint64_t dl_c = dl_stream_->confirmed();
  if (options_.publish_log && log_c > log_persisted_) {
    PROBITY_RETURN_IF_ERROR(sequencer_->SetLogPublished(log_c));
    log_persisted_ = log_c;
  }
  if (dl_c > dl_persisted_) {
    PROBITY_RETURN_IF_ERROR(sequencer_->SetDeadLettersPublished(dl_c));
    dl_persisted_ = dl_c;
  }
  const uint64_t log_sent = log_stream_->next();
  metrics_->unconfirmed.Set(static_cast<double>(log_sent - std::min(log_sent, log_c)));
  MutexLock l(&stats_mu_);
  stats_.log_published = log_c;
  stats_.dead_letters_published = dl_c;
  return Status::Ok();
}

Status IngestService::MaybeCheckpoint(bool force) {
  if (signer_ == nullptr) return Status::Ok();
  const uint64_t size = sequencer_->size();
  const Micros now = clock_->NowMicros();
  if (size == last_checkpoint_size_) return Status::Ok();
  bool due = force || now - last_checkpoint_at_ >= Micros{options_.checkpoint_interval_ms} * 1000 ||
             size - last_checkpoint_size_ >= options_.checkpoint_every_entries;
  if (!due) return Status::Ok();
  note::Checkpoint cp;
  cp.origin = options_.checkpoint_origin;
  cp.size = size;
  cp.root = sequencer_->root();
  PROBITY_ASSIGN_OR_RETURN(std::string signed_note, note::SignCheckpoint(cp, *signer_));
  v1::CheckpointRecord rec;
  rec.set_tree_size(size);
  rec.set_root_hash(std::string(merkle::AsBytes(cp.root)));
  rec.set_signed_note(signed_note);
  SetTimestamp(rec.mutable_created_at(), now);
  PROBITY_RETURN_IF_ERROR(sequencer_->AddCheckpoint(rec));
  ++checkpoints_stored_;
  PROBITY_RETURN_IF_ERROR(PublishCheckpoints());
  last_checkpoint_size_ = size;
  last_checkpoint_at_ = now;
  metrics_->checkpoints.Increment();
  MutexLock l(&stats_mu_);
  stats_.checkpoint_size = size;
  return Status::Ok();
}

void IngestService::UpdateLag() {
  int64_t lag = 0;
  bool known = true;
  auto stored = store_->ConsumerOffsets();
  if (!stored.ok()) return;
  for (const auto& [topic, p] : partitions_) {
    int64_t hi = consumer_->HighWatermark(topic, p);
    if (hi < 0) {
      known = false;
      continue;
    }
    auto it = stored->find({topic, p});
    int64_t next = it == stored->end() ? 0 : it->second;
    lag += std::max<int64_t>(0, hi - next);
  }
  metrics_->lag.Set(static_cast<double>(lag));
  metrics_->bus_errors.Increment(static_cast<double>(consumer_->transient_errors()) -
                                 metrics_->bus_errors.Value());
  MutexLock l(&stats_mu_);
  stats_.lag = known ? lag : -1;
}

void IngestService::ObserveProgress() {
  IngestStats s = stats();
  const uint64_t dl_count = sequencer_->dead_letter_count();
  const bool pending = s.lag > 0 || (options_.publish_log && s.log_size > s.log_published) ||
                       dl_count > s.dead_letters_published ||
                       (signer_ != nullptr && s.log_size > s.checkpoint_size);
  watch_.Observe({s.consumed, s.log_published, s.dead_letters_published, s.checkpoint_size},
                 pending);
}

Status IngestService::WaitForBus(const std::atomic<bool>* stop) {
  // Backpressure: while the bus has not confirmed enough of what was published, do not go on
  // (unless stopping: what is appended stays in the log and is published again after a restart).
  // Unconfirmed counts what is not yet sent too, so that a refused publication (the stream
  // paused) bounds the backlog the same way.
  auto unconfirmed = [&] {
    return sequencer_->size() - std::min(sequencer_->size(), log_stream_->confirmed());
  };
  uint64_t turns = 0;
  while (options_.publish_log && unconfirmed() > options_.max_unconfirmed &&
         !(stop != nullptr && stop->load())) {
    producer_->Poll(10);
    PROBITY_RETURN_IF_ERROR(PersistCursors());
    if (++turns % 50 == 0) {
      UpdateLag();
      ObserveProgress();
    }
  }
  return Status::Ok();
}

Status IngestService::PollBatch(std::vector<bus::Message>* batch) {
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.max_batch_latency_ms);
  while (batch->size() < options_.max_batch) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    PROBITY_RETURN_IF_ERROR(
        consumer_->Poll(options_.max_batch - batch->size(), static_cast<int>(left), batch));
    if (batch->empty()) break;  // nothing arrived in the whole window
  }
  return Status::Ok();
}

Status IngestService::CollectCosignatures() {
  if (cosigner_ == nullptr) return Status::Ok();
  const Micros now = clock_->NowMicros();
  if (last_checkpoint_size_ > last_offered_size_ &&
      now - last_offer_at_ >= Micros{options_.witness_interval_ms} * 1000) {
    PROBITY_ASSIGN_OR_RETURN(auto latest, store_->LatestCheckpoint());
    if (latest) {
      cosigner_->Offer(*latest);
      last_offered_size_ = latest->tree_size();
      last_offer_at_ = now;
    }
  }
  if (std::optional<v1::CheckpointRecord> cosigned = cosigner_->TakeCosigned()) {
    // The same checkpoint with cosignature lines added: the sequencer checks size and root.
    PROBITY_RETURN_IF_ERROR(sequencer_->AddCheckpoint(*cosigned));
    Status st = producer_->Produce(std::string(bus::kCheckpointsTopic), 0,
                                   logstore::keys::Be64(cosigned->tree_size()),
                                   cosigned->SerializeAsString(), {}, kCosignedTag);
    if (!st.ok())
      metrics_->publish_failed.Add({{"topic", std::string(bus::kCheckpointsTopic)}}).Increment();
  }
  return Status::Ok();
}

Status IngestService::AfterRound() {
  PROBITY_RETURN_IF_ERROR(MaybeCheckpoint(false));
  PROBITY_RETURN_IF_ERROR(CollectCosignatures());
  PROBITY_RETURN_IF_ERROR(PersistCursors());
  if (++rounds_ % 10 == 0) UpdateLag();
  ObserveProgress();
  return Status::Ok();
}

Status IngestService::RunOnce() {
  PROBITY_RETURN_IF_ERROR(WaitForBus());
  std::vector<bus::Message> batch;
  PROBITY_RETURN_IF_ERROR(PollBatch(&batch));
  if (!batch.empty()) {
    Prepared p = Prepare(batch);
    PROBITY_RETURN_IF_ERROR(Commit(p));
  }
  return AfterRound();
}

Status IngestService::Run(const std::atomic<bool>* stop) {
  // Two stages: a reader thread polls the bus and decodes and validates each batch (Prepare);
  // this thread appends, publishes and checkpoints them in order (Commit). At most kQueued
  // prepared batches wait between them, so memory stays bounded and backpressure reaches the
  // reader. Offsets are stored only with the appended batch, so whatever the reader had
  // prepared when the process dies is simply read again.
  constexpr size_t kQueued = 2;
  struct Handoff {
    Mutex mu;
    CondVar changed;
    std::deque<Prepared> queue GUARDED_BY(mu);
    bool reader_done GUARDED_BY(mu) = false;
    bool abort GUARDED_BY(mu) = false;
    Status reader_status GUARDED_BY(mu);
  } h;
  std::thread reader([&] {
    Status st;
    while (st.ok() && !stop->load()) {
      std::vector<bus::Message> batch;
      st = PollBatch(&batch);
      if (!st.ok() || batch.empty()) continue;
      Prepared p = Prepare(batch);
      MutexLock l(&h.mu);
      while (h.queue.size() >= kQueued && !h.abort) h.changed.Wait(&h.mu);
      if (h.abort) break;
      h.queue.push_back(std::move(p));
      h.changed.NotifyAll();
    }
    MutexLock l(&h.mu);
    h.reader_status = st;
    h.reader_done = true;
    h.changed.NotifyAll();
  });
  auto stop_reader = [&] {
    {
      MutexLock l(&h.mu);
      h.abort = true;
      h.changed.NotifyAll();
    }
    reader.join();
  };
  const auto wait = std::chrono::milliseconds(std::max(1, options_.max_batch_latency_ms));
  for (;;) {
    Status st = WaitForBus(stop);
    std::optional<Prepared> next;
    bool done = false;
    if (st.ok()) {
      MutexLock l(&h.mu);
      const auto deadline = std::chrono::steady_clock::now() + wait;
      while (h.queue.empty() && !h.reader_done && h.changed.WaitUntil(&h.mu, deadline)) {
      }
      if (!h.queue.empty()) {
        next.emplace(std::move(h.queue.front()));
        h.queue.pop_front();
        h.changed.NotifyAll();
      } else {
        done = h.reader_done;  // and nothing left: the reader stopped (stop set, or an error)
      }
    }
    if (st.ok() && next) st = Commit(*next);
    if (st.ok()) st = AfterRound();
    if (!st.ok()) {
      stop_reader();
      return st;
    }
    if (done) break;
  }
  reader.join();
  {
    MutexLock l(&h.mu);
    PROBITY_RETURN_IF_ERROR(h.reader_status);
  }
  return Drain();
}

Status IngestService::Drain() {
  PROBITY_RETURN_IF_ERROR(MaybeCheckpoint(true));
  Status flushed = producer_->Flush(10000);
  PROBITY_RETURN_IF_ERROR(PersistCursors());
  {
    MutexLock l(&stats_mu_);
    stats_.ready = false;
  }
  return flushed;
}

IngestStats IngestService::stats() const {
  MutexLock l(&stats_mu_);
  return stats_;
}

metrics::Health IngestService::health() const {
  IngestStats s = stats();
  v1::HealthReport r;
  r.set_log_size(static_cast<double>(s.log_size));
  r.set_log_published(static_cast<double>(s.log_published));
  r.set_dead_letters(static_cast<double>(s.dead_letters));
  r.set_dead_letters_published(static_cast<double>(s.dead_letters_published));
  r.set_consumer_lag(static_cast<double>(s.lag));
  r.set_latest_checkpoint_size(static_cast<double>(s.checkpoint_size));
  r.set_consumed(static_cast<double>(s.consumed));
  for (const auto* stream : {log_stream_.get(), dl_stream_.get(), cp_stream_.get()}) {
    if (stream == nullptr) continue;
    if (auto st = stream->stuck()) *r.add_stuck() = *st;
  }
  watch_.Judge(&r);
  if (!s.ready) {
    r.set_ready(false);
    r.add_not_ready_reasons("not started, or stopped");
  }
  metrics_->ready.Set(r.ready() ? 1 : 0);
  return {r.ready(), codec::ToJson(r, codec::JsonOptions{.print_defaults = true}), r.live()};
}

}  // namespace probity::ingest
