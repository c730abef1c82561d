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

// Open alerts are stored as their JSON object (one alert); parsing back is not needed because we
// keep them in memory too, so the store holds the exact bytes to re-send.
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

AlertsRunner::AlertsRunner(Options options, follow::EntrySource* source, AlertSink* sink,
                           const Clock* clock)
    : options_(std::move(options)),
      source_(source),
      sink_(sink),
      clock_(clock),
      watch_(std::make_unique<metrics::ProgressWatch>("alerts", clock)) {}

AlertsRunner::~AlertsRunner() = default;

Status AlertsRunner::Start() {
  rocksdb::Options o;
  o.create_if_missing = true;
  std::error_code ec;
  std::filesystem::create_directories(options_.state_dir, ec);
  rocksdb::DB* raw = nullptr;
  PROBITY_RETURN_IF_ERROR(
      FromRocks(rocksdb::DB::Open(o, options_.state_dir + "/alerts", &raw), "open"));
  db_.reset(raw);
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kCursorKey, &v);
  if (s.ok() && v.size() == 8)
    next_ = logstore::keys::GetBe64(v);
  else if (!s.IsNotFound())
    return FromRocks(s, "read cursor");
  // Open alerts: flag id -> serialized Alert (labels/annotations as JSON is enough to re-send,
  // but keeping the Alert lets a decision resolve it with the same labels).
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(kOpenPrefix); it->Valid() && it->key().starts_with(kOpenPrefix); it->Next()) {
    v1::Envelope env;
    if (!env.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return DataLoss("alerts state: open alert does not parse");
    }
    open_[env.flag().flag_id()] = AlertForFlag(env);
  }
  stats_.next_index = next_;
  stats_.open = open_.size();
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
  return FromRocks(it->status(), "scan open alerts");
}

StatusOr<size_t> AlertsRunner::RunOnce() {
  // Open alerts are refreshed before the log is read: reading can be slow (a follower catching
  // up from a store), and a target restarted often must still refresh them before Alertmanager
  // lets them expire (found by the soak).
  if (const Micros now = clock_->NowMicros();
      !open_.empty() && now - last_resend_ >= options_.resend_every_micros) {
    std::vector<Alert> open;
    for (const auto& [id, a] : open_) open.push_back(a);
    PROBITY_RETURN_IF_ERROR(sink_->Send(open));
    last_resend_ = now;
    PROBITY_RETURN_IF_ERROR(FromRocks(db_->Put(rocksdb::WriteOptions(), kResentAtKey,
                                               logstore::keys::Be64(static_cast<uint64_t>(now))),
                                      "write resend time"));
  }
  std::vector<logstore::Entry> entries;
  PROBITY_RETURN_IF_ERROR(source_->Read(next_, options_.max_batch, &entries));
  std::vector<Alert> batch;
  rocksdb::WriteBatch wb;
  std::map<std::string, Alert> opened;
  std::vector<std::string> closed;
  uint64_t fired = 0, resolved = 0;
  v1::LogRecord rec;
  for (const logstore::Entry& e : entries) {
    if (!rec.ParseFromString(e.record_bytes))
      return DataLoss("entry " + std::to_string(e.index) + " does not parse");
    if (rec.kind() == v1::EVENT_KIND_FLAG) {
      PROBITY_ASSIGN_OR_RETURN(v1::Envelope env, follow::DecodeRecordEnvelope(rec));
      Alert a = AlertForFlag(env);
      batch.push_back(a);
      opened[env.flag().flag_id()] = a;
      wb.Put(std::string(kOpenPrefix) + env.flag().flag_id(), env.SerializeAsString());
      ++fired;
    } else if (rec.kind() == v1::EVENT_KIND_FLAG_DECISION) {
      PROBITY_ASSIGN_OR_RETURN(v1::Envelope env, follow::DecodeRecordEnvelope(rec));
      const std::string& id = env.flag_decision().flag_id();
      auto it = opened.count(id) ? opened.find(id) : open_.find(id);
      if (it == open_.end() || it == opened.end()) continue;  // no alert for that flag
      Alert a = it->second;
      a.ends_at = civil::FormatRfc3339(FromTimestamp(env.occurred_at()));
      a.annotations["decision"] = v1::DecisionOutcome_Name(env.flag_decision().outcome());
      batch.push_back(a);
      closed.push_back(id);
      wb.Delete(std::string(kOpenPrefix) + id);
      ++resolved;
    }
  }
  const Micros now = clock_->NowMicros();
  bool resend = now - last_resend_ >= options_.resend_every_micros;
  if (resend) {
    for (const auto& [id, a] : open_) batch.push_back(a);
  }
  // Deliver first; move the cursor only when Alertmanager accepted the batch.
  PROBITY_RETURN_IF_ERROR(sink_->Send(batch));
  if (!entries.empty()) {
    next_ = entries.back().index + 1;
    wb.Put(kCursorKey, logstore::keys::Be64(next_));
    PROBITY_RETURN_IF_ERROR(FromRocks(db_->Write(rocksdb::WriteOptions(), &wb), "write"));
  }
  if (resend) {
    last_resend_ = now;
    PROBITY_RETURN_IF_ERROR(FromRocks(db_->Put(rocksdb::WriteOptions(), kResentAtKey,
                                               logstore::keys::Be64(static_cast<uint64_t>(now))),
                                      "write resend time"));
  }
  for (auto& [id, a] : opened) open_[id] = std::move(a);
  for (const auto& id : closed) open_.erase(id);
  stats_.next_index = next_;
  stats_.fired += fired;
  stats_.resolved += resolved;
  stats_.open = open_.size();
  return entries.size();
}

Status AlertsRunner::Run(const std::atomic<bool>* stop) {
  int backoff_ms = 100;
  while (!stop->load()) {
    auto n = RunOnce();
    if (!n.ok()) {
      if (n.status().code() != Code::kUnavailable && n.status().code() != Code::kOutOfRange) {
        return n.status();
      }
      // Alertmanager down, or the log topic moved under the reader: keep the cursor, and read
      // again from it after a pause (the source has already handed over what it read).
      std::fprintf(stderr, "probity alerts: %s; retrying from index %llu\n",
                   n.status().ToString().c_str(), static_cast<unsigned long long>(next_));
      watch_->SetBlocker(n.status().ToString() + " (retrying)");
      watch_->Observe({next_}, true);
      source_->Reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
      backoff_ms = std::min(backoff_ms * 2, 5000);
      continue;
    }
    backoff_ms = 100;
    watch_->SetBlocker("");
    next_seen_ = next_;
    watch_->Observe({next_}, false);
    if (*n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Ok();
}

AlertsStats AlertsRunner::stats() const { return stats_; }

metrics::Health AlertsRunner::health() const {
  v1::HealthReport r;
  r.set_next_index(static_cast<double>(next_seen_.load()));
  watch_->Judge(&r);
  return {r.ready(), codec::ToJson(r, codec::JsonOptions{.print_defaults = true}), r.live()};
}

}  // namespace probity::alerts
