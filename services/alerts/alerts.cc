#include "services/alerts/alerts.h"

#include <httplib.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "common/codec/codec.h"
#include "common/encoding/json_string.h"
#include "common/logstore/keys.h"
#include "common/time/civil.h"
#include "common/time/proto_time.h"

namespace probity::alerts {
namespace {

constexpr const char* kCursorKey = "cursor";
constexpr const char* kOpenPrefix = "open/";
// When open alerts were last re-sent (µs, 8-byte big-endian), so that a target restarted more
// often than the resend interval still refreshes them before Alertmanager lets them expire.
constexpr const char* kResentAtKey = "resent_at";

std::string MapJson(const std::map<std::string, std::string>& m) {
  std::string s = "{";
  for (const auto& [k, v] : m) {
    if (s.size() > 1) s += ",";
    s += encoding::JsonString(k) + ":" + encoding::JsonString(v);
  }
  return s + "}";
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  return IoError("alerts state: " + what + ": " + s.ToString());
}

}  // namespace

std::string AlertsJson(const std::vector<Alert>& alerts) {
  std::string s = "[";
  for (size_t i = 0; i < alerts.size(); ++i) {
    const Alert& a = alerts[i];
    if (i) s += ",";
    s += "{\"labels\":" + MapJson(a.labels) + ",\"annotations\":" + MapJson(a.annotations) +
         ",\"startsAt\":\"" + a.starts_at + "\"";
    if (!a.ends_at.empty()) s += ",\"endsAt\":\"" + a.ends_at + "\"";
    s += "}";
  }
  return s + "]";
}

StatusOr<std::unique_ptr<AlertmanagerClient>> AlertmanagerClient::Create(const std::string& url) {
  std::unique_ptr<AlertmanagerClient> c(new AlertmanagerClient());
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0)
    rest = rest.substr(7);
  else if (rest.find("://") != std::string::npos) {
    return InvalidArgument("alertmanager url '" + url + "': only http:// is supported");
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  auto colon = rest.rfind(':');
  if (colon == std::string::npos)
    return InvalidArgument("alertmanager url '" + url + "' needs host:port");
  c->host_ = rest.substr(0, colon);
  c->port_ = std::atoi(rest.c_str() + colon + 1);
  if (c->port_ <= 0) return InvalidArgument("alertmanager url '" + url + "' has no valid port");
  return c;
}

Status AlertmanagerClient::Send(const std::vector<Alert>& alerts) {
  if (alerts.empty()) return Status::Ok();
  int http_status = 0;
  return PostJson(AlertsJson(alerts), &http_status);
}

Status AlertmanagerClient::PostJson(const std::string& json, int* http_status) {
  *http_status = 0;
  httplib::Client cli(host_, port_);
  cli.set_connection_timeout(5);
  cli.set_read_timeout(10);
  auto res = cli.Post("/api/v2/alerts", json, "application/json");
  if (!res) {
    return Unavailable("alertmanager at " + host_ + ":" + std::to_string(port_) + ": " +
                       httplib::to_string(res.error()));
  }
  *http_status = res->status;
  if (res->status != 200) {
    return Unavailable("alertmanager answered " + std::to_string(res->status) + ": " + res->body);
  }
  return Status::Ok();
}

Alert AlertForFlag(const v1::Envelope& env) {
  const v1::Flag& f = env.flag();
  Alert a;
  a.labels["alertname"] = "ProbityFlag";
  a.labels["flag_id"] = f.flag_id();
  a.labels["rule_id"] = f.rule_id();
  a.labels["rule_kind"] = f.rule_kind();
  a.labels["practice"] = env.practice_code();
  if (!f.icb_code().empty()) a.labels["icb"] = f.icb_code();
  std::string sev = v1::Severity_Name(f.severity());
  if (sev.rfind("SEVERITY_", 0) == 0) sev = sev.substr(9);
  for (auto& ch : sev) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  a.labels["severity"] = sev;
  a.annotations["summary"] = f.summary();
  a.annotations["observed"] = Num(f.observed());
  a.annotations["expected"] = Num(f.expected());
  a.annotations["limits"] = Num(f.lower_limit()) + " .. " + Num(f.upper_limit());
  std::string ev;
  for (const auto& e : f.evidence()) ev += (ev.empty() ? "" : ",") + std::to_string(e.log_index());
  a.annotations["evidence_log_indices"] = ev;
  if (!f.claim_id().empty()) a.annotations["claim_id"] = f.claim_id();
  a.starts_at = civil::FormatRfc3339(FromTimestamp(env.occurred_at()));
  return a;
}

AlertsFollower::AlertsFollower(std::string state_dir, int64_t resend_every_micros, AlertSink* sink,
                               const Clock* clock)
    : state_dir_(std::move(state_dir)),
      resend_every_micros_(resend_every_micros),
      sink_(sink),
      clock_(clock) {}

AlertsFollower::~AlertsFollower() = default;

StatusOr<uint64_t> AlertsFollower::Restore() {
  batch_.clear();
  opened_.clear();
  closed_.clear();
  open_.clear();
  if (db_ == nullptr) {
    rocksdb::Options o;
    o.create_if_missing = true;
    std::error_code ec;
    std::filesystem::create_directories(state_dir_, ec);
    rocksdb::DB* raw = nullptr;
    PROBITY_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(o, state_dir_ + "/alerts", &raw), "open"));
    db_.reset(raw);
  }
  std::string v;
  next_ = 0;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kCursorKey, &v);
  if (s.ok() && v.size() == 8)
    next_ = logstore::keys::GetBe64(v);
  else if (!s.IsNotFound())
    return FromRocks(s, "read cursor");
  // Open alerts: flag id -> the flag's envelope, from which its alert is made again (with the
  // same labels, so that a decision resolves it).
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(kOpenPrefix); it->Valid() && it->key().starts_with(kOpenPrefix); it->Next()) {
    v1::Envelope env;
    if (!env.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return DataLoss("alerts state: open alert does not parse");
    }
    open_[env.flag().flag_id()] = AlertForFlag(env);
  }
  PROBITY_RETURN_IF_ERROR(FromRocks(it->status(), "scan open alerts"));
  stats_.next_index = next_;
  stats_.open = open_.size();
  // When open alerts were last re-sent, so that a target restarted more often than the resend
  // interval still refreshes them before Alertmanager lets them expire.
  last_resend_ = clock_->NowMicros();
  s = db_->Get(rocksdb::ReadOptions(), kResentAtKey, &v);
  if (s.ok() && v.size() == 8) {
    last_resend_ = static_cast<Micros>(logstore::keys::GetBe64(v));
  } else if (s.IsNotFound()) {
    // The first start: the resend clock starts now, and is saved at once, so that a target
    // restarted more often than the resend interval still re-sends when it is due (found by the
    // soak: a clock restarted at every start never came due, and Alertmanager let the run's
    // first alert expire).
    PROBITY_RETURN_IF_ERROR(
        FromRocks(db_->Put(rocksdb::WriteOptions(), kResentAtKey,
                           logstore::keys::Be64(static_cast<uint64_t>(last_resend_))),
                  "write resend time"));
  } else {
    return FromRocks(s, "read resend time");
  }
  return next_;
}

Status AlertsFollower::Apply(const follow::Event& event, follow::Publisher*) {
  const v1::Envelope& env = *event.envelope;
  if (event.record->kind() == v1::EVENT_KIND_FLAG) {
    batch_.push_back(AlertForFlag(env));
    opened_[env.flag().flag_id()] = env;
  } else if (event.record->kind() == v1::EVENT_KIND_FLAG_DECISION) {
    const std::string& id = env.flag_decision().flag_id();
    Alert a;
    if (auto p = opened_.find(id); p != opened_.end()) {
      a = AlertForFlag(p->second);
    } else if (auto o = open_.find(id); o != open_.end()) {
      a = o->second;
    } else {
      return Status::Ok();  // no alert for that flag
    }
    a.ends_at = civil::FormatRfc3339(FromTimestamp(env.occurred_at()));
    a.annotations["decision"] = v1::DecisionOutcome_Name(env.flag_decision().outcome());
    batch_.push_back(std::move(a));
    closed_.push_back(id);
  }
  return Status::Ok();
}

Status AlertsFollower::Deliver(std::vector<Alert> batch, Micros now) {
  const bool resend = !open_.empty() && now - last_resend_ >= resend_every_micros_;
  if (resend) {
    for (const auto& [id, a] : open_) batch.push_back(a);
  }
  PROBITY_RETURN_IF_ERROR(sink_->Send(batch));
  if (resend) {
    last_resend_ = now;
    PROBITY_RETURN_IF_ERROR(FromRocks(db_->Put(rocksdb::WriteOptions(), kResentAtKey,
                                               logstore::keys::Be64(static_cast<uint64_t>(now))),
                                      "write resend time"));
  }
  return Status::Ok();
}

Status AlertsFollower::Idle(Micros now, follow::Publisher*) { return Deliver({}, now); }

Status AlertsFollower::Save(uint64_t next_index) {
  // Deliver first; move the cursor only when Alertmanager accepted the batch.
  PROBITY_RETURN_IF_ERROR(Deliver(batch_, clock_->NowMicros()));
  rocksdb::WriteBatch wb;
  for (const auto& [id, env] : opened_) {
    wb.Put(std::string(kOpenPrefix) + id, env.SerializeAsString());
  }
  for (const auto& id : closed_) wb.Delete(std::string(kOpenPrefix) + id);
  wb.Put(kCursorKey, logstore::keys::Be64(next_index));
  PROBITY_RETURN_IF_ERROR(FromRocks(db_->Write(rocksdb::WriteOptions(), &wb), "write"));
  next_ = next_index;
  for (const auto& [id, env] : opened_) open_[id] = AlertForFlag(env);
  for (const auto& id : closed_) open_.erase(id);
  stats_.next_index = next_;
  stats_.fired += opened_.size();
  stats_.resolved += closed_.size();
  stats_.open = open_.size();
  batch_.clear();
  opened_.clear();
  closed_.clear();
  return Status::Ok();
}

AlertsStats AlertsFollower::stats() const { return stats_; }

AlertsRunner::AlertsRunner(Options options, follow::EntrySource* source, AlertSink* sink,
                           const Clock* clock)
    : options_(std::move(options)),
      source_(source),
      follower_(options_.state_dir, options_.resend_every_micros, sink, clock) {
  follow::Runtime::Options o;
  o.data_dir = options_.state_dir + "/follow";
  o.origin = options_.origin;
  o.log_keys = options_.log_keys;
  o.max_batch = options_.max_batch;
  o.save_every = 0;  // deliver what each round read
  o.registry = options_.registry;
  runtime_ = std::make_unique<follow::Runtime>(o, &follower_, source_, options_.checkpoints,
                                               /*publisher=*/nullptr, clock);
}

AlertsRunner::~AlertsRunner() = default;

Status AlertsRunner::Start() { return runtime_->Start(); }

StatusOr<size_t> AlertsRunner::RunOnce() { return runtime_->Step(); }

Status AlertsRunner::Run(const std::atomic<bool>* stop) { return runtime_->Run(stop); }

AlertsStats AlertsRunner::stats() const { return follower_.stats(); }

metrics::Health AlertsRunner::health() const { return runtime_->health(); }

}  // namespace probity::alerts
