// Where generated events go. The generator emits (topic, key, envelope) triples in order; a sink
// delivers them somewhere (a file here; Kafka in services/cli). Sinks are not thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.h"
#include "common/time/clock.h"
#include "probity/v1/events.pb.h"

namespace probity::generate {

class Sink {
 public:
  virtual ~Sink() = default;
  // Delivers one event. The arguments are borrowed for the duration of the call only. A non-ok
  // status stops the generator, which returns it unchanged.
  virtual Status Emit(std::string_view topic, std::string_view key,
                      const v1::Envelope& envelope) = 0;
};

// Discards everything; counts events. For benchmarks.
class NullSink final : public Sink {
 public:
  Status Emit(std::string_view, std::string_view, const v1::Envelope&) override {
    ++count_;
    return Status::Ok();
  }
  int64_t count() const { return count_; }

 private:
  int64_t count_ = 0;
};

// One event as a sink saw it.
struct Record {
  std::string topic;
  std::string key;
  v1::Envelope envelope;
};

// Keeps every event in memory. For tests and small runs.
class VectorSink final : public Sink {
 public:
  Status Emit(std::string_view topic, std::string_view key, const v1::Envelope& envelope) override;
  const std::vector<Record>& records() const { return records_; }
  std::vector<Record>& mutable_records() { return records_; }

 private:
  std::vector<Record> records_;
};

// Writes the format of record_format.h. Emit returns IoError once a write fails and keeps
// returning it.
class FileSink final : public Sink {
 public:
  // Creates or truncates `path` and writes the magic. IoError if it cannot.
  static StatusOr<std::unique_ptr<FileSink>> Create(const std::string& path);
  ~FileSink() override;
  Status Emit(std::string_view topic, std::string_view key, const v1::Envelope& envelope) override;
  // Flushes and closes; the file is complete only after an ok Close. Idempotent.
  Status Close();
  int64_t records() const { return records_; }

 private:
  FileSink(std::FILE* f, std::string path) : file_(f), path_(std::move(path)) {}
  std::FILE* file_;
  std::string path_;
  std::string buffer_;
  Status error_;
  int64_t records_ = 0;
};

// Reads a file written by FileSink, record by record.
class FileReader {
 public:
  // IoError if the file cannot be opened; DataLoss if it does not start with the magic.
  static StatusOr<std::unique_ptr<FileReader>> Open(const std::string& path);
  ~FileReader();
  // Reads the next record into *record. Returns true when one was read, false at a clean end of
  // file, DataLoss (naming the byte offset) for a truncated or corrupt record; *record is
  // unspecified after an error.
  StatusOr<bool> Next(Record* record);

 private:
  FileReader(std::FILE* f, std::string path) : file_(f), path_(std::move(path)) {}
  std::FILE* file_;
  std::string path_;
  uint64_t offset_ = 0;
};

// Sends every record of a file to `sink`, in file order. Returns the first error of either.
Status ReplayFile(const std::string& path, Sink* sink);

// Blocks the caller; injected so that tests do not sleep.
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual void SleepFor(Micros duration) = 0;
};

// std::this_thread::sleep_for. Only entry points construct one.
class RealSleeper final : public Sleeper {
 public:
  void SleepFor(Micros duration) override;
};

// Paces another sink to at most `events_per_second` (0 = no limit): the n-th event (from 0) is
// passed on no earlier than start + n / rate, where start is the clock reading at the first
// event; it sleeps only when ahead of that schedule, so a slow inner sink is not made slower.
// The inner sink, clock and sleeper are borrowed and must outlive this object.
class RateLimitedSink final : public Sink {
 public:
  RateLimitedSink(Sink* inner, double events_per_second, const Clock* clock, Sleeper* sleeper)
      : inner_(inner), rate_(events_per_second), clock_(clock), sleeper_(sleeper) {}
  Status Emit(std::string_view topic, std::string_view key, const v1::Envelope& envelope) override;

 private:
  Sink* inner_;
  double rate_;
  const Clock* clock_;
  Sleeper* sleeper_;
  int64_t sent_ = 0;
  Micros start_ = 0;
};

}  // namespace probity::generate
