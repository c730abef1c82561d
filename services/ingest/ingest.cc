#include "services/ingest/ingest.h"

#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <optional>
#include <thread>

#include "common/bus/topics.h"
#include "common/logstore/keys.h"
#include "common/merkle/hasher.h"
#include "common/note/checkpoint.h"

namespace probity::ingest {
namespace {

constexpr uint64_t kTagLog = uint64_t{1} << 62;
constexpr uint64_t kTagDeadLetter = uint64_t{2} << 62;
constexpr uint64_t kTagCheckpoint = uint64_t{3} << 62;
constexpr uint64_t kTagMask = (uint64_t{1} << 62) - 1;

void SetTimestamp(google::protobuf::Timestamp* ts, Micros t) {
  ts->set_seconds(t / 1000000);
  ts->set_nanos(static_cast<int32_t>((t % 1000000) * 1000));
}

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

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
                     .Add({})) {}

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
  d.set_message(why.message);
  SetTimestamp(d.mutable_rejected_at(), now);
  return d;
}

IngestService::IngestService(IngestOptions options, bus::ClientConfig bus,
                             logstore::LogStore* store, const Clock* clock,
                             prometheus::Registry* registry, const note::Signer* signer)
    : options_(std::move(options)),
      bus_config_(std::move(bus)),
      store_(store),
      clock_(clock),
      signer_(signer),
      metrics_(*registry) {}

IngestService::~IngestService() = default;

Status IngestService::Start() {
  PROBITY_ASSIGN_OR_RETURN(sequencer_, logstore::Sequencer::Create(store_));
  PROBITY_ASSIGN_OR_RETURN(consumer_, bus::Consumer::Create(bus_config_));
  PROBITY_ASSIGN_OR_RETURN(producer_,
                           bus::Producer::Create(bus_config_, [this](const bus::DeliveryReport& r) {
                             if (!r.status.ok()) {
                               std::lock_guard<std::mutex> l(publish_mu_);
                               if (!publish_failed_) publish_error_ = r.status.message();
                               publish_failed_ = true;
                               return;
                             }
                             uint64_t n = (r.tag & kTagMask) + 1;
                             switch (r.tag & ~kTagMask) {
                               case kTagLog:
                                 if (n > log_confirmed_) log_confirmed_ = n;
                                 break;
                               case kTagDeadLetter:
                                 if (n > dl_confirmed_) dl_confirmed_ = n;
                                 break;
                               default:
                                 break;
                             }
                           }));

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
                         parts.status().message() + " (is the bus at " +
                         bus_config_.bootstrap_servers +
                         " up, and were Probity's topics created?)");
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

  PROBITY_ASSIGN_OR_RETURN(uint64_t published, store_->LogPublishedUpTo());
  PROBITY_ASSIGN_OR_RETURN(uint64_t dl_published, store_->DeadLettersPublishedUpTo());
  log_confirmed_ = log_sent_ = log_persisted_ = published;
  dl_confirmed_ = dl_sent_ = dl_persisted_ = dl_published;
  PROBITY_ASSIGN_OR_RETURN(auto latest, store_->LatestCheckpoint());
  if (latest) last_checkpoint_size_ = latest->tree_size();
  last_checkpoint_at_ = clock_->NowMicros();
  PROBITY_RETURN_IF_ERROR(CatchUpPublications());
  {
    std::lock_guard<std::mutex> l(stats_mu_);
    stats_.ready = true;
    // What the store already holds, so /healthz tells the truth before the first new batch.
    stats_.log_size = sequencer_->size();
    stats_.dead_letters = sequencer_->dead_letter_count();
    stats_.checkpoint_size = last_checkpoint_size_;
    stats_.log_published = log_confirmed_.load();
  }
  metrics_.log_size.Set(static_cast<double>(sequencer_->size()));
  return Status::Ok();
}

Status IngestService::CatchUpPublications() {
  // Entries appended before a restart but not confirmed on the bus: send them again from the
  // store, in order. Followers drop repeats by index.
  if (options_.publish_log) {
    PROBITY_RETURN_IF_ERROR(PublishEntries(log_sent_, nullptr));
  }
  for (; dl_sent_ < sequencer_->dead_letter_count(); ++dl_sent_) {
    PROBITY_ASSIGN_OR_RETURN(std::string d, store_->GetDeadLetter(dl_sent_));
    v1::DeadLetter dl;
    dl.ParseFromString(d);
    PROBITY_RETURN_IF_ERROR(producer_->Produce(
        bus::kDeadLetterTopic, 0, dl.original_key(), d,
        {{"probity-deadletter-seq", std::to_string(dl_sent_)}}, kTagDeadLetter | dl_sent_));
  }
  return Status::Ok();
}

Status IngestService::PublishEntries(uint64_t from, const logstore::BatchResult* fresh) {
  const uint64_t to = sequencer_->size();
  std::string value;
  // Entries not in this batch come from the store (catch-up after restart).
  uint64_t store_until = fresh != nullptr ? fresh->tree_size - fresh->appended : to;
  if (from < store_until) {
    PROBITY_RETURN_IF_ERROR(
        store_->Scan(from, store_until, [&](const logstore::Entry& e) -> Status {
          value.clear();
          AppendSequencedEntry(e.index, e.leaf_hash, e.record_bytes, &value);
          return producer_->Produce(bus::kLogTopic, 0, logstore::keys::Be64(e.index), value, {},
                                    kTagLog | e.index);
        }));
    from = store_until;
  }
  if (fresh != nullptr) {
    // The entries as the sequencer stored them: their bytes and leaf hashes come with the result.
    char key[8];
    for (size_t k = 0; k < fresh->appended; ++k) {
      const uint64_t index = store_until + k;
      if (index < from) continue;
      value.clear();
      AppendSequencedEntry(index, fresh->leaf_hashes[k], fresh->leaf_data(k), &value);
      logstore::keys::EncodeBe64(key, index);
      PROBITY_RETURN_IF_ERROR(producer_->Produce(bus::kLogTopic, 0, std::string_view(key, 8), value,
                                                 {}, kTagLog | index));
    }
  }
  log_sent_ = to;
  return Status::Ok();
}

IngestService::Prepared IngestService::Prepare(std::vector<bus::Message>& batch) const {
  const Micros now = clock_->NowMicros();
  Prepared p;
  p.consumed = batch.size();
  std::vector<v1::LogRecord>& records = p.records;
  records.reserve(batch.size());
  std::vector<std::string>& dead_letters = p.dead_letters;
  std::vector<std::string>& dead_reasons = p.dead_reasons;
  std::vector<std::string>& batch_keys = p.dead_keys;
  std::vector<v1::EventKind>& kinds = p.kinds;
  logstore::OffsetMap& offsets = p.offsets;
  for (bus::Message& m : batch) {
    int64_t& next = offsets[{m.topic, m.partition}];
    next = std::max(next, m.offset + 1);
    auto decoded = codec::Decode(m.topic, m.value, m.Header("content-type"), options_.policy, now);
    if (auto* rej = std::get_if<codec::Rejection>(&decoded)) {
      dead_letters.push_back(MakeDeadLetter(m, *rej, now).SerializeAsString());
      batch_keys.push_back(m.key);
      dead_reasons.push_back(rej->reason_code);
      continue;
    }
    auto& d = std::get<codec::Decoded>(decoded);
    const v1::Envelope& env = d.envelope;
    v1::LogRecord& r = records.emplace_back();
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
    kinds.push_back(env.kind());
    // The leaf bytes and hash, here rather than on the sequencer's thread.
    logstore::Sequencer::Serialized& ser = p.serialized.emplace_back();
    r.SerializeToString(&ser.bytes);
    ser.leaf = merkle::HashLeaf(ser.bytes);
  }
  return p;
}

Status IngestService::Commit(Prepared& p) {
  std::vector<v1::LogRecord>& records = p.records;
  const std::vector<std::string>& dead_letters = p.dead_letters;
  const std::vector<std::string>& batch_keys = p.dead_keys;
  const std::vector<v1::EventKind>& kinds = p.kinds;
  auto t0 = std::chrono::steady_clock::now();
  PROBITY_ASSIGN_OR_RETURN(logstore::BatchResult result,
                           sequencer_->Append(&records, p.offsets, dead_letters, &p.serialized));
  metrics_.append_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  if (options_.publish_log) {
    PROBITY_RETURN_IF_ERROR(PublishEntries(log_sent_, &result));
  }
  const uint64_t first_dead_letter = sequencer_->dead_letter_count() - dead_letters.size();
  for (size_t i = 0; i < dead_letters.size(); ++i) {
    const uint64_t seq = first_dead_letter + i;
    if (seq < dl_sent_) continue;
    PROBITY_RETURN_IF_ERROR(producer_->Produce(
        bus::kDeadLetterTopic, 0, batch_keys[i], dead_letters[i],
        {{"probity-deadletter-seq", std::to_string(seq)}}, kTagDeadLetter | seq));
    dl_sent_ = seq + 1;
  }
  // Counted per batch, then one labelled-counter lookup per kind and reason present (a lookup
  // builds a label map and takes the family's lock: too dear per message).
  std::array<uint64_t, v1::EventKind_ARRAYSIZE> accepted_by_kind{};
  for (size_t i = 0; i < records.size(); ++i) {
    if (result.outcomes[i] == logstore::AppendOutcome::kDuplicate) continue;
    // Validation rejects kinds outside the enum; "unknown" (0) would still count, not crash.
    const size_t k = static_cast<size_t>(kinds[i]);
    ++accepted_by_kind[k < accepted_by_kind.size() ? k : 0];
  }
  std::map<std::string_view, uint64_t> rejected_by_reason;
  for (const auto& reason : p.dead_reasons) ++rejected_by_reason[reason];
  std::lock_guard<std::mutex> l(stats_mu_);
  for (size_t k = 0; k < accepted_by_kind.size(); ++k) {
    if (accepted_by_kind[k] == 0) continue;
    const std::string kind(codec::ShortKindName(static_cast<v1::EventKind>(k)));
    metrics_.accepted.Add({{"kind", kind}}).Increment(static_cast<double>(accepted_by_kind[k]));
    stats_.accepted_by_kind[kind] += accepted_by_kind[k];
  }
  for (const auto& [reason, count] : rejected_by_reason) {
    metrics_.rejected.Add({{"reason", std::string(reason)}}).Increment(static_cast<double>(count));
    stats_.rejected_by_reason[std::string(reason)] += count;
  }
  metrics_.duplicates.Increment(static_cast<double>(result.duplicates));
  metrics_.conflicts.Increment(static_cast<double>(result.conflicts));
  metrics_.log_size.Set(static_cast<double>(result.tree_size));

  stats_.consumed += p.consumed;
  stats_.appended += result.appended;
  stats_.duplicates += result.duplicates;
  stats_.rejected += dead_letters.size();
  stats_.log_size = result.tree_size;
  stats_.dead_letters = sequencer_->dead_letter_count();
  return Status::Ok();
}

Status IngestService::PersistCursors() {
  producer_->Poll(0);
  if (publish_failed_) {
    std::lock_guard<std::mutex> l(publish_mu_);
    return Unavailable("publishing failed: " + publish_error_);
  }
  uint64_t log_c = options_.publish_log ? log_confirmed_.load() : 0;
  uint64_t dl_c = dl_confirmed_.load();
  if (options_.publish_log && log_c > log_persisted_) {
    PROBITY_RETURN_IF_ERROR(sequencer_->SetLogPublished(log_c));
    log_persisted_ = log_c;
  }
  if (dl_c > dl_persisted_) {
    PROBITY_RETURN_IF_ERROR(sequencer_->SetDeadLettersPublished(dl_c));
    dl_persisted_ = dl_c;
  }
  metrics_.unconfirmed.Set(static_cast<double>(log_sent_ - std::min(log_sent_, log_c)));
  std::lock_guard<std::mutex> l(stats_mu_);
  stats_.log_published = log_c;
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
  PROBITY_RETURN_IF_ERROR(producer_->Produce(bus::kCheckpointsTopic, 0, logstore::keys::Be64(size),
                                             rec.SerializeAsString(), {}, kTagCheckpoint | size));
  last_checkpoint_size_ = size;
  last_checkpoint_at_ = now;
  metrics_.checkpoints.Increment();
  std::lock_guard<std::mutex> l(stats_mu_);
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
  metrics_.lag.Set(static_cast<double>(lag));
  std::lock_guard<std::mutex> l(stats_mu_);
  stats_.lag = known ? lag : -1;
}

Status IngestService::WaitForBus(const std::atomic<bool>* stop) {
  // Backpressure: while the bus has not confirmed enough of what was published, do not go on
  // (unless stopping: what is appended stays in the log and is published again after a restart).
  while (options_.publish_log &&
         log_sent_ - std::min(log_sent_, log_confirmed_.load()) > options_.max_unconfirmed &&
         !(stop != nullptr && stop->load())) {
    producer_->Poll(10);
    PROBITY_RETURN_IF_ERROR(PersistCursors());
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

Status IngestService::AfterRound() {
  PROBITY_RETURN_IF_ERROR(MaybeCheckpoint(false));
  PROBITY_RETURN_IF_ERROR(PersistCursors());
  if (++rounds_ % 10 == 0) UpdateLag();
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
  std::mutex mu;
  std::condition_variable changed;
  std::deque<Prepared> queue;
  bool reader_done = false, abort = false;
  Status reader_status;
  std::thread reader([&] {
    Status st;
    while (st.ok() && !stop->load()) {
      std::vector<bus::Message> batch;
      st = PollBatch(&batch);
      if (!st.ok() || batch.empty()) continue;
      Prepared p = Prepare(batch);
      std::unique_lock<std::mutex> l(mu);
      changed.wait(l, [&] { return queue.size() < kQueued || abort; });
      if (abort) break;
      queue.push_back(std::move(p));
      changed.notify_all();
    }
    std::lock_guard<std::mutex> l(mu);
    reader_status = st;
    reader_done = true;
    changed.notify_all();
  });
  auto stop_reader = [&] {
    {
      std::lock_guard<std::mutex> l(mu);
      abort = true;
      changed.notify_all();
    }
    reader.join();
  };
  const auto wait = std::chrono::milliseconds(std::max(1, options_.max_batch_latency_ms));
  for (;;) {
    Status st = WaitForBus(stop);
    std::optional<Prepared> next;
    bool done = false;
    if (st.ok()) {
      std::unique_lock<std::mutex> l(mu);
      changed.wait_for(l, wait, [&] { return !queue.empty() || reader_done; });
      if (!queue.empty()) {
        next.emplace(std::move(queue.front()));
        queue.pop_front();
        changed.notify_all();
      } else {
        done = reader_done;  // and nothing left: the reader stopped (stop set, or an error)
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
  PROBITY_RETURN_IF_ERROR(reader_status);
  return Drain();
}

Status IngestService::Drain() {
  PROBITY_RETURN_IF_ERROR(MaybeCheckpoint(true));
  Status flushed = producer_->Flush(10000);
  PROBITY_RETURN_IF_ERROR(PersistCursors());
  {
    std::lock_guard<std::mutex> l(stats_mu_);
    stats_.ready = false;
  }
  return flushed;
}

IngestStats IngestService::stats() const {
  std::lock_guard<std::mutex> l(stats_mu_);
  return stats_;
}

metrics::Health IngestService::health() const {
  IngestStats s = stats();
  std::string json = "{\"ready\":" + std::string(s.ready ? "true" : "false") +
                     ",\"log_size\":" + std::to_string(s.log_size) +
                     ",\"log_published\":" + std::to_string(s.log_published) +
                     ",\"dead_letters\":" + std::to_string(s.dead_letters) +
                     ",\"consumer_lag\":" + std::to_string(s.lag) +
                     ",\"latest_checkpoint_size\":" + std::to_string(s.checkpoint_size) + "}";
  return {s.ready, json};
}

}  // namespace probity::ingest
