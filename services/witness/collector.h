// The sequencer's side of c2sp.org/tlog-witness: sends the checkpoints ingest offers to the
// configured witnesses (POST <url>/add-checkpoint with a consistency proof from the size each
// witness holds) and hands back the checkpoint with the cosignatures that verified. Runs on its
// own thread, so a slow or dead witness never stalls the sequencer.
//
// Per witness it remembers the size the witness holds; it starts at 0, and a 409 answer (the
// witness holds another size, e.g. after this process restarted) resets it to the size in the
// answer and the request is sent again once, with a proof from that size. A witness that is
// ahead of the offered checkpoint, or answers anything else, is skipped until the next offer.
// A cosignature is kept only if it verifies with the witness's configured key.
#pragma once

#include <condition_variable>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/logstore/reader.h"
#include "common/note/note.h"
#include "common/status/status.h"
#include "common/sync/mutex.h"
#include "services/ingest/ingest.h"

namespace probity::witness {

struct WitnessEndpoint {
  std::string url;   // submission prefix, e.g. http://127.0.0.1:43600 (POST <url>/add-checkpoint)
  std::string vkey;  // the witness's cosigner verifier key (type 0x04)
};

// What one add-checkpoint exchange gave (tests and metrics).
struct CollectorStats {
  uint64_t requests = 0;
  uint64_t cosignatures = 0;
  uint64_t conflicts_recovered = 0;  // 409 answers followed by a retry
  uint64_t failures = 0;
  std::string last_error;
};

class WitnessCollector final : public ingest::CheckpointCosigner {
 public:
  // kInvalidArgument for a bad witness key or URL. REQUIRES: log outlives the collector (the
  // consistency proofs are read from it).
  static StatusOr<std::unique_ptr<WitnessCollector>> Create(
      const std::vector<WitnessEndpoint>& witnesses, const logstore::LogReader* log,
      int timeout_ms = 5000);
  ~WitnessCollector() override;

  void Offer(const v1::CheckpointRecord& checkpoint) override EXCLUDES(mu_);
  std::optional<v1::CheckpointRecord> TakeCosigned() override EXCLUDES(mu_);

  // Collects cosignatures for `checkpoint` now, on the calling thread (what the thread does for
  // each offer). Returns the checkpoint with the cosignature lines that verified appended, or
  // nullopt if none did.
  std::optional<v1::CheckpointRecord> CollectNow(const v1::CheckpointRecord& checkpoint);

  CollectorStats stats() const EXCLUDES(mu_);

 private:
  struct Witness {
    WitnessEndpoint endpoint;
    note::Verifier key;
    std::string host;    // scheme://host:port
    std::string prefix;  // path prefix, "" or "/..."
    uint64_t held = 0;   // the size it holds, as far as we know
  };
  WitnessCollector(std::vector<Witness> witnesses, const logstore::LogReader* log, int timeout_ms);
  // One exchange; returns the status code and body (status -1: no answer).
  std::pair<int, std::string> Post(const Witness& w, const std::string& body) const;
  StatusOr<std::string> Request(const v1::CheckpointRecord& cp, uint64_t old_size) const;
  void Run();

  std::vector<Witness> witnesses_;  // the collector thread's (or CollectNow's) only
  const logstore::LogReader* log_;
  const int timeout_ms_;
  mutable Mutex mu_;
  CondVar changed_;
  std::optional<v1::CheckpointRecord> offered_ GUARDED_BY(mu_);
  std::optional<v1::CheckpointRecord> cosigned_ GUARDED_BY(mu_);
  CollectorStats stats_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace probity::witness
