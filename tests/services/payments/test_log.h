// A log in memory for the payments tests: entries built in code, fed to a follower through the
// follower contract (Restore / PublishAtStart / Apply / Save) with a fake Publisher, and what it
// publishes appended back into the log as ingest would.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "common/crypto/sha256.h"
#include "common/follow/follower.h"
#include "probity/v1/events.pb.h"
#include "probity/v1/log.pb.h"

namespace probity::payments::testing {

inline constexpr int64_t kDay = 86400;
inline constexpr int64_t kT0 = 1680480000;  // 2023-04-03 00:00 UTC

struct Published {
  std::string topic, key, value;
};

class FakePublisher final : public follow::Publisher {
 public:
  Status Publish(std::string_view topic, std::string_view key, std::string_view value,
                 const bus::Headers&) override {
    if (fail_after >= 0 && static_cast<int64_t>(out.size()) >= fail_after)
      return Unavailable("fake bus refuses");
    out.push_back({std::string(topic), std::string(key), std::string(value)});
    return Status::Ok();
  }
  std::vector<Published> out;
  int64_t fail_after = -1;
};

struct LogEntry {
  v1::LogRecord record;
  v1::Envelope env;
};

inline v1::Envelope Base(const std::string& event_id, v1::EventKind kind,
                         const std::string& practice, int64_t t) {
  v1::Envelope e;
  e.set_event_id(event_id);
  e.set_kind(kind);
  e.set_schema_version(1);
  e.set_practice_code(practice);
  e.mutable_occurred_at()->set_seconds(t);
  e.set_source_system("test");
  return e;
}

inline v1::Envelope ClaimEnv(const std::string& claim_id, const std::string& practice,
                             int64_t pence, int64_t t,
                             v1::PaymentStream stream = v1::PAYMENT_STREAM_ITEM_OF_SERVICE,
                             const std::string& event_id = "") {
  v1::Envelope e =
      Base(event_id.empty() ? "ev-" + claim_id : event_id, v1::EVENT_KIND_CLAIM, practice, t);
  auto* c = e.mutable_claim();
  c->set_claim_id(claim_id);
  c->set_stream(stream);
  c->set_amount_pence(pence);
  c->set_status(v1::CLAIM_STATUS_SUBMITTED);
  c->mutable_period_start()->set_seconds(t - 30 * kDay);
  c->mutable_period_end()->set_seconds(t - kDay);
  return e;
}

inline std::string FlagId(const std::string& name) { return crypto::Sha256Hex("flag:" + name); }

inline v1::Envelope FlagEnv(const std::string& name, const std::string& practice,
                            const std::string& rule_id, const std::string& kind,
                            const std::string& claim_id, int64_t t,
                            v1::Severity severity = v1::SEVERITY_WARNING) {
  v1::Envelope e = Base(FlagId(name), v1::EVENT_KIND_FLAG, practice, t);
  e.set_source_system("probity-rules");
  auto* f = e.mutable_flag();
  f->set_flag_id(FlagId(name));
  f->set_rule_id(rule_id);
  f->set_rule_kind(kind);
  f->set_severity(severity);
  f->set_claim_id(claim_id);
  f->set_icb_code("QHM");
  f->set_summary("test flag " + name);
  return e;
}

inline v1::Envelope DecisionEnv(const std::string& event_id, const std::string& flag_name,
                                const std::string& practice, v1::DecisionOutcome outcome,
                                int64_t t) {
  v1::Envelope e = Base(event_id, v1::EVENT_KIND_FLAG_DECISION, practice, t);
  auto* d = e.mutable_flag_decision();
  d->set_flag_id(FlagId(flag_name));
  d->set_outcome(outcome);
  d->set_reason("reason " + event_id);
  d->set_decided_by("cm@icb");
  return e;
}

inline v1::Envelope TickEnv(const std::string& event_id, const std::string& practice, int64_t t,
                            const std::string& icb = "QHM") {
  v1::Envelope e = Base(event_id, v1::EVENT_KIND_PRACTICE_UPDATE, practice, t);
  e.mutable_practice_update()->set_icb_code(icb);
  e.mutable_practice_update()->set_list_size(5000);
  e.mutable_practice_update()->set_weighted_list_size(5000);
  return e;
}

class TestLog {
 public:
  // Appends `env` (received when it occurred). Returns its index.
  uint64_t Add(const v1::Envelope& env) {
    LogEntry e;
    e.env = env;
    e.record.set_payload(env.SerializeAsString());
    e.record.set_content_type(v1::CONTENT_TYPE_PROTOBUF);
    e.record.set_event_id(env.event_id());
    e.record.set_kind(env.kind());
    e.record.set_practice_code(env.practice_code());
    *e.record.mutable_occurred_at() = env.occurred_at();
    *e.record.mutable_received_at() = env.occurred_at();
    entries_.push_back(std::move(e));
    return entries_.size() - 1;
  }
  // Appends published envelopes (instructions, policies) as ingest would, dropping exact
  // redeliveries of an event id already logged.
  void AddPublished(const std::vector<Published>& out) {
    for (const auto& p : out) {
      v1::Envelope env;
      if (!env.ParseFromString(p.value)) continue;
      bool seen = false;
      for (const auto& e : entries_) seen |= e.env.event_id() == env.event_id();
      if (!seen) Add(env);
    }
  }
  // Applies entries [from, to) to `f`. Stops at the first error.
  Status Feed(follow::Follower* f, follow::Publisher* out, uint64_t from, uint64_t to) const {
    for (uint64_t i = from; i < to && i < entries_.size(); ++i) {
      const std::string leaf = entries_[i].record.SerializeAsString();
      follow::Event ev{.index = i,
                       .leaf = leaf,
                       .record = &entries_[i].record,
                       .envelope = &entries_[i].env,
                       .tree_size = i + 1};
      PROBITY_RETURN_IF_ERROR(f->Apply(ev, out));
    }
    return Status::Ok();
  }
  uint64_t size() const { return entries_.size(); }
  const std::vector<LogEntry>& entries() const { return entries_; }

 private:
  std::vector<LogEntry> entries_;
};

// The instructions among `out`, parsed.
inline std::vector<v1::PaymentInstruction> Instructions(const std::vector<Published>& out) {
  std::vector<v1::PaymentInstruction> r;
  for (const auto& p : out) {
    v1::Envelope env;
    if (env.ParseFromString(p.value) && env.has_payment_instruction())
      r.push_back(env.payment_instruction());
  }
  return r;
}

}  // namespace probity::payments::testing
