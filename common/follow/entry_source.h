// Followers of the audit log (rules, alerts, any witness) read sequenced entries in index order
// from an EntrySource: the store itself when in the sequencer's process, or probity.log.v1.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/bus/kafka.h"
#include "common/logstore/store.h"
#include "common/status/status.h"
#include "probity/v1/events.pb.h"
#include "probity/v1/log.pb.h"

namespace probity::follow {

// Where sequenced entries come from, in index order. Repeats (index below the next expected) are
// dropped; a gap is an error.
class EntrySource {
 public:
  virtual ~EntrySource() = default;
  // Appends entries with index >= next (at most max) to *out; may return none. kOutOfRange when
  // entry `next` is no longer available here (retention): the caller catches up elsewhere;
  // kUnavailable when a retry may help.
  virtual Status Read(uint64_t next, size_t max, std::vector<logstore::Entry>* out) = 0;
  // Forgets any read position, so that the next Read may ask for an index below the last one
  // returned (a follower that restarts from its saved state).
  virtual void Reset() {}
  // After a kOutOfRange: the earliest index this source still held then, or 0 when it cannot
  // tell. Lets a reader take the entries below it elsewhere without asking here each time.
  virtual uint64_t earliest() const { return 0; }
};

// Reads the log store directly (the rules target in the same process as ingest, or over a
// read-only copy).
class StoreSource final : public EntrySource {
 public:
  explicit StoreSource(const logstore::LogReader* store) : store_(store) {}
  Status Read(uint64_t next, size_t max, std::vector<logstore::Entry>* out) override;

 private:
  const logstore::LogReader* store_;
};

// Follows probity.log.v1 on the bus. Each entry carries the leaf hash the topic states, unchecked:
// the runtime checks every entry against it and, on a mismatch, stops with the entry's bytes as
// evidence (a source that dropped or failed on it would leave none). When the bus deletes old
// segments while this reads them (offset out of range), it drops what it has seen and starts the
// topic again within the same Read (kUnavailable only if that happens kMovedRetries times in a
// row); when the entry it needs is gone for good, kOutOfRange names it and the earliest the
// topic still holds. It never skips an index.
class LogTopicSource final : public EntrySource {
 public:
  static StatusOr<std::unique_ptr<LogTopicSource>> Create(const bus::ClientConfig& cfg);
  Status Read(uint64_t next, size_t max, std::vector<logstore::Entry>* out) override;
  void Reset() override { assigned_ = false; }
  uint64_t earliest() const override { return earliest_; }

 private:
  static constexpr int kMovedRetries = 3;
  std::unique_ptr<bus::Consumer> consumer_;
  bool assigned_ = false;
  uint64_t earliest_ = 0;  // the first index read after the last kOutOfRange
};

// Reads `primary` (probity.log.v1), and when it says the entries a follower needs are no longer
// there (kOutOfRange), reads them from a verified copy of the log on disk instead (the
// sequencer's store or a replica's, opened read-only and kept open; opened again when it lacks
// the next entry, so that it sees what its writer appended since), until the primary has them
// again. Once the primary named its earliest index (EntrySource::earliest), entries below it
// come from the store without asking the primary again (a topic read is a fetch round trip), and
// the ones from it on from the primary.
class CatchUpSource final : public EntrySource {
 public:
  // REQUIRES: primary outlives this.
  CatchUpSource(EntrySource* primary, std::string store_path);
  ~CatchUpSource() override;
  Status Read(uint64_t next, size_t max, std::vector<logstore::Entry>* out) override;
  void Reset() override { primary_->Reset(); }
  uint64_t caught_up() const { return caught_up_; }  // entries read from the store so far

 private:
  EntrySource* primary_;
  Status ReadStore(bool reopen, uint64_t next, size_t max, std::vector<logstore::Entry>* out);

  std::string store_path_;
  std::unique_ptr<logstore::LogStore> store_;  // opened at the first catch-up read
  uint64_t caught_up_ = 0;
  uint64_t primary_earliest_ = 0;  // the primary's earliest index at its last kOutOfRange
};

// Parses the envelope of a stored record with codec::ParseStored: no validation, since it was
// validated when it was received, so an entry stays readable after the codec's rules are
// tightened. DATA_LOSS only if the payload does not parse as an envelope in its content type.
StatusOr<v1::Envelope> DecodeRecordEnvelope(const v1::LogRecord& record);
// The same into `*out` (a reused message, or one on an arena).
Status DecodeRecordEnvelopeInto(const v1::LogRecord& record, v1::Envelope* out);

}  // namespace probity::follow
