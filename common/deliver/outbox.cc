#include "common/deliver/outbox.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>

#include "common/logstore/keys.h"
#include "common/time/proto_time.h"

namespace probity::deliver {
namespace {

using logstore::keys::Be64;
using logstore::keys::GetBe64;

constexpr char kCursorKey[] = "cursor";

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  return IoError("outbox: " + what + ": " + s.ToString());
}

std::string Key(char kind, const std::string& dest) {
  std::string k(1, kind);
  k += "/";
  k += dest;
  if (kind != 'd') k.push_back('\0');
  return k;
}

template <typename M>
bool Parse(const rocksdb::Slice& v, M* m) {
  return m->ParseFromArray(v.data(), static_cast<int>(v.size()));
}

}  // namespace

RetryPolicy WebhookRetryPolicy() {
  RetryPolicy p;
  p.give_up_after = 3 * 24 * 3600 * kSecond;
  return p;
}

Outcome Outcome::FromHttpStatus(int status, std::string detail, Micros retry_after) {
  Outcome o;
  o.http_status = status;
  o.detail = std::move(detail);
  o.retry_after = retry_after;
  if (status >= 200 && status < 300) {
    o.kind = kDelivered;
  } else if (status == 410) {
    o.kind = kGone;
  } else if (status == 429 || status == 502 || status == 504) {
    o.kind = kSlowDown;
  } else {
    o.kind = kFailed;
  }
  return o;
}

struct Outbox::Dest {
  DestinationConfig cfg;
  std::string q, k, f, d;  // key prefixes
  std::mutex mu;           // guards everything below, and the wait
  std::condition_variable cv;
  bool kicked = false;
  uint64_t next_seq = 0;
  uint64_t queued = 0;
  v1::DestinationState state;
  std::string last_error;
  std::mt19937_64 rng;
  prometheus::Counter* delivered = nullptr;
  prometheus::Counter* failed = nullptr;
  prometheus::Counter* attempt_failures = nullptr;
  prometheus::Gauge* queued_gauge = nullptr;
  prometheus::Gauge* disabled_gauge = nullptr;
  prometheus::Gauge* failing_gauge = nullptr;

  void Publish() {  // REQUIRES: mu held
    if (!queued_gauge) return;
    queued_gauge->Set(static_cast<double>(queued));
    disabled_gauge->Set(state.disabled() ? 1 : 0);
    failing_gauge->Set(state.consecutive_failures());
  }
};

Outbox::Outbox(Options options, const Clock* clock) : options_(std::move(options)), clock_(clock) {}

Outbox::~Outbox() { Stop(); }

StatusOr<std::unique_ptr<Outbox>> Outbox::Open(Options options,
                                               std::vector<DestinationConfig> destinations,
                                               const Clock* clock, prometheus::Registry* registry) {
  std::unique_ptr<Outbox> o(new Outbox(std::move(options), clock));
  std::error_code ec;
  std::filesystem::create_directories(o->options_.path, ec);
  if (ec) return IoError("outbox: cannot create " + o->options_.path + ": " + ec.message());
  rocksdb::Options ro;
  ro.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  PROBITY_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(ro, o->options_.path, &raw), "open"));
  o->db_.reset(raw);
  std::string v;
  rocksdb::Status s = o->db_->Get(rocksdb::ReadOptions(), kCursorKey, &v);
  if (s.ok() && v.size() == 8) {
    o->source_next_ = GetBe64(v);
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "read cursor");
  }
  prometheus::Family<prometheus::Counter>* delivered = nullptr;
  prometheus::Family<prometheus::Counter>* failed = nullptr;
  prometheus::Family<prometheus::Counter>* attempt_failures = nullptr;
  prometheus::Family<prometheus::Gauge>* queued = nullptr;
  prometheus::Family<prometheus::Gauge>* disabled = nullptr;
  prometheus::Family<prometheus::Gauge>* failing = nullptr;
  if (registry) {
    delivered = &prometheus::BuildCounter()
                     .Name("probity_delivery_delivered_total")
                     .Help("Items a destination accepted")
                     .Register(*registry);
    failed = &prometheus::BuildCounter()
                  .Name("probity_delivery_failed_total")
                  .Help("Items finally given up on (recorded as failed deliveries)")
                  .Register(*registry);
    attempt_failures = &prometheus::BuildCounter()
                            .Name("probity_delivery_attempt_failures_total")
                            .Help("Delivery attempts a destination refused or did not answer")
                            .Register(*registry);
    queued = &prometheus::BuildGauge()
                  .Name("probity_delivery_queued")
                  .Help("Items waiting in a destination's outbox")
                  .Register(*registry);
    disabled = &prometheus::BuildGauge()
                    .Name("probity_delivery_disabled")
                    .Help("1 when a destination is disabled (410 Gone)")
                    .Register(*registry);
    failing = &prometheus::BuildGauge()
                   .Name("probity_delivery_consecutive_failures")
                   .Help("Failed attempts in a row at a destination (0 when it accepts)")
                   .Register(*registry);
  }
  uint64_t n = 0;
  for (DestinationConfig& cfg : destinations) {
    if (cfg.name.empty() || cfg.name.find('\0') != std::string::npos || !cfg.transport) {
      return InvalidArgument("outbox: destination needs a name and a transport");
    }
    auto d = std::make_unique<Dest>();
    d->q = Key('q', cfg.name);
    d->k = Key('k', cfg.name);
    d->f = Key('f', cfg.name);
    d->d = Key('d', cfg.name);
    d->rng.seed(o->options_.seed + n++);
    if (registry) {
      const std::map<std::string, std::string> l{{"destination", cfg.name}};
      d->delivered = &delivered->Add(l);
      d->failed = &failed->Add(l);
      d->attempt_failures = &attempt_failures->Add(l);
      d->queued_gauge = &queued->Add(l);
      d->disabled_gauge = &disabled->Add(l);
      d->failing_gauge = &failing->Add(l);
    }
    d->cfg = std::move(cfg);
    PROBITY_RETURN_IF_ERROR(o->Load(d.get()));
    o->dests_.push_back(std::move(d));
  }
  return o;
}

Status Outbox::Load(Dest* d) {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), d->d, &v);
  if (s.ok()) {
    if (!d->state.ParseFromString(v)) return DataLoss("outbox: state of " + d->cfg.name);
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "read state");
  }
  // The next sequence number follows the last queued or failed one.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(d->q); it->Valid() && it->key().starts_with(d->q); it->Next()) {
    ++d->queued;
    d->next_seq = std::max(d->next_seq, GetBe64(it->key().ToStringView().substr(d->q.size())) + 1);
  }
  for (it->Seek(d->f); it->Valid() && it->key().starts_with(d->f); it->Next()) {
    d->next_seq = std::max(d->next_seq, GetBe64(it->key().ToStringView().substr(d->f.size())) + 1);
  }
  d->Publish();
  return FromRocks(it->status(), "scan " + d->cfg.name);
}

Status Outbox::Enqueue(const std::vector<NewItem>& items, uint64_t source_next) {
  const Micros now = clock_->NowMicros();
  rocksdb::WriteBatch wb;
  std::vector<int64_t> queued_delta(dests_.size(), 0), failed_delta(dests_.size(), 0);
  std::vector<uint64_t> next_seq(dests_.size());
  std::vector<bool> added(dests_.size(), false);
  std::vector<std::unique_lock<std::mutex>> locks;
  for (auto& d : dests_) locks.emplace_back(d->mu);  // in index order: no deadlock
  for (size_t i = 0; i < dests_.size(); ++i) next_seq[i] = dests_[i]->next_seq;
  std::map<std::string, uint64_t> coalesced;  // k/ key -> seq, within this batch
  for (const NewItem& n : items) {
    if (n.destination >= dests_.size()) return InvalidArgument("outbox: no such destination");
    Dest& d = *dests_[n.destination];
    const uint64_t seq = next_seq[n.destination]++;
    v1::OutboxItem item;
    item.set_id(n.id);
    item.set_body(n.body);
    item.set_coalesce_key(n.coalesce_key);
    SetTimestamp(item.mutable_enqueued_at(), now);
    if (d.state.disabled()) {
      v1::FailedDelivery fd;
      fd.set_destination(d.cfg.name);
      fd.set_sequence(seq);
      *fd.mutable_item() = std::move(item);
      fd.set_reason("destination disabled: " + d.state.disabled_reason());
      SetTimestamp(fd.mutable_failed_at(), now);
      wb.Put(d.f + Be64(seq), fd.SerializeAsString());
      ++failed_delta[n.destination];
      continue;
    }
    if (!n.coalesce_key.empty()) {
      const std::string kk = d.k + n.coalesce_key;
      std::optional<uint64_t> old;
      if (auto it = coalesced.find(kk); it != coalesced.end()) {
        old = it->second;
      } else {
        std::string v;
        rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kk, &v);
        if (s.ok() && v.size() == 8) {
          std::string ignored;
          // Only if still queued (a delivered item's key is removed with it).
          if (db_->Get(rocksdb::ReadOptions(), d.q + v, &ignored).ok()) old = GetBe64(v);
        } else if (!s.ok() && !s.IsNotFound()) {
          return FromRocks(s, "read coalesce key");
        }
      }
      if (old) {
        wb.Delete(d.q + Be64(*old));
        --queued_delta[n.destination];
      }
      wb.Put(kk, Be64(seq));
      coalesced[kk] = seq;
    }
    wb.Put(d.q + Be64(seq), item.SerializeAsString());
    ++queued_delta[n.destination];
    added[n.destination] = true;
  }
  for (size_t i = 0; i < dests_.size(); ++i) {
    if (!failed_delta[i]) continue;
    v1::DestinationState st = dests_[i]->state;
    st.set_failed(st.failed() + failed_delta[i]);
    wb.Put(dests_[i]->d, st.SerializeAsString());
  }
  wb.Put(kCursorKey, Be64(source_next));
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  PROBITY_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &wb), "write"));
  source_next_ = source_next;
  for (size_t i = 0; i < dests_.size(); ++i) {
    Dest& d = *dests_[i];
    d.next_seq = next_seq[i];
    d.queued = static_cast<uint64_t>(static_cast<int64_t>(d.queued) + queued_delta[i]);
    if (failed_delta[i]) {
      d.state.set_failed(d.state.failed() + failed_delta[i]);
      if (d.failed) d.failed->Increment(static_cast<double>(failed_delta[i]));
    }
    d.Publish();
    if (added[i]) {
      d.kicked = true;
      d.cv.notify_all();
    }
  }
  return Status::Ok();
}

Status Outbox::SetSourceNext(uint64_t source_next) { return Enqueue({}, source_next); }

Micros Outbox::Backoff(Dest* d, const Outcome& o) {
  const RetryPolicy& p = d->cfg.policy;
  const uint32_t n = std::max<uint32_t>(1, d->state.consecutive_failures());
  double delay = static_cast<double>(p.first_delay) * std::pow(p.multiplier, n - 1);
  delay = std::min(delay, static_cast<double>(p.max_delay));
  std::uniform_real_distribution<double> u(1.0 - p.jitter, 1.0 + p.jitter);
  delay *= u(d->rng);
  Micros out = static_cast<Micros>(delay);
  if (o.kind == Outcome::kSlowDown) out = std::max(out, p.slow_down_min);
  return std::max(out, o.retry_after);
}

StatusOr<Micros> Outbox::DeliverDue(size_t index, Micros now) {
  Dest& d = *dests_.at(index);
  {
    std::lock_guard<std::mutex> l(d.mu);
    if (d.state.disabled()) return kNever;
    if (d.state.has_next_attempt_at()) {
      const Micros at = FromTimestamp(d.state.next_attempt_at());
      if (at > now) return at;
    }
  }
  // The head of the queue (a consistent read; Enqueue may append or coalesce meanwhile).
  std::vector<uint64_t> seqs;
  std::vector<v1::OutboxItem> items;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(d.q); it->Valid() && it->key().starts_with(d.q) &&
                        items.size() < std::max<size_t>(1, d.cfg.max_batch);
         it->Next()) {
      items.emplace_back();
      if (!Parse(it->value(), &items.back())) {
        return DataLoss("outbox: queued item of " + d.cfg.name + " does not parse");
      }
      seqs.push_back(GetBe64(it->key().ToStringView().substr(d.q.size())));
    }
    PROBITY_RETURN_IF_ERROR(FromRocks(it->status(), "scan queue"));
  }
  if (items.empty()) return kNever;
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  rocksdb::WriteBatch wb;
  std::unique_lock<std::mutex> l(d.mu, std::defer_lock);
  // Returns whether the queued item `seq` is still there (not coalesced away meanwhile).
  auto still_queued = [&](uint64_t seq) {
    std::string ignored;
    return db_->Get(rocksdb::ReadOptions(), d.q + Be64(seq), &ignored).ok();
  };
  auto fail_item = [&](uint64_t seq, v1::OutboxItem item, const std::string& reason) {
    v1::FailedDelivery fd;
    fd.set_destination(d.cfg.name);
    fd.set_sequence(seq);
    *fd.mutable_item() = std::move(item);
    fd.set_reason(reason);
    SetTimestamp(fd.mutable_failed_at(), now);
    wb.Delete(d.q + Be64(seq));
    wb.Put(d.f + Be64(seq), fd.SerializeAsString());
    d.state.set_failed(d.state.failed() + 1);
    --d.queued;
    if (d.failed) d.failed->Increment();
  };

  // An item failing for longer than the policy allows is given up, and the next one tried.
  const RetryPolicy& p = d.cfg.policy;
  if (p.give_up_after > 0 && items[0].attempts() > 0 &&
      now - FromTimestamp(items[0].first_failure_at()) >= p.give_up_after) {
    l.lock();
    if (still_queued(seqs[0])) {
      fail_item(seqs[0], items[0],
                "gave up after " + std::to_string(items[0].attempts()) +
                    " attempts; last error: " + items[0].last_error());
      wb.Put(d.d, d.state.SerializeAsString());
      PROBITY_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &wb), "write"));
    }
    d.Publish();
    return now;
  }

  std::vector<const v1::OutboxItem*> batch;
  for (const auto& i : items) batch.push_back(&i);
  const Outcome o = d.cfg.transport->Send(batch, now);

  l.lock();
  switch (o.kind) {
    case Outcome::kDelivered: {
      for (size_t i = 0; i < items.size(); ++i) {
        if (!still_queued(seqs[i])) continue;
        wb.Delete(d.q + Be64(seqs[i]));
        if (!items[i].coalesce_key().empty()) {
          std::string v;
          const std::string kk = d.k + items[i].coalesce_key();
          if (db_->Get(rocksdb::ReadOptions(), kk, &v).ok() && v == Be64(seqs[i])) wb.Delete(kk);
        }
        --d.queued;
        d.state.set_delivered(d.state.delivered() + 1);
        if (d.delivered) d.delivered->Increment();
      }
      d.state.set_consecutive_failures(0);
      d.state.clear_next_attempt_at();
      d.last_error.clear();
      wb.Put(d.d, d.state.SerializeAsString());
      PROBITY_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &wb), "write"));
      d.Publish();
      return now;
    }
    case Outcome::kGone: {
      d.state.set_disabled(true);
      d.state.set_disabled_reason("HTTP " + std::to_string(o.http_status) + " Gone: " + o.detail);
      SetTimestamp(d.state.mutable_disabled_at(), now);
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
      for (it->Seek(d.q); it->Valid() && it->key().starts_with(d.q); it->Next()) {
        v1::OutboxItem item;
        if (!Parse(it->value(), &item)) return DataLoss("outbox: queued item does not parse");
        fail_item(GetBe64(it->key().ToStringView().substr(d.q.size())), std::move(item),
                  "destination disabled: " + d.state.disabled_reason());
      }
      PROBITY_RETURN_IF_ERROR(FromRocks(it->status(), "scan queue"));
      d.last_error = d.state.disabled_reason();
      wb.Put(d.d, d.state.SerializeAsString());
      PROBITY_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &wb), "write"));
      d.Publish();
      return kNever;
    }
    case Outcome::kFailed:
    case Outcome::kSlowDown: {
      d.state.set_consecutive_failures(d.state.consecutive_failures() + 1);
      const Micros next = now + Backoff(&d, o);
      SetTimestamp(d.state.mutable_next_attempt_at(), next);
      d.last_error = o.detail;
      if (still_queued(seqs[0])) {
        v1::OutboxItem& head = items[0];
        head.set_attempts(head.attempts() + 1);
        if (!head.has_first_failure_at()) SetTimestamp(head.mutable_first_failure_at(), now);
        head.set_last_error(o.detail);
        head.set_last_http_status(o.http_status);
        wb.Put(d.q + Be64(seqs[0]), head.SerializeAsString());
      }
      wb.Put(d.d, d.state.SerializeAsString());
      PROBITY_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &wb), "write"));
      if (d.attempt_failures) d.attempt_failures->Increment();
      d.Publish();
      return next;
    }
  }
  return now;
}

void Outbox::Loop(size_t index) {
  Dest& d = *dests_[index];
  while (!stop_) {
    StatusOr<Micros> next = DeliverDue(index, clock_->NowMicros());
    if (!next.ok()) {
      std::lock_guard<std::mutex> l(status_mu_);
      if (thread_status_.ok()) thread_status_ = next.status();
      return;
    }
    const Micros now = clock_->NowMicros();
    if (*next <= now) continue;
    const Micros wait = std::min<Micros>(*next - now, options_.poll);
    std::unique_lock<std::mutex> l(d.mu);
    d.cv.wait_for(l, std::chrono::microseconds(wait), [&] { return d.kicked || stop_.load(); });
    d.kicked = false;
  }
}

void Outbox::Start() {
  stop_ = false;
  for (size_t i = 0; i < dests_.size(); ++i) threads_.emplace_back([this, i] { Loop(i); });
}

void Outbox::Stop() {
  stop_ = true;
  for (auto& d : dests_) {
    std::lock_guard<std::mutex> l(d->mu);
    d->cv.notify_all();
  }
  for (auto& t : threads_) t.join();
  threads_.clear();
}

Status Outbox::thread_status() const {
  std::lock_guard<std::mutex> l(status_mu_);
  return thread_status_;
}

v1::DestinationStatus Outbox::status(size_t index) const {
  Dest& d = *dests_.at(index);
  std::lock_guard<std::mutex> l(d.mu);
  v1::DestinationStatus s;
  s.set_destination(d.cfg.name);
  s.set_queued(d.queued);
  s.set_delivered(d.state.delivered());
  s.set_failed(d.state.failed());
  s.set_disabled(d.state.disabled());
  s.set_disabled_reason(d.state.disabled_reason());
  s.set_consecutive_failures(d.state.consecutive_failures());
  if (d.state.has_next_attempt_at()) *s.mutable_next_attempt_at() = d.state.next_attempt_at();
  s.set_last_error(d.last_error);
  return s;
}

StatusOr<std::vector<v1::FailedDelivery>> Outbox::Failed(size_t limit) const {
  std::vector<v1::FailedDelivery> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("f/"); it->Valid() && it->key().starts_with("f/") && out.size() < limit;
       it->Next()) {
    out.emplace_back();
    if (!Parse(it->value(), &out.back())) return DataLoss("outbox: failed record does not parse");
  }
  PROBITY_RETURN_IF_ERROR(FromRocks(it->status(), "scan failed"));
  return out;
}

Status Outbox::Enable(const std::string& path, const std::string& destination) {
  rocksdb::DB* raw = nullptr;
  PROBITY_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(rocksdb::Options(), path, &raw),
                                    "open " + path + " (stop the target that uses it first)"));
  std::unique_ptr<rocksdb::DB> db(raw);
  const std::string key = Key('d', destination);
  std::string v;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), key, &v);
  if (s.IsNotFound()) return NotFound("outbox " + path + " has no destination " + destination);
  PROBITY_RETURN_IF_ERROR(FromRocks(s, "read state"));
  v1::DestinationState st;
  if (!st.ParseFromString(v)) return DataLoss("outbox: state of " + destination);
  st.set_disabled(false);
  st.clear_disabled_reason();
  st.clear_disabled_at();
  st.set_consecutive_failures(0);
  st.clear_next_attempt_at();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db->Put(wo, key, st.SerializeAsString()), "write state");
}

StatusOr<Outbox::Snapshot> Outbox::Inspect(const std::string& path) {
  rocksdb::DB* raw = nullptr;
  PROBITY_RETURN_IF_ERROR(
      FromRocks(rocksdb::DB::OpenForReadOnly(rocksdb::Options(), path, &raw), "open " + path));
  std::unique_ptr<rocksdb::DB> db(raw);
  Snapshot snap;
  std::map<std::string, v1::DestinationStatus> by_name;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("d/"); it->Valid() && it->key().starts_with("d/"); it->Next()) {
    v1::DestinationState st;
    if (!Parse(it->value(), &st)) return DataLoss("outbox: state does not parse");
    v1::DestinationStatus& s = by_name[it->key().ToString().substr(2)];
    s.set_delivered(st.delivered());
    s.set_failed(st.failed());
    s.set_disabled(st.disabled());
    s.set_disabled_reason(st.disabled_reason());
    s.set_consecutive_failures(st.consecutive_failures());
    if (st.has_next_attempt_at()) *s.mutable_next_attempt_at() = st.next_attempt_at();
  }
  for (it->Seek("q/"); it->Valid() && it->key().starts_with("q/"); it->Next()) {
    const std::string key = it->key().ToString();
    v1::DestinationStatus& s = by_name[key.substr(2, key.find('\0') - 2)];
    s.set_queued(s.queued() + 1);
    v1::OutboxItem item;
    if (s.last_error().empty() && Parse(it->value(), &item)) s.set_last_error(item.last_error());
  }
  for (it->Seek("f/"); it->Valid() && it->key().starts_with("f/"); it->Next()) {
    snap.failed.emplace_back();
    if (!Parse(it->value(), &snap.failed.back())) return DataLoss("outbox: failed record");
  }
  PROBITY_RETURN_IF_ERROR(FromRocks(it->status(), "scan"));
  for (auto& [name, s] : by_name) {
    s.set_destination(name);
    snap.destinations.push_back(std::move(s));
  }
  return snap;
}

}  // namespace probity::deliver
