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
  // Appends entries with index >= next (at most max) to *out; may return none.
  virtual Status Read(uint64_t next, size_t max, std::vector<logstore::Entry>* out) = 0;
};

// Reads the log store directly (the rules target in the same process as ingest, or over a
// read-only copy).
class StoreSource final : public EntrySource {
 public:
  explicit StoreSource(const logstore::LogStore* store) : store_(store) {}
  Status Read(uint64_t next, size_t max, std::vector<logstore::Entry>* out) override;

 private:
  const logstore::LogStore* store_;
};

// Follows probity.log.v1 on the bus, checking each entry's leaf hash.
class LogTopicSource final : public EntrySource {
 public:
  static StatusOr<std::unique_ptr<LogTopicSource>> Create(const bus::ClientConfig& cfg);
  Status Read(uint64_t next, size_t max, std::vector<logstore::Entry>* out) override;

 private:
  std::unique_ptr<bus::Consumer> consumer_;
  bool assigned_ = false;
};

// Parses the envelope of a stored record with codec::ParseStored: no validation, since it was
// validated when it was received, so an entry stays readable after the codec's rules are
// tightened. DATA_LOSS only if the payload does not parse as an envelope in its content type.
StatusOr<v1::Envelope> DecodeRecordEnvelope(const v1::LogRecord& record);

}  // namespace probity::follow
