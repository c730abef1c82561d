// The alerts target: turns flags in the log into alerts for contract managers, delivered to
// Prometheus Alertmanager's API (POST /api/v2/alerts), the convention its users already run for
// routing, grouping and silences.
//
// Delivery state (the next log index to deliver, and the open alerts) is kept in RocksDB and
// advanced only after Alertmanager accepted a batch: a restart neither loses an alert nor sends
// one twice (a retry after a failed send repeats the same label set, which Alertmanager merges).
// A decision on a flag (uphold or dismiss) resolves its alert. Open alerts are re-sent every
// resend interval, as Alertmanager expects of a client, so that they do not time out.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/follow/checkpoint_source.h"
#include "common/follow/entry_source.h"
#include "common/follow/follower.h"
#include "common/follow/runtime.h"
#include "common/metrics/health.h"
#include "common/metrics/http_server.h"
#include "common/note/note.h"
#include "common/status/status.h"
#include "common/time/clock.h"

namespace rocksdb {
class DB;
}

namespace prometheus {
class Registry;
}

namespace probity::alerts {

struct Alert {
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string starts_at;  // RFC 3339
  std::string ends_at;    // RFC 3339; empty while firing
};

// Alertmanager's v2 JSON for a batch of alerts.
std::string AlertsJson(const std::vector<Alert>& alerts);

class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual Status Send(const std::vector<Alert>& alerts) = 0;
};

// Posts to a real Alertmanager, e.g. "http://127.0.0.1:9093".
class AlertmanagerClient final : public AlertSink {
 public:
  static StatusOr<std::unique_ptr<AlertmanagerClient>> Create(const std::string& url);
  Status Send(const std::vector<Alert>& alerts) override;
  // Posts `json` (a JSON array of alerts) as it is. *http_status is Alertmanager's answer (0 when
  // there was none); the status is OK only for 200.
  Status PostJson(const std::string& json, int* http_status);

 private:
  std::string host_;
  int port_ = 0;
};

// The alert for a flag: labels alertname="ProbityFlag", flag_id, rule_id, rule_kind, practice,
// icb, severity; annotations summary, observed, expected, limits, evidence.
Alert AlertForFlag(const v1::Envelope& flag_envelope);

struct AlertsStats {
  uint64_t next_index = 0;
  uint64_t fired = 0;
  uint64_t resolved = 0;
  uint64_t open = 0;
};

// The alerts target as a Follower (common/follow/follower.h). Apply() turns flags and decisions
// into a pending batch; Save() delivers it (with the open alerts when their re-send is due) and,
// only when the sink accepted it, writes the cursor and the open alerts in one RocksDB batch.
// Delivery lives in one place, Deliver().
class AlertsFollower final : public follow::Follower {
 public:
  // REQUIRES: sink and clock outlive the follower.
  AlertsFollower(std::string state_dir, int64_t resend_every_micros, AlertSink* sink,
                 const Clock* clock);
  ~AlertsFollower() override;

  std::string_view name() const override { return "alerts"; }
  StatusOr<uint64_t> Restore() override;
  Status Apply(const follow::Event& event, follow::Publisher* out) override;
  Status Idle(Micros now, follow::Publisher* out) override;
  Status Save(uint64_t next_index) override;
  AlertsStats stats() const;

 private:
  // Sends `batch`, and the open alerts too when their re-send is due (then records the time).
  Status Deliver(std::vector<Alert> batch, Micros now);
  std::string state_dir_;
  int64_t resend_every_micros_;
  AlertSink* sink_;
  const Clock* clock_;
  std::unique_ptr<rocksdb::DB> db_;
  uint64_t next_ = 0;                  // saved cursor
  std::map<std::string, Alert> open_;  // flag id -> its firing alert (as saved)
  Micros last_resend_ = 0;
  // Since the last save: what to send, and the state change to write once it is accepted.
  std::vector<Alert> batch_;
  std::map<std::string, v1::Envelope> opened_;  // flag id -> flag envelope
  std::vector<std::string> closed_;
  AlertsStats stats_;
};

class AlertsRunner {
 public:
  struct Options {
    std::string state_dir;
    size_t max_batch = 5000;
    int64_t resend_every_micros = 60LL * 1000000;
    // Checkpoints to verify the log against, with the log's origin and key (all or none).
    follow::CheckpointSource* checkpoints = nullptr;
    std::string origin;
    std::vector<note::Verifier> log_keys;
    // The follower runtime's gauges (follow::Runtime::Options::registry); null: none.
    prometheus::Registry* registry = nullptr;
  };
  // REQUIRES: source, sink and clock outlive the runner.
  AlertsRunner(Options options, follow::EntrySource* source, AlertSink* sink, const Clock* clock);
  ~AlertsRunner();

  Status Start();
  // Delivers the alerts of the entries the source has; re-sends open alerts when due. Returns the
  // number of entries consumed. After a failure the next call starts again from the saved state.
  StatusOr<size_t> RunOnce();
  Status Run(const std::atomic<bool>* stop);
  AlertsStats stats() const;
  // /healthz: a probity.v1.HealthReport for target "alerts": not ready while Alertmanager refuses
  // deliveries or the log cannot be read (Run() retries both).
  metrics::Health health() const;

 private:
  Options options_;
  follow::EntrySource* source_;
  AlertsFollower follower_;
  std::unique_ptr<follow::Runtime> runtime_;
};

}  // namespace probity::alerts
