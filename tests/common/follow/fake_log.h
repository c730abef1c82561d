// Fakes for follower tests: a log built in memory with its own signing key (entries, signed
// checkpoints, and the means to tamper with both), sources over it, a producer whose deliveries
// the test controls, and a follower that records what it was given.
#pragma once

#include <deque>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/bus/kafka.h"
#include "common/follow/bus_publisher.h"
#include "common/follow/checkpoint_source.h"
#include "common/follow/entry_source.h"
#include "common/follow/follower.h"
#include "common/merkle/compact_range.h"
#include "common/merkle/hasher.h"
#include "common/note/checkpoint.h"
#include "common/note/cosignature.h"
#include "common/note/note.h"
#include "probity/v1/events.pb.h"
#include "probity/v1/log.pb.h"

namespace probity::follow::testing {

inline constexpr char kOrigin[] = "probity.test/log";

// A file's bytes ("" when it cannot be read): evidence files in the tests.
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A key pair for the log (or for another party with the same name, to forge a checkpoint).
struct LogKey {
  note::Signer signer;
  note::Verifier verifier;
  static LogKey Make(const std::string& name = kOrigin) {
    auto kp = note::GenerateKey(name);
    return {*note::Signer::FromSignerKey(kp->signer_key),
            *note::Verifier::FromVerifierKey(kp->verifier_key)};
  }
};

// An in-memory log: entries with their leaf hashes, and checkpoints over them.
class FakeLog {
 public:
  explicit FakeLog(const LogKey* key) : key_(key) {}

  // Appends an entry carrying a claim-like envelope with this event id; returns its index.
  uint64_t Add(const std::string& event_id) {
    v1::Envelope env;
    env.set_event_id(event_id);
    env.set_kind(v1::EVENT_KIND_CLAIM);
    env.set_schema_version(1);
    env.set_practice_code("A81001");
    v1::LogRecord r;
    r.set_payload(env.SerializeAsString());
    r.set_content_type(v1::CONTENT_TYPE_PROTOBUF);
    r.set_topic("probity.claims.v1");
    r.set_event_id(event_id);
    r.set_kind(v1::EVENT_KIND_CLAIM);
    r.set_practice_code("A81001");
    logstore::Entry e;
    e.index = entries.size();
    e.record_bytes = r.SerializeAsString();
    e.leaf_hash = merkle::HashLeaf(e.record_bytes);
    entries.push_back(e);
    return e.index;
  }
  void AddN(int n, const std::string& prefix = "ev-") {
    for (int i = 0; i < n; ++i) Add(prefix + std::to_string(entries.size()));
  }
  merkle::Hash Root(uint64_t size) const {
    merkle::CompactRange r;
    for (uint64_t i = 0; i < size; ++i) r.Append(entries[i].leaf_hash);
    return r.Root();
  }
  // A checkpoint record at `size` signed by `signer` (the log's key by default) over `root`
  // (this log's root at size by default).
  v1::CheckpointRecord Checkpoint(uint64_t size, const note::Signer* signer = nullptr,
                                  std::optional<merkle::Hash> root = std::nullopt) const {
    note::Checkpoint cp;
    cp.origin = kOrigin;
    cp.size = size;
    cp.root = root ? *root : Root(size);
    v1::CheckpointRecord rec;
    rec.set_tree_size(size);
    rec.set_root_hash(std::string(merkle::AsBytes(cp.root)));
    rec.set_signed_note(*note::SignCheckpoint(cp, signer ? *signer : key_->signer));
    return rec;
  }

  // The log's checkpoint at `size` with a witness's cosignature line added (what the sequencer
  // publishes again once a witness cosigned it).
  v1::CheckpointRecord CosignedCheckpoint(uint64_t size) const {
    v1::CheckpointRecord rec = Checkpoint(size);
    static const note::Signer cosigner = [] {
      auto wk = note::GenerateKey("witness.test/w1", note::kAlgCosignatureV1);
      return *note::Signer::FromSignerKey(wk->signer_key, note::kAlgCosignatureV1);
    }();
    const std::string text = note::FormatCheckpoint({kOrigin, size, Root(size), {}});
    rec.set_signed_note(rec.signed_note() + *note::Cosign(cosigner, text, 1700000000));
    return rec;
  }

  std::vector<logstore::Entry> entries;

 private:
  const LogKey* key_;
};

// Reads entries from a vector (the test edits it to tamper or to make a gap).
class VectorEntrySource final : public EntrySource {
 public:
  explicit VectorEntrySource(const std::vector<logstore::Entry>* entries) : entries_(entries) {}
  Status Read(uint64_t next, size_t max, std::vector<logstore::Entry>* out) override {
    ++reads;
    for (const auto& e : *entries_) {
      if (e.index < next) continue;
      if (out->size() >= max) break;
      out->push_back(e);
      ++entries_read;
    }
    return Status::Ok();
  }
  uint64_t reads = 0;
  uint64_t entries_read = 0;

 private:
  const std::vector<logstore::Entry>* entries_;
};

class VectorCheckpointSource final : public CheckpointSource {
 public:
  Status Read(std::vector<v1::CheckpointRecord>* out) override {
    while (pos_ < checkpoints.size()) out->push_back(checkpoints[pos_++]);
    return Status::Ok();
  }
  void Reset() override { pos_ = 0; }
  std::vector<v1::CheckpointRecord> checkpoints;

 private:
  size_t pos_ = 0;
};

// A producer that delivers on Flush / Poll, failing while `fail` is set.
class FakeProducer final : public bus::MessageProducer {
 public:
  Status Produce(std::string_view topic, int32_t, std::string_view key, std::string_view value,
                 const bus::Headers&, uint64_t tag) override {
    if (refuse) return Unavailable("queue full");
    queued_.push_back({std::string(topic), std::string(key), std::string(value), tag});
    return Status::Ok();
  }
  void Poll(int) override { Deliver(); }
  Status Flush(int) override {
    Deliver();
    return Status::Ok();
  }
  int OutQueueLength() const override { return static_cast<int>(queued_.size()); }
  std::optional<std::string> FatalError() const override { return std::nullopt; }

  struct Sent {
    std::string topic, key, value;
    uint64_t tag = 0;
  };
  BusPublisher* publisher = nullptr;
  bool fail = false;       // delivery reports say the bus refused
  std::string fail_topic;  // ... only for this topic, when set
  bool refuse = false;     // Produce fails
  std::vector<Sent> delivered;

 private:
  void Deliver() {
    while (!queued_.empty()) {
      Sent s = queued_.front();
      queued_.pop_front();
      bus::DeliveryReport r;
      r.topic = s.topic;
      r.tag = s.tag;
      const bool refused = fail && (fail_topic.empty() || fail_topic == s.topic);
      r.status = refused ? Unavailable("broker down") : Status::Ok();
      if (!refused) delivered.push_back(s);
      if (publisher) publisher->OnDelivery(r);
    }
  }
  std::deque<Sent> queued_;
};

// What a RecordingFollower keeps across "restarts" (it is the follower's durable state).
struct SavedState {
  uint64_t next = 0;
  uint64_t saves = 0;
};

// Publishes one message per entry ("out" topic, key = index) and records what it applied.
class RecordingFollower final : public Follower {
 public:
  explicit RecordingFollower(SavedState* saved) : saved_(saved) {}
  std::string_view name() const override { return "recorder"; }
  StatusOr<uint64_t> Restore() override {
    ++restores;
    return saved_->next;
  }
  Status PublishAtStart(Publisher* out) override {
    ++starts;
    return out->Publish("start", "k", "v");
  }
  Status Apply(const Event& e, Publisher* out) override {
    applied.push_back(e.index);
    event_ids.push_back(e.envelope->event_id());
    verified_sizes.push_back(e.verified_size);
    return out->Publish("out", std::to_string(e.index), e.record->event_id());
  }
  Status Idle(Micros, Publisher*) override {
    ++idles;
    return Status::Ok();
  }
  Status Save(uint64_t next) override {
    saved_->next = next;
    ++saved_->saves;
    return Status::Ok();
  }
  std::vector<uint64_t> applied;
  std::vector<std::string> event_ids;
  std::vector<uint64_t> verified_sizes;
  int restores = 0, starts = 0, idles = 0;

 private:
  SavedState* saved_;
};

}  // namespace probity::follow::testing
