#include "services/api/api.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <httplib.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <sstream>

#include "common/bus/topics.h"
#include "common/codec/append_json.h"
#include "common/codec/codec.h"
#include "common/crypto/sha256.h"
#include "common/follow/entry_source.h"
#include "common/metrics/http_server.h"
#include "common/time/proto_time.h"
#include "services/api/payments_routes.h"
#include "services/bundle/bundle.h"
#include "services/rules/rule_set.h"

namespace probity::api {
namespace {

constexpr char kJson[] = "application/json";
constexpr char kNdjson[] = "application/x-ndjson";
constexpr size_t kMaxIdempotencyKey = 128;

// An answer other than 2xx: the HTTP status and a stable code.
struct Problem {
  int status;
  std::string error;
  std::string message;
};

Problem BadRequest(std::string m) { return {400, "bad_request", std::move(m)}; }
Problem NotFoundProblem(std::string m) { return {404, "not_found", std::move(m)}; }

Problem FromStatus(const Status& st) {
  switch (st.code()) {
    case Code::kInvalidArgument:
      return BadRequest(st.message());
    case Code::kNotFound:
      return NotFoundProblem(st.message());
    case Code::kUnavailable:
      return {503, "unavailable", st.message()};
    default:
      return {500, "internal", st.message()};
  }
}

std::string ErrorName(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 408:
      return "request_timeout";
    case 413:
      return "payload_too_large";
    case 414:
      return "uri_too_long";
    case 422:
      return "unprocessable";
    case 429:
      return "too_many_requests";
    case 503:
      return "unavailable";
    default:
      return status >= 500 ? "internal" : "error";
  }
}

// The message a status carries when httplib answered by itself (before any handler ran).
std::string DefaultMessage(int status, const httplib::Request& req) {
  switch (status) {
    case 400:
      return "the request does not parse as HTTP/1.1";
    case 404:
      return "no such endpoint: " + req.method + " " + req.path;
    case 413:
      return "the request body is larger than the api accepts";
    case 414:
      return "the request line is longer than the api accepts";
    default:
      return "request refused";
  }
}

v1::Checkpoint ToCheckpoint(const v1::CheckpointRecord& r) {
  v1::Checkpoint c;
  const std::string& note = r.signed_note();
  c.set_origin(note.substr(0, note.find('\n')));
  c.set_tree_size(r.tree_size());
  c.set_root_hash(r.root_hash());
  c.set_signed_note(note);
  // Signature lines follow the blank line: "— <name> <base64>". Every name but the log's own is a
  // witness cosignature.
  const size_t blank = note.find("\n\n");
  if (blank != std::string::npos) {
    std::istringstream lines(note.substr(blank + 2));
    std::string line;
    const std::string dash = "\xE2\x80\x94 ";
    while (std::getline(lines, line)) {
      if (line.rfind(dash, 0) != 0) continue;
      std::string rest = line.substr(dash.size());
      std::string name = rest.substr(0, rest.find(' '));
      if (name != c.origin()) c.add_witnesses(name);
    }
  }
  return c;
}

// The Checkpoint message of the record converted last: nearly every answer is against the latest
// checkpoint, which changes only when a new one is stored. Thread-safe.
class CheckpointCache {
 public:
  v1::Checkpoint Of(const v1::CheckpointRecord& r) EXCLUDES(mu_) {
    {
      MutexLock l(&mu_);
      if (record_ && record_->tree_size() == r.tree_size() &&
          record_->signed_note() == r.signed_note() && record_->root_hash() == r.root_hash()) {
        return message_;
      }
    }
    v1::Checkpoint c = ToCheckpoint(r);
    MutexLock l(&mu_);
    record_ = r;
    message_ = c;
    return c;
  }

 private:
  Mutex mu_;
  std::optional<v1::CheckpointRecord> record_ GUARDED_BY(mu_);
  v1::Checkpoint message_ GUARDED_BY(mu_);
};

StatusOr<uint64_t> ParseU64(const std::string& name, const std::string& v);

// The checkpoint an answer is against: the one of size `pinned` (a cursor's), else the one
// `checkpoint_size` names, else the latest (converted through `cache`).
StatusOr<v1::Checkpoint> CheckpointForAnswer(const logstore::LogReader& reader,
                                             const httplib::Request& req, CheckpointCache* cache,
                                             std::optional<uint64_t> pinned = std::nullopt) {
  if (pinned || req.has_param("checkpoint_size")) {
    uint64_t size = 0;
    if (pinned) {
      size = *pinned;
    } else {
      PROBITY_ASSIGN_OR_RETURN(size,
                               ParseU64("checkpoint_size", req.get_param_value("checkpoint_size")));
    }
    PROBITY_ASSIGN_OR_RETURN(auto all, reader.Checkpoints());
    for (const auto& c : all) {
      if (c.tree_size() == size) return ToCheckpoint(c);
    }
    return NotFound("no signed checkpoint of size " + std::to_string(size));
  }
  PROBITY_ASSIGN_OR_RETURN(auto latest, reader.LatestCheckpoint());
  if (!latest) return Unavailable("the log has no signed checkpoint yet");
  return cache->Of(*latest);
}

StatusOr<uint64_t> ParseU64(const std::string& name, const std::string& v) {
  if (v.empty() || v.size() > 20 || v.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgument(name + " '" + v.substr(0, 40) + "' is not a non-negative integer");
  }
  try {
    return static_cast<uint64_t>(std::stoull(v));
  } catch (...) {
    return InvalidArgument(name + " '" + v + "' is out of range");
  }
}

// A time parameter: YYYY-MM-DD (00:00 UTC) or RFC 3339.
StatusOr<std::optional<Micros>> ParseTimeParam(const httplib::Request& req, const std::string& n) {
  if (!req.has_param(n)) return std::optional<Micros>();
  std::string v = req.get_param_value(n);
  if (v.size() == 10) v += "T00:00:00Z";
  google::protobuf::Timestamp ts;
  if (v.size() > 64 || !google::protobuf::util::TimeUtil::FromString(v, &ts)) {
    return InvalidArgument(n + " '" + v.substr(0, 64) +
                           "' is not a date (YYYY-MM-DD) or an RFC 3339 time");
  }
  return std::optional<Micros>(FromTimestamp(ts));
}

std::string ClientCertCommonName(const httplib::Request& req) {
  if (req.ssl == nullptr) return "";
  X509* cert = SSL_get1_peer_certificate(req.ssl);
  if (cert == nullptr) return "";
  char cn[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
  X509_free(cert);
  return cn;
}

// The practices whose data an entry carries.
std::vector<std::string> PracticesOf(const v1::Envelope& env) {
  std::vector<std::string> out;
  if (!env.practice_code().empty()) out.push_back(env.practice_code());
  if (env.has_access_record()) {
    for (const auto& p : env.access_record().practice_codes()) out.push_back(p);
  }
  if (env.has_baseline()) {
    for (const auto& v : env.baseline().values()) out.push_back(v.practice_code());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string FormatNumber(double v) {
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

std::string ParamText(const rules::ParamValue& v) {
  if (!v.text.empty()) return v.text;
  if (!v.list.empty()) {
    std::string s;
    for (const auto& x : v.list) s += (s.empty() ? "" : ", ") + x;
    return s;
  }
  if (!v.mapping.empty()) {
    std::string s;
    for (const auto& [k, x] : v.mapping) s += (s.empty() ? "" : ", ") + k + ": " + x;
    return s;
  }
  if (v.boolean) return "true";
  return FormatNumber(v.number);
}

// Numbers the distinct hashes of the proofs in one answer, in the order they first appear, so
// that each is sent once.
class NodeTable {
 public:
  void Add(const std::vector<merkle::Hash>& proof, v1::TrailEntry* e) {
    e->mutable_proof()->Reserve(static_cast<int>(proof.size()));
    for (size_t k = 0; k < proof.size(); ++k) {
      const merkle::Hash& h = proof[k];
      // Neighbouring entries' proofs mostly hold the same hash at the same place: no lookup.
      if (k < last_.size() && last_[k].first == h) {
        e->add_proof(last_[k].second);
        continue;
      }
      const uint32_t id = Number(h, e);
      e->add_proof(id);
      if (k >= last_.size()) last_.resize(k + 1);
      last_[k] = {h, id};
    }
  }

 private:
  // The number of h, a new one (and h added to e's new nodes) if h was not seen yet.
  uint32_t Number(const merkle::Hash& h, v1::TrailEntry* e) {
    if ((nodes_.size() + 1) * 2 > slots_.size()) Grow();
    const size_t mask = slots_.size() - 1;
    for (size_t i = Start(h) & mask;; i = (i + 1) & mask) {
      const uint32_t slot = slots_[i];
      if (slot == 0) {
        nodes_.push_back(h);
        slots_[i] = static_cast<uint32_t>(nodes_.size());
        e->add_new_nodes(std::string(merkle::AsBytes(h)));
        return static_cast<uint32_t>(nodes_.size() - 1);
      }
      if (nodes_[slot - 1] == h) return slot - 1;
    }
  }
  // A SHA-256 is its own good hash: its first eight bytes.
  static size_t Start(const merkle::Hash& h) {
    size_t v;
    std::memcpy(&v, h.data(), sizeof(v));
    return v;
  }
  void Grow() {
    std::vector<uint32_t> bigger(std::max<size_t>(1024, slots_.size() * 2));
    const size_t mask = bigger.size() - 1;
    for (size_t n = 0; n < nodes_.size(); ++n) {
      size_t i = Start(nodes_[n]) & mask;
      while (bigger[i] != 0) i = (i + 1) & mask;
      bigger[i] = static_cast<uint32_t>(n + 1);
    }
    slots_.swap(bigger);
  }
  std::vector<merkle::Hash> nodes_;  // by number
  // Open addressing, linear probing, at most half full: a node's number + 1, or 0 for none.
  std::vector<uint32_t> slots_;
  // The previous proof's hashes with their numbers, by place in the proof.
  std::vector<std::pair<merkle::Hash, uint32_t>> last_;
};

// Calls `make` on a thread of its own, up to `depth` results ahead of the caller of Next(): each
// call fills one T and says whether more follow. A result handed back through Spent() is
// destroyed on that thread too (what it allocated is freed where it was allocated, not across
// threads). Destroying it stops the thread (after the call under way) and drops what was made but
// not taken.
template <class T>
class MadeAhead {
 public:
  MadeAhead(std::function<bool(T*)> make, size_t depth)
      : make_(std::move(make)), depth_(depth), thread_([this] { Run(); }) {}
  ~MadeAhead() {
    {
      MutexLock l(&mu_);
      stop_ = true;
    }
    changed_.NotifyAll();
    thread_.join();
  }
  MadeAhead(const MadeAhead&) = delete;
  MadeAhead& operator=(const MadeAhead&) = delete;

  // The next result, in the order made, waiting for it. REQUIRES: the last one was not taken yet.
  T Next() EXCLUDES(mu_) {
    MutexLock l(&mu_);
    while (ready_.empty()) changed_.Wait(&mu_);
    T t = std::move(ready_.front());
    ready_.pop_front();
    changed_.NotifyAll();
    return t;
  }
  // Hands back a result taken, to be destroyed by the making thread.
  void Spent(T t) EXCLUDES(mu_) {
    MutexLock l(&mu_);
    spent_.push_back(std::move(t));
  }

 private:
  void Run() EXCLUDES(mu_) {
    std::vector<T> spent;
    for (bool more = true; more;) {
      {
        MutexLock l(&mu_);
        while (!stop_ && ready_.size() >= depth_) changed_.Wait(&mu_);
        if (stop_) return;
        spent.swap(spent_);
      }
      spent.clear();
      T t;
      more = make_(&t);
      MutexLock l(&mu_);
      ready_.push_back(std::move(t));
      changed_.NotifyAll();
    }
  }

  const std::function<bool(T*)> make_;
  const size_t depth_;
  Mutex mu_;
  CondVar changed_;  // a result made or taken, or stop_
  std::deque<T> ready_ GUARDED_BY(mu_);
  std::vector<T> spent_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started once the rest is set
};

// Where a trail answer stopped: the last entry looked at, in the practice index's order, and the
// tree size of the checkpoint the answer was against (the next page is against the same one).
struct TrailCursor {
  Micros t = 0;
  uint64_t index = 0;
  uint64_t tree_size = 0;
};

std::string FormatCursor(const TrailCursor& c) {
  return std::to_string(c.t) + "." + std::to_string(c.index) + "." + std::to_string(c.tree_size);
}

StatusOr<TrailCursor> ParseCursor(const std::string& s) {
  const Status bad = InvalidArgument("cursor '" + s.substr(0, 64) +
                                     "' is not one this api gave (use next_cursor as it is)");
  const size_t dot = s.find('.');
  const size_t dot2 = dot == std::string::npos ? dot : s.find('.', dot + 1);
  if (dot == std::string::npos || dot == 0 || dot2 == std::string::npos) return bad;
  try {
    size_t used = 0;
    TrailCursor c;
    c.t = std::stoll(s.substr(0, dot), &used);
    if (used != dot) return bad;
    auto index = ParseU64("cursor", s.substr(dot + 1, dot2 - dot - 1));
    auto size = ParseU64("cursor", s.substr(dot2 + 1));
    if (!index.ok() || !size.ok()) return bad;
    c.index = *index;
    c.tree_size = *size;
    return c;
  } catch (...) {
    return bad;
  }
}

// A trail query: which entries of a practice, in event-time order, against which tree size.
struct TrailQuery {
  std::string practice;
  std::optional<v1::EventKind> kind;
  Micros from = std::numeric_limits<Micros>::min() / 2;
  Micros to = std::numeric_limits<Micros>::max() / 2;
  uint64_t tree_size = 0;
  bool include_envelope = false;
};

// Reads a trail in event-time order from `cursor`: up to `max` entries, each handed to fn with
// its record (valid during the call only). Moves *cursor past every entry looked at. *done is set
// when nothing is left.
Status ReadTrail(const logstore::LogReader& reader, const TrailQuery& q, TrailCursor* cursor,
                 bool* started, size_t max,
                 const std::function<Status(logstore::Entry, const v1::LogRecord&)>& fn,
                 bool* done) {
  size_t served = 0;
  // Few large index reads: each one may sort the practice index's memtable (logstore).
  size_t batch = std::max<size_t>(max + 1, 4096);
  *done = false;
  v1::LogRecord record;  // parsed into again for each entry, which keeps its strings' storage
  while (served < max) {
    const Micros from = *started ? cursor->t : q.from;
    PROBITY_ASSIGN_OR_RETURN(auto indices, reader.FindByPractice(q.practice, from, q.to, batch));
    bool progressed = false;
    // Entries are read in runs (neighbours together), each run about what is still wanted.
    for (size_t at = 0; at < indices.size();) {
      const size_t run = std::min(indices.size() - at, std::clamp<size_t>(max - served, 64, 4096));
      const std::vector<uint64_t> some(indices.begin() + at, indices.begin() + at + run);
      at += run;
      PROBITY_ASSIGN_OR_RETURN(std::vector<logstore::Entry> entries, reader.GetMany(some));
      for (logstore::Entry& e : entries) {
        const uint64_t idx = e.index;
        if (!record.ParseFromString(e.record_bytes)) {
          return DataLoss("entry " + std::to_string(idx) + " does not parse");
        }
        const Micros t = FromTimestamp(record.occurred_at());
        if (*started && (t < cursor->t || (t == cursor->t && idx <= cursor->index))) continue;
        *started = true;
        cursor->t = t;
        cursor->index = idx;
        progressed = true;
        if (idx >= q.tree_size) continue;  // not yet in the checkpoint this answer is against
        if (q.kind ? record.kind() != *q.kind : record.kind() == v1::EVENT_KIND_ACCESS_RECORD) {
          continue;  // access records are served by /access, unless asked for by kind
        }
        PROBITY_RETURN_IF_ERROR(fn(std::move(e), record));
        if (++served == max) return Status::Ok();
      }
    }
    if (indices.size() < batch) {
      *done = true;
      return Status::Ok();
    }
    if (!progressed) batch *= 2;  // more entries share one time than a batch holds
  }
  return Status::Ok();
}

}  // namespace

// ------------------------------------------------------------------------------------------------

struct ApiServer::Impl {
  ApiOptions options;
  const AccessControl* access;
  ReaderFn reader;
  const View* view;
  ConfirmedPublisher* publisher;
  IdempotencyStore* idempotency;
  const Clock* clock;
  LogFn log;
  // The api's metrics (docs/api.md, "Metrics"), all null without a registry.
  struct Metrics {
    prometheus::Family<prometheus::Counter>* requests = nullptr;
    prometheus::Family<prometheus::Histogram>* seconds = nullptr;
    prometheus::Family<prometheus::Counter>* unconfirmed = nullptr;
    prometheus::Gauge* view_next = nullptr;
    prometheus::Gauge* view_lag = nullptr;
  } metrics;
  // A publication the bus did not confirm (the request was answered 503).
  void Unconfirmed(const char* kind) {
    if (metrics.unconfirmed != nullptr) metrics.unconfirmed->Add({{"kind", kind}}).Increment();
  }
  // How far the view is behind the store it answers from.
  void UpdateViewMetrics() {
    if (metrics.view_next == nullptr) return;
    const uint64_t next = view->next_index();
    metrics.view_next->Set(static_cast<double>(next));
    if (auto r = reader()) {
      if (auto size = r->TreeSize(); size.ok()) {
        metrics.view_lag->Set(*size > next ? static_cast<double>(*size - next) : 0.0);
      }
    }
  }

  std::atomic<uint64_t> request_seq{0};
  CheckpointCache checkpoint_cache;
  Mutex rate_mu;
  struct Bucket {
    double tokens = 0;
    Micros at = 0;
  };
  std::map<std::string, Bucket, std::less<>> buckets GUARDED_BY(rate_mu);
  Mutex decide_mu;  // one decision at a time per store: the key check and its write are atomic

  // What a handler knows about the request it serves.
  struct Call {
    const httplib::Request& req;
    httplib::Response& res;
    const Principal& who;
    std::string request_id;
    std::string route;
  };

  void Reply(httplib::Response& res, int status, const google::protobuf::Message& body) {
    res.status = status;
    res.set_content(codec::ToJson(body), kJson);
  }

  void ReplyProblem(httplib::Response& res, const Problem& p, const std::string& request_id) {
    v1::ApiError e;
    e.set_status(p.status);
    e.set_error(p.error);
    e.set_message(p.message);
    e.set_request_id(request_id);
    Reply(res, p.status, e);
    if (p.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  }

  // Who is calling: a bearer token, else a client certificate. nullptr and a 401 answer if
  // neither names a caller.
  const Principal* Authenticate(const httplib::Request& req, httplib::Response& res,
                                const std::string& request_id) {
    if (req.has_header("Authorization")) {
      const std::string h = req.get_header_value("Authorization");
      constexpr std::string_view kBearer = "Bearer ";
      if (h.size() <= kBearer.size() || h.compare(0, kBearer.size(), kBearer) != 0) {
        ReplyProblem(res, {401, "unauthorized", "the Authorization header must be 'Bearer TOKEN'"},
                     request_id);
        return nullptr;
      }
      const Principal* p = access->ByToken(std::string_view(h).substr(kBearer.size()));
      if (p == nullptr) {
        ReplyProblem(res, {401, "unauthorized", "the bearer token is not one the api knows"},
                     request_id);
      }
      return p;
    }
    if (const Principal* p = access->ByCertSubject(ClientCertCommonName(req))) return p;
    ReplyProblem(res,
                 {401, "unauthorized",
                  "no credentials: send 'Authorization: Bearer TOKEN' (or a client certificate "
                  "the api knows)"},
                 request_id);
    return nullptr;
  }

  // Token bucket per caller. False (and a 429 answer) when the caller is over its rate.
  bool Admit(const Principal& p, httplib::Response& res, const std::string& request_id) {
    const Micros now = clock->NowMicros();
    double wait_s = 0;
    {
      MutexLock l(&rate_mu);
      Bucket& b = buckets[p.name];
      if (b.at == 0) b.tokens = options.rate_burst;
      b.tokens =
          std::min(options.rate_burst, b.tokens + (now - b.at) / 1e6 * options.rate_per_second);
      b.at = now;
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return true;
      }
      wait_s = (1 - b.tokens) / options.rate_per_second;
    }
    res.set_header("Retry-After", std::to_string(static_cast<int>(wait_s) + 1));
    ReplyProblem(res,
                 {429, "too_many_requests",
                  "more than " + FormatNumber(options.rate_per_second) +
                      " requests a second from " + p.name + "; retry after the Retry-After delay"},
                 request_id);
    return false;
  }

  std::string Icb(std::string_view practice) const { return view->IcbOf(practice); }
  std::shared_ptr<const logstore::LogReader> Reader() const { return reader(); }

  bool Visible(const Principal& p, const v1::Envelope& env) const {
    if (p.role == v1::API_ROLE_AUDITOR) return true;
    const std::vector<std::string> practices = PracticesOf(env);
    if (practices.empty()) {
      return true;  // facts about the whole log: rule sets, policies, exports, end of data
    }
    for (const std::string& pc : practices) {
      if (!AccessControl::MaySee(p, pc, Icb(pc))) return false;
    }
    return true;
  }

  bool FlagVisible(const Principal& p, const v1::FlagSummary& f) const {
    const std::string icb = f.icb_code().empty() ? Icb(f.practice_code()) : f.icb_code();
    return AccessControl::MaySee(p, f.practice_code(), icb);
  }

  // Records the read on probity.access.v1 and waits for the bus. Returns the record's event id.
  StatusOr<std::string> RecordAccess(const Call& c, const std::string& action,
                                     std::vector<std::string> practices, uint64_t tree_size,
                                     uint64_t served) {
    std::sort(practices.begin(), practices.end());
    practices.erase(std::unique(practices.begin(), practices.end()), practices.end());
    const Micros now = clock->NowMicros();
    v1::Envelope env;
    env.set_event_id("api-access-" + c.request_id);
    env.set_kind(v1::EVENT_KIND_ACCESS_RECORD);
    env.set_schema_version(1);
    if (practices.size() == 1) env.set_practice_code(practices[0]);
    SetTimestamp(env.mutable_occurred_at(), now);
    SetTimestamp(env.mutable_recorded_at(), now);
    env.set_source_system("probity-api");
    v1::AccessRecord* a = env.mutable_access_record();
    a->set_principal(c.who.name);
    a->set_role(std::string(RoleName(c.who.role)));
    a->set_action(action);
    a->set_request_path(c.req.target.substr(0, 4096));
    for (const std::string& p : practices) a->add_practice_codes(p);
    a->set_request_id(c.request_id);
    a->set_tree_size(tree_size);
    a->set_entries_served(served);
    if (auto rej = codec::Validate(bus::kAccessTopic, env, codec::Policy(), now)) {
      return Internal("access record refused by the codec: " + rej->message);
    }
    Status st = publisher->Publish(bus::kAccessTopic, practices.empty() ? "" : practices[0],
                                   env.SerializeAsString(), options.confirm_timeout_ms);
    if (!st.ok()) {
      Unconfirmed("access_record");
      return Unavailable("the read could not be recorded in the log, so it is not answered (" +
                         st.message() + ")");
    }
    return env.event_id();
  }

  StatusOr<v1::EntryProof> ProveEntry(const logstore::LogReader& reader, const logstore::Entry& e,
                                      uint64_t size) {
    v1::EntryProof p;
    p.set_index(e.index);
    p.set_leaf(e.record_bytes);
    v1::InclusionProof* ip = p.mutable_proof();
    ip->set_leaf_index(e.index);
    ip->set_tree_size(size);
    ip->set_leaf_hash(std::string(merkle::AsBytes(e.leaf_hash)));
    PROBITY_ASSIGN_OR_RETURN(auto path, reader.InclusionProof(e.index, size));
    for (const auto& h : path) ip->add_hashes(std::string(merkle::AsBytes(h)));
    return p;
  }

  StatusOr<size_t> PageSize(const httplib::Request& req) {
    if (!req.has_param("limit")) return options.default_page_size;
    PROBITY_ASSIGN_OR_RETURN(uint64_t n, ParseU64("limit", req.get_param_value("limit")));
    if (n == 0 || n > options.max_page_size) {
      return InvalidArgument("limit " + std::to_string(n) + " is outside 1.." +
                             std::to_string(options.max_page_size) + " (the maximum page size)");
    }
    return static_cast<size_t>(n);
  }

  // ---- handlers: each returns a Problem to answer with, or nullopt when it answered. ----

  std::optional<Problem> Trail(Call& c) {
    const std::string practice = std::string(c.req.matches[1]);
    // Out of scope and unknown are one answer.
    if (!view->KnownPractice(practice) || !AccessControl::MaySee(c.who, practice, Icb(practice))) {
      return NotFoundProblem("practice " + practice + " not found");
    }
    auto reader = Reader();
    if (!reader) return FromStatus(Unavailable("the log cannot be read now"));
    TrailCursor cursor;
    bool started = false;
    if (c.req.has_param("cursor")) {
      auto parsed = ParseCursor(c.req.get_param_value("cursor"));
      if (!parsed.ok()) return FromStatus(parsed.status());
      cursor = *parsed;
      started = true;
    }
    auto cp =
        CheckpointForAnswer(*reader, c.req, &checkpoint_cache,
                            started ? std::optional<uint64_t>(cursor.tree_size) : std::nullopt);
    if (!cp.ok()) return FromStatus(cp.status());
    cursor.tree_size = cp->tree_size();
    TrailQuery q;
    q.practice = practice;
    q.tree_size = cp->tree_size();
    if (c.req.has_param("kind")) {
      auto k = codec::ParseKind(c.req.get_param_value("kind"));
      if (!k)
        return BadRequest("kind '" + c.req.get_param_value("kind") + "' is not an event kind");
      q.kind = *k;
    }
    auto from = ParseTimeParam(c.req, "from");
    if (!from.ok()) return FromStatus(from.status());
    auto to = ParseTimeParam(c.req, "to");
    if (!to.ok()) return FromStatus(to.status());
    if (*from) q.from = **from;
    if (*to) q.to = **to;
    if (q.from >= q.to) return BadRequest("from must be before to");
    if (c.req.has_param("include")) {
      if (c.req.get_param_value("include") != "envelope") {
        return BadRequest("include '" + c.req.get_param_value("include") +
                          "' is not known (include=envelope adds the decoded payload)");
      }
      q.include_envelope = true;
    }
    const bool stream = c.req.get_header_value("Accept").find(kNdjson) != std::string::npos ||
                        c.req.get_param_value("format") == "ndjson";
    v1::TrailHeader header;
    header.set_practice_code(practice);
    *header.mutable_checkpoint() = *cp;

    // Fills *t (empty) with the entry but its proof, taking its bytes; the proofs of a run of
    // entries are made together once it is read. (Called after this handler returned when
    // streamed: it holds nothing of the handler's.)
    auto fill_entry = [](bool include_envelope, logstore::Entry& e, const v1::LogRecord& r,
                         v1::TrailEntry* t) {
      t->set_index(e.index);
      t->set_leaf(std::move(e.record_bytes));
      t->set_event_id(r.event_id());
      t->set_kind(r.kind());
      *t->mutable_occurred_at() = r.occurred_at();
      if (include_envelope) {
        auto env = follow::DecodeRecordEnvelope(r);
        if (env.ok()) *t->mutable_envelope() = std::move(*env);
      }
    };

    if (!stream) {
      auto limit = PageSize(c.req);
      if (!limit.ok()) return FromStatus(limit.status());
      v1::TrailPage page;
      NodeTable nodes;
      bool done = false;
      std::vector<uint64_t> indices;
      Status st = ReadTrail(
          *reader, q, &cursor, &started, *limit,
          [&](logstore::Entry e, const v1::LogRecord& r) {
            indices.push_back(e.index);
            fill_entry(q.include_envelope, e, r, page.add_entries());
            return Status::Ok();
          },
          &done);
      if (!st.ok()) return FromStatus(st);
      auto paths = reader->InclusionProofs(indices, q.tree_size);
      if (!paths.ok()) return FromStatus(paths.status());
      for (size_t i = 0; i < indices.size(); ++i) {
        nodes.Add((*paths)[i], page.mutable_entries(static_cast<int>(i)));
      }
      page.mutable_end()->set_entries(page.entries_size());
      if (!done && page.entries_size() == static_cast<int>(*limit)) {
        page.mutable_end()->set_next_cursor(FormatCursor(cursor));
      }
      auto id = RecordAccess(c, "trail", {practice}, q.tree_size, page.entries_size());
      if (!id.ok()) return FromStatus(id.status());
      header.set_access_record_id(*id);
      *page.mutable_header() = header;
      Reply(c.res, 200, page);
      return std::nullopt;
    }

    // Streamed: the record is confirmed before the first byte; it names the query and the tree
    // size, which fix the answer.
    auto id = RecordAccess(c, "trail", {practice}, q.tree_size, 0);
    if (!id.ok()) return FromStatus(id.status());
    header.set_access_record_id(*id);
    // Runs of up to 4,096 lines are made (entries read, proved, their nodes numbered) on a thread
    // of their own, a run or two ahead of the connection's thread, which prints and sends them.
    struct Run {
      std::unique_ptr<google::protobuf::Arena> arena;  // holds the lines
      std::vector<v1::TrailLine*> lines;               // the last run ends with the end line
      Status status;  // not ok: the stream breaks off (no end line)
    };
    // What the making thread alone uses.
    struct Maker {
      std::shared_ptr<const logstore::LogReader> reader;
      TrailQuery q;
      TrailCursor cursor;
      bool started;
      bool done = false;
      size_t served = 0;
      size_t cap;
      NodeTable nodes;
    };
    auto maker = std::make_shared<Maker>();
    maker->reader = reader;
    maker->q = q;
    maker->cursor = cursor;
    maker->started = started;
    maker->cap = options.max_stream_entries;
    auto make_run = [maker, fill_entry](Run* run) {
      Maker& m = *maker;
      run->arena = std::make_unique<google::protobuf::Arena>();
      auto new_line = [run] {
        run->lines.push_back(
            google::protobuf::Arena::CreateMessage<v1::TrailLine>(run->arena.get()));
        return run->lines.back();
      };
      if (!m.done && m.served < m.cap) {
        const size_t n = std::min<size_t>(4096, m.cap - m.served);
        std::vector<uint64_t> indices;
        indices.reserve(n);
        run->lines.reserve(n + 1);
        run->status = ReadTrail(
            *m.reader, m.q, &m.cursor, &m.started, n,
            [&](logstore::Entry e, const v1::LogRecord& r) {
              indices.push_back(e.index);
              fill_entry(m.q.include_envelope, e, r, new_line()->mutable_entry());
              return Status::Ok();
            },
            &m.done);
        if (!run->status.ok()) return false;
        auto paths = m.reader->InclusionProofs(indices, m.q.tree_size);
        if (!paths.ok()) {
          run->status = paths.status();
          return false;
        }
        for (size_t i = 0; i < indices.size(); ++i) {
          m.nodes.Add((*paths)[i], run->lines[i]->mutable_entry());
        }
        m.served += indices.size();
        if (!m.done && indices.size() == n && m.served < m.cap) return true;
      }
      v1::TrailEnd* end = new_line()->mutable_end();
      end->set_entries(m.served);
      if (!m.done) end->set_next_cursor(FormatCursor(m.cursor));
      return false;
    };
    struct StreamState {
      std::string first;  // the header line, until sent
      bool ended = false;
      std::string out;  // a run's lines, printed
      MadeAhead<Run> runs;
      StreamState(std::string header_line, std::function<bool(Run*)> make)
          : first(std::move(header_line)), runs(std::move(make), 2) {}
    };
    v1::TrailLine first;
    *first.mutable_header() = header;
    auto s = std::make_shared<StreamState>(codec::ToJson(first) + "\n", std::move(make_run));
    c.res.status = 200;
    c.res.set_chunked_content_provider(kNdjson, [s](size_t, httplib::DataSink& sink) {
      if (!s->first.empty()) {
        sink.write(s->first.data(), s->first.size());
        s->first.clear();
        return true;
      }
      if (s->ended) {
        sink.done();
        return true;
      }
      Run run = s->runs.Next();
      if (!run.status.ok()) return false;  // ends the connection: the client sees no end line
      std::string& out = s->out;
      out.clear();
      out.reserve(run.lines.size() * 1024);
      for (const v1::TrailLine* line : run.lines) {
        codec::AppendJson(*line, &out);
        out += '\n';
      }
      s->ended = run.lines.empty() || run.lines.back()->has_end();
      s->runs.Spent(std::move(run));
      sink.write(out.data(), out.size());
      return true;
    });
    return std::nullopt;
  }

  // The entry at `index`, if the caller may see it.
  std::optional<Problem> Entry(Call& c, std::optional<uint64_t> index) {
    auto reader = Reader();
    if (!reader) return FromStatus(Unavailable("the log cannot be read now"));
    auto cp = CheckpointForAnswer(*reader, c.req, &checkpoint_cache);
    if (!cp.ok()) return FromStatus(cp.status());
    std::string what;
    if (!index) {
      const std::string id = std::string(c.req.matches[1]);
      what = "event " + id;
      auto found = reader->FindByEventId(id);
      if (!found.ok()) return FromStatus(found.status());
      if (!found->empty()) index = found->front();
    } else {
      what = "entry " + std::to_string(*index);
    }
    const Problem missing = NotFoundProblem(what + " not found");
    if (!index || *index >= cp->tree_size()) return missing;
    auto e = reader->Get(*index);
    if (!e.ok()) return e.status().code() == Code::kNotFound ? missing : FromStatus(e.status());
    v1::LogRecord record;
    if (!record.ParseFromString(e->record_bytes)) {
      return FromStatus(DataLoss("entry " + std::to_string(*index) + " does not parse"));
    }
    auto env = follow::DecodeRecordEnvelope(record);
    if (!env.ok()) return FromStatus(env.status());
    if (!Visible(c.who, *env)) return missing;
    v1::EntryResponse out;
    auto proof = ProveEntry(*reader, *e, cp->tree_size());
    if (!proof.ok()) return FromStatus(proof.status());
    *out.mutable_entry() = std::move(*proof);
    *out.mutable_checkpoint() = *cp;
    *out.mutable_envelope() = *env;
    const std::vector<std::string> practices = PracticesOf(*env);
    if (!practices.empty()) {
      auto id = RecordAccess(c, "entry", practices, cp->tree_size(), 1);
      if (!id.ok()) return FromStatus(id.status());
      out.set_access_record_id(*id);
    }
    Reply(c.res, 200, out);
    return std::nullopt;
  }

  std::optional<Problem> Consistency(Call& c) {
    auto reader = Reader();
    if (!reader) return FromStatus(Unavailable("the log cannot be read now"));
    auto cp = CheckpointForAnswer(*reader, c.req, &checkpoint_cache);
    if (!cp.ok()) return FromStatus(cp.status());
    if (!c.req.has_param("from")) return BadRequest("from (the older tree size) is required");
    auto from = ParseU64("from", c.req.get_param_value("from"));
    if (!from.ok()) return FromStatus(from.status());
    uint64_t to = cp->tree_size();
    if (c.req.has_param("to")) {
      auto t = ParseU64("to", c.req.get_param_value("to"));
      if (!t.ok()) return FromStatus(t.status());
      to = *t;
    }
    if (*from == 0 || *from > to) {
      return BadRequest("from must be in 1..to (RFC 9162 defines no proof from size 0)");
    }
    v1::ConsistencyResponse out;
    if (to != cp->tree_size()) {
      auto all = reader->Checkpoints();
      if (!all.ok()) return FromStatus(all.status());
      bool found = false;
      for (const auto& r : *all) {
        if (r.tree_size() == to) {
          *out.mutable_checkpoint() = ToCheckpoint(r);
          found = true;
        }
      }
      if (!found) return NotFoundProblem("no signed checkpoint of size " + std::to_string(to));
    } else {
      *out.mutable_checkpoint() = *cp;
    }
    auto hashes = reader->ConsistencyProof(*from, to);
    if (!hashes.ok()) return FromStatus(hashes.status());
    out.mutable_proof()->set_old_size(*from);
    out.mutable_proof()->set_new_size(to);
    for (const auto& h : *hashes) out.mutable_proof()->add_hashes(std::string(merkle::AsBytes(h)));
    Reply(c.res, 200, out);
    return std::nullopt;
  }

  std::optional<Problem> Checkpoints(Call& c, const std::string& which) {
    auto reader = Reader();
    if (!reader) return FromStatus(Unavailable("the log cannot be read now"));
    if (which == "latest") {
      auto latest = reader->LatestCheckpoint();
      if (!latest.ok()) return FromStatus(latest.status());
      if (!*latest) return NotFoundProblem("the log has no signed checkpoint yet");
      Reply(c.res, 200, checkpoint_cache.Of(**latest));
      return std::nullopt;
    }
    auto all = reader->Checkpoints();
    if (!all.ok()) return FromStatus(all.status());
    if (!which.empty()) {
      auto size = ParseU64("size", which);
      if (!size.ok()) return FromStatus(size.status());
      for (const auto& r : *all) {
        if (r.tree_size() == *size) {
          Reply(c.res, 200, ToCheckpoint(r));
          return std::nullopt;
        }
      }
      return NotFoundProblem("no signed checkpoint of size " + which);
    }
    auto limit = PageSize(c.req);
    if (!limit.ok()) return FromStatus(limit.status());
    uint64_t from = 0;
    if (c.req.has_param("cursor")) {
      auto f = ParseU64("cursor", c.req.get_param_value("cursor"));
      if (!f.ok()) return FromStatus(f.status());
      from = *f;
    }
    v1::CheckpointList out;
    for (uint64_t i = from; i < all->size() && out.checkpoints_size() < static_cast<int>(*limit);
         ++i) {
      *out.add_checkpoints() = ToCheckpoint((*all)[i]);
    }
    if (from + out.checkpoints_size() < all->size()) {
      out.set_next_cursor(std::to_string(from + out.checkpoints_size()));
    }
    Reply(c.res, 200, out);
    return std::nullopt;
  }

  StatusOr<v1::EntryProof> ProveIndex(const logstore::LogReader& reader, uint64_t index,
                                      uint64_t size) {
    PROBITY_ASSIGN_OR_RETURN(logstore::Entry e, reader.Get(index));
    return ProveEntry(reader, e, size);
  }

  std::optional<Problem> Flags(Call& c) {
    FlagQuery q;
    q.practice = c.req.get_param_value("practice");
    q.icb = c.req.get_param_value("icb");
    q.rule = c.req.get_param_value("rule");
    if (c.req.has_param("severity")) {
      std::string s = c.req.get_param_value("severity");
      for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      v1::Severity sev;
      if (!v1::Severity_Parse("SEVERITY_" + s, &sev) || sev == v1::SEVERITY_UNSPECIFIED) {
        return BadRequest("severity '" + c.req.get_param_value("severity") +
                          "' is not info, warning or critical");
      }
      q.severity = sev;
    }
    if (c.req.has_param("status")) {
      std::string s = c.req.get_param_value("status");
      for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      v1::FlagStatus st;
      if (!v1::FlagStatus_Parse("FLAG_STATUS_" + s, &st) || st == v1::FLAG_STATUS_UNSPECIFIED) {
        return BadRequest("status '" + c.req.get_param_value("status") +
                          "' is not open, acknowledged, upheld or dismissed");
      }
      q.status = st;
    }
    auto from = ParseTimeParam(c.req, "from");
    if (!from.ok()) return FromStatus(from.status());
    auto to = ParseTimeParam(c.req, "to");
    if (!to.ok()) return FromStatus(to.status());
    q.from_micros = *from;
    q.to_micros = *to;
    auto limit = PageSize(c.req);
    if (!limit.ok()) return FromStatus(limit.status());
    size_t start = 0;
    if (c.req.has_param("cursor")) {
      auto f = ParseU64("cursor", c.req.get_param_value("cursor"));
      if (!f.ok()) return FromStatus(f.status());
      start = *f;
    }
    auto reader = Reader();
    if (!reader) return FromStatus(Unavailable("the log cannot be read now"));
    auto cp = CheckpointForAnswer(*reader, c.req, &checkpoint_cache);
    if (!cp.ok()) return FromStatus(cp.status());
    const uint64_t size = cp->tree_size();
    const Principal& who = c.who;
    size_t next = 0;
    auto flags = view->Flags(
        q, [&](const v1::FlagSummary& f) { return f.log_index() < size && FlagVisible(who, f); },
        start, *limit, &next);
    v1::FlagList out;
    *out.mutable_checkpoint() = *cp;
    std::vector<std::string> practices;
    for (const FlagState& f : flags) {
      v1::FlagSummary* s = out.add_flags();
      *s = f.summary;
      auto proof = ProveIndex(*reader, f.summary.log_index(), size);
      if (!proof.ok()) return FromStatus(proof.status());
      *s->mutable_proof() = std::move(*proof);
      practices.push_back(f.summary.practice_code());
    }
    if (next != 0) out.set_next_cursor(std::to_string(next));
    if (!practices.empty()) {
      auto id = RecordAccess(c, "flags", practices, size, flags.size());
      if (!id.ok()) return FromStatus(id.status());
    }
    Reply(c.res, 200, out);
    return std::nullopt;
  }

  // The flag named in the path, if the caller may see it (and it is in the checkpoint).
  std::variant<FlagState, Problem> FindFlag(const Call& c, uint64_t size) {
    const std::string id = std::string(c.req.matches[1]);
    auto f = view->Flag(id);
    if (!f || f->summary.log_index() >= size || !FlagVisible(c.who, f->summary)) {
      return NotFoundProblem("flag " + id + " not found");
    }
    return *f;
  }

  std::optional<Problem> Explain(Call& c) {
    auto reader = Reader();
    if (!reader) return FromStatus(Unavailable("the log cannot be read now"));
    auto cp = CheckpointForAnswer(*reader, c.req, &checkpoint_cache);
    if (!cp.ok()) return FromStatus(cp.status());
    const uint64_t size = cp->tree_size();
    auto found = FindFlag(c, size);
    if (auto* p = std::get_if<Problem>(&found)) return *p;
    const FlagState& f = std::get<FlagState>(found);
    v1::FlagExplanation out;
    *out.mutable_flag() = f.summary;
    auto flag_entry = reader->Get(f.summary.log_index());
    if (!flag_entry.ok()) return FromStatus(flag_entry.status());
    auto proof = ProveEntry(*reader, *flag_entry, size);
    if (!proof.ok()) return FromStatus(proof.status());
    *out.mutable_flag()->mutable_proof() = *proof;
    v1::LogRecord record;
    record.ParseFromString(flag_entry->record_bytes);
    auto env = follow::DecodeRecordEnvelope(record);
    if (!env.ok()) return FromStatus(env.status());
    const v1::Flag& flag = env->flag();
    *out.mutable_details() = flag;
    // The rule as published in the rule set the flag names.
    if (auto rs = view->RuleSet(flag.rule_set_hash())) {
      auto loaded = rules::LoadRuleSet(rs->yaml_content());
      if (loaded.ok()) {
        for (const rules::RuleSpec& r : loaded->rules) {
          if (r.id != flag.rule_id()) continue;
          out.set_rule_in_plain_english(r.description);
          for (const auto& [name, value] : r.params)
            (*out.mutable_parameters())[name] = ParamText(value);
        }
      }
    }
    if (out.rule_in_plain_english().empty()) out.set_rule_in_plain_english(flag.summary());
    std::ostringstream s;
    s << "Observed " << FormatNumber(flag.observed()) << " against an expected "
      << FormatNumber(flag.expected());
    if (flag.lower_limit() != 0 || flag.upper_limit() != 0) {
      s << " (limits " << FormatNumber(flag.lower_limit()) << " to "
        << FormatNumber(flag.upper_limit()) << ")";
    }
    if (flag.has_baseline() && !flag.baseline().group().empty()) {
      s << "; peer group " << flag.baseline().group() << " of " << flag.baseline().peers()
        << " practices, median " << FormatNumber(flag.baseline().median());
    }
    s << ".";
    out.set_observed_vs_expected(s.str());
    *out.mutable_baseline() = flag.baseline();
    std::vector<std::string> practices = {f.summary.practice_code()};
    for (const v1::Evidence& ev : flag.evidence()) {
      v1::EvidenceEntry* item = out.add_evidence();
      item->set_event_id(ev.event_id());
      if (ev.log_index() >= size) continue;
      auto e = reader->Get(ev.log_index());
      if (!e.ok()) return FromStatus(e.status());
      v1::LogRecord r;
      r.ParseFromString(e->record_bytes);
      auto evenv = follow::DecodeRecordEnvelope(r);
      if (!evenv.ok() || !Visible(c.who, *evenv)) continue;  // named, not shown
      auto p = ProveEntry(*reader, *e, size);
      if (!p.ok()) return FromStatus(p.status());
      *item->mutable_entry() = std::move(*p);
      *item->mutable_envelope() = *evenv;
      for (auto& pc : PracticesOf(*evenv)) practices.push_back(pc);
    }
    for (const auto& d : f.decisions) {
      if (d.log_index() < size) *out.add_decisions() = d;
    }
    *out.mutable_checkpoint() = *cp;
    auto id = RecordAccess(c, "flag_explanation", practices, size, 1 + flag.evidence_size());
    if (!id.ok()) return FromStatus(id.status());
    out.set_access_record_id(*id);
    Reply(c.res, 200, out);
    return std::nullopt;
  }

  std::optional<Problem> History(Call& c) {
    auto found = FindFlag(c, std::numeric_limits<uint64_t>::max());
    if (auto* p = std::get_if<Problem>(&found)) return *p;
    const FlagState& f = std::get<FlagState>(found);
    v1::DecisionHistory out;
    out.set_flag_id(f.summary.flag_id());
    out.set_status(f.summary.status());
    for (const auto& d : f.decisions) *out.add_decisions() = d;
    Reply(c.res, 200, out);
    return std::nullopt;
  }

  std::optional<Problem> Decide(Call& c) {
    auto found = FindFlag(c, std::numeric_limits<uint64_t>::max());
    if (auto* p = std::get_if<Problem>(&found)) return *p;
    const FlagState& f = std::get<FlagState>(found);
    if (!AccessControl::MayDecide(c.who)) {
      return Problem{403, "forbidden",
                     std::string(RoleName(c.who.role)) + " " + c.who.name +
                         " may read this flag but not decide on it (a deciding commissioner may)"};
    }
    const std::string key = c.req.get_header_value("Idempotency-Key");
    if (key.empty() || key.size() > kMaxIdempotencyKey ||
        key.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:") !=
            std::string::npos) {
      return BadRequest(
          "an Idempotency-Key header of 1-128 characters [A-Za-z0-9-_.:] is required");
    }
    v1::DecisionRequest body;
    google::protobuf::util::JsonParseOptions po;
    po.ignore_unknown_fields = false;
    google::protobuf::util::Status ps;
    try {
      ps = google::protobuf::util::JsonStringToMessage(c.req.body, &body, po);
    } catch (...) {
      ps = google::protobuf::util::InvalidArgumentError("does not parse");
    }
    if (!ps.ok()) {
      return BadRequest("the body is not a DecisionRequest: " +
                        std::string(ps.message()).substr(0, 200));
    }
    if (body.outcome() == v1::DECISION_OUTCOME_UNSPECIFIED) {
      return BadRequest("outcome is required: DECISION_OUTCOME_ACKNOWLEDGE, _UPHOLD or _DISMISS");
    }
    if (body.decided_by().empty()) body.set_decided_by(c.who.name);
    std::string canonical;
    body.SerializeToString(&canonical);  // proto3, no unknown fields: one encoding per body
    const std::string request_hash =
        crypto::Sha256Hex(c.who.name + '\n' + f.summary.flag_id() + '\n' + canonical);

    v1::IdempotencyRecord rec;
    bool replayed = false;
    {
      // The key's check and its record are one step; producing (the same bytes, whoever does it)
      // and waiting are not.
      MutexLock l(&decide_mu);
      auto existing = idempotency->Get(c.who.name, key);
      if (!existing.ok()) return FromStatus(existing.status());
      if (*existing) {
        rec = **existing;
        if (rec.request_sha256_hex() != request_hash) {
          return Problem{422, "unprocessable",
                         "Idempotency-Key '" + key +
                             "' was used for another request; use a new key for a new decision"};
        }
        replayed = true;
      } else {
        const Micros now = clock->NowMicros();
        v1::Envelope env;
        env.set_event_id("api-decision-" +
                         crypto::Sha256Hex(c.who.name + '\n' + key).substr(0, 40));
        env.set_kind(v1::EVENT_KIND_FLAG_DECISION);
        env.set_schema_version(1);
        env.set_practice_code(f.summary.practice_code());
        SetTimestamp(env.mutable_occurred_at(), now);
        SetTimestamp(env.mutable_recorded_at(), now);
        env.set_source_system("probity-api");
        if (!f.decisions.empty()) env.set_supersedes_event_id(f.decisions.back().decision_id());
        v1::FlagDecision* d = env.mutable_flag_decision();
        d->set_flag_id(f.summary.flag_id());
        d->set_outcome(body.outcome());
        d->set_reason(body.reason());
        d->set_decided_by(body.decided_by());
        d->set_decided_by_role(c.who.decided_by_role);
        if (auto rej = codec::Validate(bus::kDecisionsTopic, env, codec::Policy(), now)) {
          return BadRequest(rej->message);
        }
        rec.set_request_sha256_hex(request_hash);
        rec.set_decision_id(env.event_id());
        rec.set_envelope(env.SerializeAsString());
        rec.set_flag_id(f.summary.flag_id());
        Status st = idempotency->Put(c.who.name, key, rec);
        if (!st.ok()) return FromStatus(st);
      }
    }
    // The same bytes every time: ingest logs the first and drops the rest as redeliveries.
    Status st = publisher->Publish(bus::kDecisionsTopic, rec.flag_id(), rec.envelope(),
                                   options.confirm_timeout_ms);
    if (!st.ok()) {
      Unconfirmed("decision");
      return Problem{503, "unavailable",
                     "the decision was not confirmed by the bus; retry with the same "
                     "Idempotency-Key (" +
                         st.message() + ")"};
    }
    v1::DecisionAccepted out;
    out.set_decision_id(rec.decision_id());
    out.set_flag_id(rec.flag_id());
    out.set_replayed(replayed);
    uint64_t wait_ms = 0;
    if (c.req.has_param("wait")) {
      auto w = ParseU64("wait", c.req.get_param_value("wait"));
      if (!w.ok()) return FromStatus(w.status());
      wait_ms = std::min<uint64_t>(*w, options.max_wait_ms);
    }
    auto at = view->WaitForEvent(
        rec.decision_id(), std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms));
    if (at) {
      out.set_sequenced(true);
      out.set_log_index(*at);
    }
    c.res.set_header("Location", "/v1/flags/" + rec.flag_id() + "/decisions");
    Reply(c.res, 202, out);
    return std::nullopt;
  }

  // The flag's dispute bundle (docs/bundle.md), exactly as `probity dispute bundle` writes it.
  std::optional<Problem> Bundle(Call& c) {
    if (!options.bundle_policy) {
      return Problem{503, "unavailable",
                     "this api has no verifier policy for bundles (start it with --bundle-policy)"};
    }
    auto reader = Reader();
    if (!reader) return FromStatus(Unavailable("the log cannot be read now"));
    auto cp = reader->LatestCheckpoint();
    if (!cp.ok()) return FromStatus(cp.status());
    const uint64_t size = *cp ? (*cp)->tree_size() : 0;
    auto found = FindFlag(c, size);
    if (auto* p = std::get_if<Problem>(&found)) return *p;
    const FlagState& f = std::get<FlagState>(found);
    bundle::BuildOptions bo;
    bo.policy = *options.bundle_policy;
    if (c.req.has_param("since_size")) {
      auto since = ParseU64("since_size", c.req.get_param_value("since_size"));
      if (!since.ok()) return FromStatus(since.status());
      bo.since_size = *since;
    }
    auto built = bundle::Build(*reader, f.summary.flag_id(), bo);
    if (!built.ok()) {
      if (built.status().code() == Code::kFailedPrecondition) {
        return Problem{503, "unavailable", built.status().message()};
      }
      return FromStatus(built.status());
    }
    // Every practice whose entries the bundle carries.
    std::vector<std::string> practices = {f.summary.practice_code()};
    uint64_t served = 0;
    auto note = [&](const v1::EntryProof& e) {
      ++served;
      v1::LogRecord r;
      if (r.ParseFromString(e.leaf()) && !r.practice_code().empty()) {
        practices.push_back(r.practice_code());
      }
    };
    note(built->flag());
    for (const auto& e : built->evidence()) note(e);
    for (const auto& e : built->context()) note(e);
    if (built->has_baseline()) note(built->baseline());
    auto id = RecordAccess(c, "bundle", practices, built->checkpoint().tree_size(), served);
    if (!id.ok()) return FromStatus(id.status());
    c.res.status = 200;
    c.res.set_content(bundle::ToFile(*built), kJson);
    c.res.set_header("Content-Disposition",
                     "attachment; filename=\"bundle-" + f.summary.flag_id() + ".json\"");
    return std::nullopt;
  }

  std::optional<Problem> AccessLog(Call& c) {
    const std::string practice = std::string(c.req.matches[1]);
    // Out of scope and unknown are one answer.
    if (!view->KnownPractice(practice) || !AccessControl::MaySee(c.who, practice, Icb(practice))) {
      return NotFoundProblem("practice " + practice + " not found");
    }
    auto reader = Reader();
    if (!reader) return FromStatus(Unavailable("the log cannot be read now"));
    auto cp = CheckpointForAnswer(*reader, c.req, &checkpoint_cache);
    if (!cp.ok()) return FromStatus(cp.status());
    auto limit = PageSize(c.req);
    if (!limit.ok()) return FromStatus(limit.status());
    uint64_t start = 0;
    if (c.req.has_param("cursor")) {
      auto f = ParseU64("cursor", c.req.get_param_value("cursor"));
      if (!f.ok()) return FromStatus(f.status());
      start = *f;
    }
    const uint64_t size = cp->tree_size();
    v1::AccessLog out;
    out.set_practice_code(practice);
    *out.mutable_checkpoint() = *cp;
    const std::vector<uint64_t> all = view->AccessRecordsOf(practice);
    size_t i = start;
    for (; i < all.size() && out.items_size() < static_cast<int>(*limit); ++i) {
      if (all[i] >= size) break;
      auto e = reader->Get(all[i]);
      if (!e.ok()) return FromStatus(e.status());
      v1::LogRecord r;
      r.ParseFromString(e->record_bytes);
      auto env = follow::DecodeRecordEnvelope(r);
      if (!env.ok()) return FromStatus(env.status());
      v1::AccessLogItem* item = out.add_items();
      item->set_log_index(all[i]);
      item->set_access_record_id(env->event_id());
      *item->mutable_record() = env->access_record();
      *item->mutable_at() = env->occurred_at();
      auto p = ProveEntry(*reader, *e, size);
      if (!p.ok()) return FromStatus(p.status());
      *item->mutable_proof() = std::move(*p);
    }
    if (i < all.size() && all[i] < size) out.set_next_cursor(std::to_string(i));
    auto id = RecordAccess(c, "access_log", {practice}, size, out.items_size());
    if (!id.ok()) return FromStatus(id.status());
    out.set_access_record_id(*id);
    Reply(c.res, 200, out);
    return std::nullopt;
  }
};

// ------------------------------------------------------------------------------------------------

ApiServer::ApiServer(ApiOptions options, const AccessControl* access, ReaderFn reader,
                     const View* view, ConfirmedPublisher* publisher, IdempotencyStore* idempotency,
                     const Clock* clock, prometheus::Registry* registry, LogFn log)
    : impl_(new Impl{.options = std::move(options),
                     .access = access,
                     .reader = std::move(reader),
                     .view = view,
                     .publisher = publisher,
                     .idempotency = idempotency,
                     .clock = clock,
                     .log = std::move(log)}) {
  if (registry != nullptr) {
    Impl::Metrics& m = impl_->metrics;
    m.requests = &prometheus::BuildCounter()
                      .Name("probity_api_requests_total")
                      .Help("Requests answered by the api, by route and HTTP status")
                      .Register(*registry);
    m.seconds = &prometheus::BuildHistogram()
                     .Name("probity_api_request_seconds")
                     .Help(
                         "Time from a request's arrival to its answer (to the first byte of a "
                         "stream), by route")
                     .Register(*registry);
    m.unconfirmed = &prometheus::BuildCounter()
                         .Name("probity_api_unconfirmed_publications_total")
                         .Help(
                             "Access records and decisions the bus did not confirm (each "
                             "request was answered 503, with no data), by kind")
                         .Register(*registry);
    m.view_next = &prometheus::BuildGauge()
                       .Name("probity_follower_next_index")
                       .Help("The next log index a follower needs (everything below is applied)")
                       .Register(*registry)
                       .Add({{"target", "api"}});
    m.view_lag = &prometheus::BuildGauge()
                      .Name("probity_api_view_lag_entries")
                      .Help("Entries in the store the api reads that its view has not applied")
                      .Register(*registry)
                      .Add({});
  }
}

ApiServer::~ApiServer() { Stop(); }

bool ApiServer::tls() const { return !impl_->options.tls_cert_file.empty(); }

Status ApiServer::Start() {
  const ApiOptions& o = impl_->options;
  if (!o.tls_cert_file.empty()) {
    auto ssl = std::make_unique<httplib::SSLServer>(
        o.tls_cert_file.c_str(), o.tls_key_file.c_str(),
        o.client_ca_file.empty() ? nullptr : o.client_ca_file.c_str());
    if (!ssl->is_valid()) {
      return InvalidArgument("api: cannot use TLS certificate " + o.tls_cert_file + " / key " +
                             o.tls_key_file +
                             (o.client_ca_file.empty() ? "" : " / client CA " + o.client_ca_file));
    }
    server_ = std::move(ssl);
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  httplib::Server& s = *server_;
  const int threads = o.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_keep_alive_max_count(1'000'000);
  // An idle keep-alive connection holds a thread: let it go as soon as a slow request would.
  s.set_keep_alive_timeout(std::max(1, o.read_timeout_ms / 1000));
  s.set_read_timeout(o.read_timeout_ms / 1000, (o.read_timeout_ms % 1000) * 1000);
  s.set_payload_max_length(o.max_body_bytes);
  // An answer is written as its headers, then its body: without TCP_NODELAY the body waits for
  // the client to acknowledge the headers, which a client waiting for the whole answer may
  // delay (40 ms on Linux).
  s.set_tcp_nodelay(true);
  Impl* impl = impl_.get();

  // httplib's own refusals (no route, body too large, bad request line) get the JSON shape too.
  s.set_error_handler([impl](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    impl->ReplyProblem(res, {res.status, ErrorName(res.status), DefaultMessage(res.status, req)},
                       "");
  });
  s.set_exception_handler(
      [impl](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        impl->ReplyProblem(res, {500, "internal", "the request failed inside the api"}, "");
      });

  using Handler = std::function<std::optional<Problem>(Impl::Call&)>;
  auto route = [impl](std::string name, Handler h) {
    return [impl, name, h](const httplib::Request& req, httplib::Response& res) {
      const auto started = std::chrono::steady_clock::now();
      const std::string request_id =
          impl->options.instance_id + "-" + std::to_string(++impl->request_seq);
      res.set_header("X-Request-Id", request_id);
      const Principal* who = impl->Authenticate(req, res, request_id);
      std::optional<Problem> problem;
      if (who != nullptr && impl->Admit(*who, res, request_id)) {
        Impl::Call call{req, res, *who, request_id, name};
        problem = h(call);
        if (problem) impl->ReplyProblem(res, *problem, request_id);
      }
      if (impl->metrics.requests != nullptr) {
        impl->metrics.requests->Add({{"route", name}, {"status", std::to_string(res.status)}})
            .Increment();
        static const prometheus::Histogram::BucketBoundaries kBuckets = {
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
        impl->metrics.seconds->Add({{"route", name}}, kBuckets)
            .Observe(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      }
      if (impl->log) {
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
        // Path only (tokens never travel in it); the caller by name, never by credential.
        impl->log(req.method + " " + req.path + " " + std::to_string(res.status) + " " +
                  (who ? who->name : "-") + " " + request_id + " " + std::to_string(us) + "us");
      }
    };
  };

  s.Get(R"(/v1/practices/([^/]+)/trail)",
        route("trail", [impl](Impl::Call& c) { return impl->Trail(c); }));
  s.Get(R"(/v1/practices/([^/]+)/access)",
        route("access_log", [impl](Impl::Call& c) { return impl->AccessLog(c); }));
  s.Get(R"(/v1/entries/([^/]+))", route("entry", [impl](Impl::Call& c) -> std::optional<Problem> {
          auto index = ParseU64("index", std::string(c.req.matches[1]));
          if (!index.ok()) return FromStatus(index.status());
          return impl->Entry(c, *index);
        }));
  s.Get(R"(/v1/events/([^/]+))",
        route("event", [impl](Impl::Call& c) { return impl->Entry(c, std::nullopt); }));
  s.Get("/v1/proofs/consistency",
        route("consistency", [impl](Impl::Call& c) { return impl->Consistency(c); }));
  s.Get("/v1/checkpoints/latest",
        route("checkpoint", [impl](Impl::Call& c) { return impl->Checkpoints(c, "latest"); }));
  s.Get(R"(/v1/checkpoints/([^/]+))", route("checkpoint", [impl](Impl::Call& c) {
          return impl->Checkpoints(c, std::string(c.req.matches[1]));
        }));
  s.Get("/v1/checkpoints",
        route("checkpoints", [impl](Impl::Call& c) { return impl->Checkpoints(c, ""); }));
  s.Get("/v1/flags", route("flags", [impl](Impl::Call& c) { return impl->Flags(c); }));
  s.Get(R"(/v1/flags/([^/]+)/explanation)",
        route("explanation", [impl](Impl::Call& c) { return impl->Explain(c); }));
  s.Get(R"(/v1/flags/([^/]+)/bundle)",
        route("bundle", [impl](Impl::Call& c) { return impl->Bundle(c); }));
  s.Get(R"(/v1/flags/([^/]+)/decisions)",
        route("decisions", [impl](Impl::Call& c) { return impl->History(c); }));
  s.Post(R"(/v1/flags/([^/]+)/decisions)",
         route("decide", [impl](Impl::Call& c) { return impl->Decide(c); }));
  // The payments routes (payments_routes.cc), answered through the same wrapper.
  AddPaymentsRoutes(
      [&s, route, impl](const std::string& pattern, const std::string& name, PaymentsHandler h) {
        s.Get(pattern, route(name, [impl, h](Impl::Call& c) -> std::optional<Problem> {
                auto reader = impl->Reader();
                PaymentsCall pc{
                    c.req,
                    c.res,
                    c.who,
                    reader,
                    [impl](std::string_view p) { return impl->Icb(p); },
                    [impl, &c, &reader] {
                      return CheckpointForAnswer(*reader, c.req, &impl->checkpoint_cache);
                    },
                    [impl, &c](const std::string& action, std::vector<std::string> practices,
                               uint64_t size, uint64_t served) {
                      return impl->RecordAccess(c, action, std::move(practices), size, served);
                    },
                    impl->options.bundle_policy};
                auto p = h(pc);
                if (!p) return std::nullopt;
                if (p->http == 0) return FromStatus(p->status);
                return Problem{p->http, p->error, p->status.message()};
              }));
      });

  PROBITY_RETURN_IF_ERROR(
      metrics::ListenInBackground(server_.get(), o.host, o.port, "api", &port_, &thread_));
  if (impl_->metrics.view_next != nullptr) {
    metrics_thread_ = std::thread([this] {
      MutexLock l(&stop_mu_);
      while (!stopping_) {
        impl_->UpdateViewMetrics();
        stop_cv_.WaitUntil(&stop_mu_, std::chrono::steady_clock::now() + std::chrono::seconds(1));
      }
    });
  }
  return Status::Ok();
}

void ApiServer::Stop() {
  if (metrics_thread_.joinable()) {
    {
      MutexLock l(&stop_mu_);
      stopping_ = true;
    }
    stop_cv_.NotifyAll();
    metrics_thread_.join();
  }
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

}  // namespace probity::api
