// Builders for rules-engine tests: a log of envelopes with increasing indices.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "services/rules/backtest.h"
#include "services/rules/engine.h"
#include "services/rules/rule_set.h"
#include "services/rules/time_util.h"

namespace probity::rules::testing {

namespace v1 = probity::v1;

// Seconds at 00:00 UTC on the date, plus hours.
inline int64_t T(int y, unsigned m, unsigned d, int hour = 0) {
  return DaysFromCivil(y, m, d) * kSecondsPerDay + hour * 3600;
}

inline RuleSet OneRule(const std::string& kind, const std::string& params = "{}",
                       const std::string& id = "r1") {
  std::string yaml =
      "name: test\nversion: \"1\"\nrules:\n  - id: " + id + "\n    version: 1\n    kind: " + kind +
      "\n    severity: warning\n    description: test rule\n    params: " + params + "\n";
  auto rs = LoadRuleSet(yaml);
  EXPECT_TRUE(rs.ok()) << rs.status().ToString();
  return rs.ok() ? *rs : RuleSet{};
}

class LogBuilder {
 public:
  using Entry = VectorEventSource::Entry;

  v1::Envelope& Add(v1::EventKind kind, const std::string& practice, int64_t t) {
    Entry e;
    e.envelope.set_event_id("ev-" + std::to_string(entries_.size()));
    e.envelope.set_kind(kind);
    e.envelope.set_schema_version(1);
    e.envelope.set_practice_code(practice);
    e.envelope.mutable_occurred_at()->set_seconds(t);
    e.envelope.mutable_recorded_at()->set_seconds(t);
    e.record.set_event_id(e.envelope.event_id());
    e.record.set_kind(kind);
    e.record.set_practice_code(practice);
    e.record.mutable_occurred_at()->set_seconds(t);
    entries_.push_back(std::move(e));
    return entries_.back().envelope;
  }
  v1::LogRecord& last_record() { return entries_.back().record; }

  LogBuilder& Practice(const std::string& code, int64_t t, int64_t list, double weighted,
                       const std::string& icb = "QHM", bool dispensing = false,
                       const std::string& merged_from = "") {
    auto* u = Add(v1::EVENT_KIND_PRACTICE_UPDATE, code, t).mutable_practice_update();
    u->set_list_size(list);
    u->set_weighted_list_size(weighted);
    u->set_icb_code(icb);
    u->set_dispensing(dispensing);
    u->set_merged_from_practice_code(merged_from);
    return *this;
  }
  v1::Claim& Claim(const std::string& code, int64_t t, const std::string& claim_id,
                   v1::PaymentStream stream, int64_t amount) {
    auto* c = Add(v1::EVENT_KIND_CLAIM, code, t).mutable_claim();
    c->set_claim_id(claim_id);
    c->set_stream(stream);
    c->set_amount_pence(amount);
    c->set_quantity(1);
    c->set_status(v1::CLAIM_STATUS_SUBMITTED);
    return *c;
  }
  LogBuilder& Referrals(const std::string& code, int64_t t, int n) {
    for (int i = 0; i < n; ++i)
      Add(v1::EVENT_KIND_REFERRAL, code, t).mutable_referral()->set_ubrn("1");
    return *this;
  }
  LogBuilder& Contact(const std::string& code, int64_t t, v1::ContactMode mode, bool ooh,
                      uint32_t count) {
    auto* c = Add(v1::EVENT_KIND_PATIENT_CONTACT, code, t).mutable_patient_contact();
    c->set_mode(mode);
    c->set_out_of_hours(ooh);
    c->set_count(count);
    c->set_attendance(v1::ATTENDANCE_ATTENDED);
    return *this;
  }
  v1::MonitoringVisit& Visit(const std::string& code, int64_t t, v1::MonitoringVisitType type,
                             v1::MonitoringOutcome outcome = v1::MONITORING_OUTCOME_SATISFACTORY) {
    auto* v = Add(v1::EVENT_KIND_MONITORING_VISIT, code, t).mutable_monitoring_visit();
    v->set_visit_id("v-" + std::to_string(entries_.size()));
    v->set_type(type);
    v->set_outcome(outcome);
    return *v;
  }
  // Any input event that only moves the watermark (a referral from an unrelated practice).
  // Moves event time (the watermark and the visits feed's) with an event of a practice no test
  // uses: a patient contact, which is on the visits feed.
  LogBuilder& Tick(int64_t t) {
    auto* c = Add(v1::EVENT_KIND_PATIENT_CONTACT, "Z99999", t).mutable_patient_contact();
    c->set_mode(v1::CONTACT_MODE_TELEPHONE);
    c->set_attendance(v1::ATTENDANCE_ATTENDED);
    return *this;
  }

  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

 private:
  std::vector<Entry> entries_;
};

inline void SetPeriod(v1::Claim& c, int64_t start, int64_t end) {
  c.mutable_period_start()->set_seconds(start);
  c.mutable_period_end()->set_seconds(end);
}

inline std::vector<v1::Envelope> RunRules(const RuleSet& rs,
                                          const std::vector<LogBuilder::Entry>& entries) {
  auto engine = Engine::Create(rs);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  std::vector<v1::Envelope> flags;
  for (size_t i = 0; i < entries.size(); ++i) {
    LogEvent ev{i, entries[i].record, entries[i].envelope};
    Status s = (*engine)->Process(ev, &flags);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return flags;
}

inline size_t CountFor(const std::vector<v1::Envelope>& flags, const std::string& practice) {
  size_t n = 0;
  for (const auto& f : flags) n += f.practice_code() == practice;
  return n;
}

}  // namespace probity::rules::testing
