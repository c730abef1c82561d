#include "services/rules/engine.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <unordered_set>

#include "services/rules/baseline.h"
#include "services/rules/rule.h"
#include "services/rules/time_util.h"

namespace probity::rules {

namespace {
constexpr std::string_view kVisitsTopic = "probity.visits.v1";
}  // namespace

using internal::ClaimRec;
using internal::Decoder;
using internal::Encoder;
using internal::EventRef;
using internal::FlagDraft;
using internal::Practice;
using internal::PracticeMap;
using probity::v1::Envelope;
namespace v1 = probity::v1;

namespace {
// 2 adds the visits feed's per-partition watermarks; 3 adds the END_OF_DATA time. Older formats
// still load (with none).
constexpr uint64_t kGlobalFormat = 3;
constexpr int64_t kNoTime = INT64_MIN / 4;

bool IsInputKind(probity::v1::EventKind k) {
  return k == probity::v1::EVENT_KIND_CLAIM || k == probity::v1::EVENT_KIND_REFERRAL ||
         k == probity::v1::EVENT_KIND_PATIENT_CONTACT ||
         k == probity::v1::EVENT_KIND_MONITORING_VISIT ||
         k == probity::v1::EVENT_KIND_PRACTICE_UPDATE;
}

void AppendField(std::string* buf, std::string_view s) {
  uint64_t n = s.size();
  for (int i = 7; i >= 0; --i) buf->push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  buf->append(s);
}

EventRef RefOf(const LogEvent& ev) { return EventRef{ev.index, ev.envelope.event_id()}; }
}  // namespace

std::string SerializeDeterministic(const Envelope& envelope) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    envelope.SerializeToCodedStream(&cos);
  }
  return out;
}

class Engine::Impl final : public internal::Env {
 public:
  Impl(RuleSet rs, EngineOptions opts) : rule_set_(std::move(rs)), options_(opts) {}

  Status Init() {
    for (const auto& spec : rule_set_.rules) {
      auto rule = internal::MakeRule(spec);
      if (!rule) return InvalidArgument("rule " + spec.id + ": unknown kind " + spec.kind);
      rules_.push_back(std::move(rule));
    }
    return Status::Ok();
  }

  Status Process(const LogEvent& ev, std::vector<Envelope>* flags) {
    if (has_last_index_ && ev.index <= last_index_) {
      return FailedPrecondition("rules engine: entry index " + std::to_string(ev.index) +
                                " is not after the last processed index " +
                                std::to_string(last_index_));
    }
    out_ = flags;
    current_index_ = ev.index;
    const Envelope& env = ev.envelope;
    const auto kind = env.kind();
    if (kind == probity::v1::EVENT_KIND_END_OF_DATA && env.has_end_of_data()) {
      // A finite feed is complete up to data_complete_until: judge every window ending by then
      // (docs/rules.md, "End of data"). A later END_OF_DATA only ever moves it forward.
      const int64_t until = env.end_of_data().data_complete_until().seconds();
      if (until > complete_until_) {
        complete_until_ = until;
        for (auto& r : rules_) r->OnTick(*this);
      }
    } else if (kind == probity::v1::EVENT_KIND_BASELINE) {
      if (options_.learn_flags_from_log && env.has_baseline()) {
        known_baselines_.insert(env.baseline().baseline_id());
      }
    } else if (kind == probity::v1::EVENT_KIND_FLAG) {
      if (options_.learn_flags_from_log) {
        known_flags_.insert(env.has_flag() && !env.flag().flag_id().empty() ? env.flag().flag_id()
                                                                            : env.event_id());
      }
    } else if (kind == probity::v1::EVENT_KIND_PAYMENT_INSTRUCTION &&
               env.has_payment_instruction()) {
      // The payments ledger, for kinds that judge it (kLedgerRuleKinds).
      for (auto& r : rules_) r->OnPaymentInstruction(*this, ev);
    } else if (IsInputKind(kind) && !env.practice_code().empty() &&
               (!ev.record.conflicting_resubmission() || kind == probity::v1::EVENT_KIND_CLAIM)) {
      // Conflicting resubmissions of non-claim events are not counted twice (docs/rules.md).
      int64_t t = env.occurred_at().seconds();
      Practice& p = PracticeFor(env.practice_code());
      p.first_seen = std::min(p.first_seen, t);
      int64_t wm = t;
      if (ev.record.has_received_at() && ev.record.received_at().seconds() > 0) {
        wm = std::min(wm, ev.record.received_at().seconds() + kSecondsPerDay);
      }
      if (wm > watermark_ || !has_watermark_) {
        watermark_ = wm;
        has_watermark_ = true;
      }
      const bool from_visits_feed =
          ev.record.topic() == kVisitsTopic ||
          (ev.record.topic().empty() && (kind == probity::v1::EVENT_KIND_PATIENT_CONTACT ||
                                         kind == probity::v1::EVENT_KIND_MONITORING_VISIT));
      if (from_visits_feed) {
        auto [it, fresh] = visits_feed_.try_emplace(ev.record.partition(), wm);
        if (!fresh && wm > it->second) it->second = wm;
      }
      Apply(p, ev);
      // Tick when either the watermark or the visits feed's watermark enters a new day.
      const int64_t vday = DayOf(visits_watermark());
      if (!has_tick_ || DayOf(watermark_) > last_tick_day_ || vday > last_visits_tick_day_) {
        has_tick_ = true;
        last_tick_day_ = DayOf(watermark_);
        last_visits_tick_day_ = vday;
        for (auto& r : rules_) r->OnTick(*this);
      }
    }
    has_last_index_ = true;
    last_index_ = ev.index;
    out_ = nullptr;
    return Status::Ok();
  }

  // ---- Env ----
  int64_t watermark() const override { return watermark_; }
  int64_t visits_watermark() const override {
    if (visits_feed_.empty())
      return complete_until_;  // no visit data read yet: no visit timer is due before the end
    int64_t lo = INT64_MAX;
    for (const auto& [partition, wm] : visits_feed_) lo = std::min(lo, wm);
    return std::max(lo, complete_until_);
  }
  int64_t data_complete_until() const override { return complete_until_; }
  const PracticeMap& practices() const override { return practices_; }

  void Emit(const RuleSpec& spec, FlagDraft d) override {
    std::string buf;
    AppendField(&buf, rule_set_.sha256_hex);
    AppendField(&buf, spec.id);
    AppendField(&buf, std::to_string(spec.version));
    AppendField(&buf, d.practice->code);
    AppendField(&buf, std::to_string(d.window_start));
    AppendField(&buf, std::to_string(d.window_end));
    AppendField(&buf, d.key);
    std::string id = crypto::Sha256Hex(buf);
    if (!known_flags_.insert(id).second) return;
    if (out_ == nullptr) return;
    Envelope env;
    env.set_event_id(id);
    env.set_kind(probity::v1::EVENT_KIND_FLAG);
    env.set_schema_version(1);
    env.set_practice_code(d.practice->code);
    env.mutable_occurred_at()->set_seconds(watermark_);
    env.mutable_recorded_at()->set_seconds(watermark_);
    env.set_source_system("probity-rules");
    auto* f = env.mutable_flag();
    f->set_flag_id(id);
    f->set_rule_id(spec.id);
    f->set_rule_version(spec.version);
    f->set_rule_set_hash(rule_set_.sha256_hex);
    f->set_icb_code(d.practice->icb_code);
    f->set_severity(spec.severity);
    f->mutable_window_start()->set_seconds(d.window_start);
    f->mutable_window_end()->set_seconds(d.window_end);
    f->set_observed(d.observed);
    f->set_expected(d.expected);
    f->set_lower_limit(d.lower_limit);
    f->set_upper_limit(d.upper_limit);
    if (d.has_baseline) *f->mutable_baseline() = d.baseline;
    if (options_.log_baselines && d.baseline_entry != nullptr) {
      v1::Baseline b = *d.baseline_entry;
      b.set_rule_set_hash(rule_set_.sha256_hex);
      b.set_baseline_id(BaselineId(b));
      f->set_baseline_id(b.baseline_id());
      if (known_baselines_.insert(b.baseline_id()).second) {
        Envelope be;
        be.set_event_id(b.baseline_id());
        be.set_kind(probity::v1::EVENT_KIND_BASELINE);
        be.set_schema_version(1);
        be.mutable_occurred_at()->set_seconds(watermark_);
        be.mutable_recorded_at()->set_seconds(watermark_);
        be.set_source_system("probity-rules");
        *be.mutable_baseline() = std::move(b);
        out_->push_back(std::move(be));
      }
    }
    for (const auto& e : d.evidence) {
      auto* ev = f->add_evidence();
      ev->set_log_index(e.index);
      ev->set_event_id(e.event_id);
    }
    f->set_judged_at_tree_size(current_index_ + 1);
    f->set_summary(d.summary);
    f->set_claim_id(d.claim_id);
    f->set_rule_kind(spec.kind);
    out_->push_back(std::move(env));
  }

  // ---- State ----
  EngineSnapshot Snapshot() const {
    EngineSnapshot s;
    s.rule_set_hash = rule_set_.sha256_hex;
    s.has_last_index = has_last_index_;
    s.last_index = last_index_;
    Encoder e;
    e.U64(kGlobalFormat);
    e.Bool(has_watermark_);
    e.I64(watermark_);
    e.Bool(has_tick_);
    e.I64(last_tick_day_);
    e.I64(last_visits_tick_day_);
    e.U64(visits_feed_.size());
    for (const auto& [partition, wm] : visits_feed_) {
      e.I64(partition);
      e.I64(wm);
    }
    e.I64(complete_until_);
    std::vector<std::string_view> bids(known_baselines_.begin(), known_baselines_.end());
    std::sort(bids.begin(), bids.end());
    e.U64(bids.size());
    for (auto id : bids) e.Str(id);
    std::vector<std::string_view> ids(known_flags_.begin(), known_flags_.end());
    std::sort(ids.begin(), ids.end());
    e.U64(ids.size());
    for (auto id : ids) e.Str(id);
    e.U64(rules_.size());
    for (const auto& r : rules_) {
      Encoder re;
      r->EncodeGlobal(&re);
      e.Str(r->spec().id);
      e.Str(re.out());
    }
    s.global = std::move(e.out());
    for (const auto& [code, p] : practices_) {
      Encoder pe;
      p.Encode(&pe);
      s.practices.emplace_back(code, std::move(pe.out()));
    }
    return s;
  }

  Status Restore(const EngineSnapshot& s) {
    if (has_last_index_ || !practices_.empty())
      return FailedPrecondition("Restore requires a fresh engine");
    if (s.rule_set_hash != rule_set_.sha256_hex) {
      return FailedPrecondition("saved rules state belongs to rule set " + s.rule_set_hash +
                                ", the engine runs " + rule_set_.sha256_hex);
    }
    Decoder d(s.global);
    uint64_t format = 0, n = 0;
    bool has_wm = false, has_tick = false;
    int64_t wm = 0, tick = 0;
    if (!d.U64(&format) || format < 1 || format > kGlobalFormat) {
      return DataLoss("rules state: unknown global format");
    }
    if (!d.Bool(&has_wm) || !d.I64(&wm) || !d.Bool(&has_tick) || !d.I64(&tick)) {
      return DataLoss("rules state: global state truncated");
    }
    int64_t vtick = INT64_MIN / 4;
    std::map<int32_t, int64_t> visits_feed;
    if (format >= 2) {
      uint64_t parts = 0;
      if (!d.I64(&vtick) || !d.Count(&parts))
        return DataLoss("rules state: global state truncated");
      for (uint64_t i = 0; i < parts; ++i) {
        int64_t partition = 0, pwm = 0;
        if (!d.I64(&partition) || !d.I64(&pwm))
          return DataLoss("rules state: visits feed truncated");
        visits_feed[static_cast<int32_t>(partition)] = pwm;
      }
    }
    int64_t complete_until = kNoTime;
    std::unordered_set<std::string> baselines;
    if (format >= 3) {
      uint64_t nb = 0;
      if (!d.I64(&complete_until) || !d.Count(&nb))
        return DataLoss("rules state: global state truncated");
      for (uint64_t i = 0; i < nb; ++i) {
        std::string id;
        if (!d.Str(&id)) return DataLoss("rules state: baseline ids truncated");
        baselines.insert(std::move(id));
      }
    }
    if (!d.Count(&n)) return DataLoss("rules state: global state truncated");
    std::unordered_set<std::string> known;
    for (uint64_t i = 0; i < n; ++i) {
      std::string id;
      if (!d.Str(&id)) return DataLoss("rules state: flag ids truncated");
      known.insert(std::move(id));
    }
    if (!d.Count(&n) || n != rules_.size()) return DataLoss("rules state: rule count mismatch");
    std::vector<std::string> rule_blobs(n);
    for (uint64_t i = 0; i < n; ++i) {
      std::string id;
      if (!d.Str(&id) || !d.Str(&rule_blobs[i]) || id != rules_[i]->spec().id) {
        return DataLoss("rules state: rule state mismatch");
      }
    }
    if (!d.done()) return DataLoss("rules state: trailing bytes in global state");
    PracticeMap practices;
    for (const auto& [code, blob] : s.practices) {
      Practice p;
      Decoder pd(blob);
      if (!p.Decode(&pd) || !pd.done() || p.code != code)
        return DataLoss("rules state: practice " + code + " corrupt");
      practices.emplace(code, std::move(p));
    }
    // Decode rule cursors last; rules are only touched once everything else decoded.
    std::vector<std::unique_ptr<internal::Rule>> fresh;
    for (size_t i = 0; i < rules_.size(); ++i) {
      auto r = internal::MakeRule(rules_[i]->spec());
      Decoder rd(rule_blobs[i]);
      if (!r->DecodeGlobal(&rd) || !rd.done())
        return DataLoss("rules state: rule " + r->spec().id + " corrupt");
      fresh.push_back(std::move(r));
    }
    rules_ = std::move(fresh);
    cached_ = nullptr;
    practices_ = std::move(practices);
    known_flags_ = std::move(known);
    has_watermark_ = has_wm;
    watermark_ = wm;
    has_tick_ = has_tick;
    last_tick_day_ = tick;
    last_visits_tick_day_ = vtick;
    visits_feed_ = std::move(visits_feed);
    complete_until_ = complete_until;
    known_baselines_ = std::move(baselines);
    has_last_index_ = s.has_last_index;
    last_index_ = s.last_index;
    return Status::Ok();
  }

  const RuleSet& rule_set() const { return rule_set_; }
  bool has_last_index_ = false;
  uint64_t last_index_ = 0;

 private:
  Practice& PracticeFor(const std::string& code) {
    if (cached_ != nullptr && cached_->code == code) return *cached_;
    auto it = practices_.find(code);
    if (it == practices_.end()) {
      it = practices_.emplace(code, Practice{}).first;
      it->second.code = code;
    }
    cached_ = &it->second;
    return it->second;
  }

  void Apply(Practice& p, const LogEvent& ev) {
    const Envelope& env = ev.envelope;
    const int64_t t = env.occurred_at().seconds();
    const int64_t day = DayOf(t);
    switch (env.payload_case()) {
      case Envelope::kClaim:
        ApplyClaim(p, ev, env.claim());
        break;
      case Envelope::kReferral:
        p.referrals.Add(day, 1);
        p.last_referral = RefOf(ev);
        for (auto& r : rules_) r->OnActivity(probity::v1::EVENT_KIND_REFERRAL, day);
        break;
      case Envelope::kPatientContact: {
        const auto& c = env.patient_contact();
        if (c.attendance() == probity::v1::ATTENDANCE_DNA) break;
        uint64_t n = c.count() == 0 ? 1 : c.count();
        bool counted = false;
        if (c.mode() == probity::v1::CONTACT_MODE_HOME_VISIT)
          p.home_visits.Add(day, n), counted = true;
        if (c.out_of_hours()) p.out_of_hours.Add(day, n), counted = true;
        if (counted) p.last_contact = RefOf(ev);
        for (auto& r : rules_) r->OnActivity(probity::v1::EVENT_KIND_PATIENT_CONTACT, day);
        break;
      }
      case Envelope::kMonitoringVisit: {
        const auto& v = env.monitoring_visit();
        if (!p.has_visit || t >= p.last_visit) {
          p.has_visit = true;
          p.last_visit = t;
          p.last_visit_ref = RefOf(ev);
        }
        if ((v.outcome() == probity::v1::MONITORING_OUTCOME_REMEDIAL_NOTICE ||
             v.outcome() == probity::v1::MONITORING_OUTCOME_BREACH_NOTICE) &&
            v.has_remedy_due_at()) {
          internal::Notice n;
          n.visit_id = v.visit_id().empty() ? env.event_id() : v.visit_id();
          n.notice_time = v.has_notice_issued_at() ? v.notice_issued_at().seconds() : t;
          n.due = v.remedy_due_at().seconds();
          n.ref = RefOf(ev);
          p.notices.push_back(std::move(n));
        }
        if (v.type() == probity::v1::MONITORING_VISIT_TYPE_REMEDIAL_FOLLOW_UP) {
          p.follow_ups.insert(std::upper_bound(p.follow_ups.begin(), p.follow_ups.end(), t), t);
        }
        for (auto& r : rules_) r->OnVisit(*this, p, ev);
        break;
      }
      case Envelope::kPracticeUpdate: {
        const auto& u = env.practice_update();
        p.has_reference = true;
        p.list_size = u.list_size();
        p.weighted_list_size = u.weighted_list_size();
        if (!u.icb_code().empty()) p.icb_code = u.icb_code();
        p.dispensing = u.dispensing();
        p.contract_type = u.contract_type();
        p.closed = u.closed();
        p.reference_ref = RefOf(ev);
        internal::ListPoint lp{t, u.list_size(), !u.merged_from_practice_code().empty(), RefOf(ev)};
        auto pos =
            std::upper_bound(p.list_history.begin(), p.list_history.end(), t,
                             [](int64_t x, const internal::ListPoint& q) { return x < q.time; });
        p.list_history.insert(pos, std::move(lp));
        // Keep 400 days behind the newest point.
        int64_t cutoff = p.list_history.back().time - 400 * kSecondsPerDay;
        auto keep = std::find_if(p.list_history.begin(), p.list_history.end(),
                                 [&](const internal::ListPoint& q) { return q.time >= cutoff; });
        p.list_history.erase(p.list_history.begin(), keep);
        for (auto& r : rules_) r->OnPracticeUpdate(*this, p, ev);
        break;
      }
      default:
        break;
    }
  }

  void ApplyClaim(Practice& p, const LogEvent& ev, const probity::v1::Claim& c) {
    auto it = p.claims.find(c.claim_id());
    const ClaimRec* prior = it == p.claims.end() ? nullptr : &it->second;
    for (auto& r : rules_) r->OnClaim(*this, p, ev, c, prior);
    const int64_t t = ev.envelope.occurred_at().seconds();
    const bool live = c.status() != probity::v1::CLAIM_STATUS_REJECTED &&
                      c.status() != probity::v1::CLAIM_STATUS_WITHDRAWN;
    ClaimRec& rec = it == p.claims.end() ? p.claims[c.claim_id()] : it->second;
    if (it == p.claims.end()) rec.first = RefOf(ev);
    if (rec.counted) p.monthly[rec.month][static_cast<size_t>(rec.stream)] -= rec.amount_pence;
    rec.amount_pence = c.amount_pence();
    rec.stream = std::clamp<int32_t>(c.stream(), 0, internal::kStreams - 1);
    // A claim counts in the month its period ends in (the month it pays for); occurred_at when it
    // has no period. It stays in the month first counted.
    if (!rec.counted) {
      rec.month = c.has_period_end() && c.period_end().seconds() > c.period_start().seconds()
                      ? MonthOf(c.period_end().seconds() - 1)
                      : MonthOf(t);
    }
    rec.status = c.status();
    rec.ever_paid = rec.ever_paid || c.status() == probity::v1::CLAIM_STATUS_PAID;
    rec.last = RefOf(ev);
    rec.counted = live;
    if (live) p.monthly[rec.month][static_cast<size_t>(rec.stream)] += rec.amount_pence;
    for (auto& r : rules_) r->OnActivity(probity::v1::EVENT_KIND_CLAIM, DayOf(t));
    if (live && !c.patient_ref().empty() && !c.service_code().empty() && it == p.claims.end()) {
      std::string key = c.service_code();
      key.push_back('\0');
      key += c.patient_ref();
      int64_t st = c.has_period_start() ? c.period_start().seconds() : t;
      p.patient_claims[key].push_back({st, c.claim_id(), RefOf(ev)});
    }
    if (live && c.stream() == probity::v1::PAYMENT_STREAM_QOF_ACHIEVEMENT) {
      int64_t fy = FinancialYearOf(c.has_period_start() ? c.period_start().seconds() : t);
      p.qof[fy][c.indicator_code()] = {c.points_claimed(), RefOf(ev)};
    }
  }

  RuleSet rule_set_;
  EngineOptions options_;
  std::vector<std::unique_ptr<internal::Rule>> rules_;
  PracticeMap practices_;
  Practice* cached_ = nullptr;
  std::unordered_set<std::string> known_flags_;
  bool has_watermark_ = false;
  int64_t watermark_ = 0;
  bool has_tick_ = false;
  int64_t last_tick_day_ = 0;
  // The visits feed (probity.visits.v1): each partition's watermark. Timers that judge the
  // absence of a visit use the lowest, so a partition read behind the others cannot make a visit
  // look missing (docs/rules.md).
  std::map<int32_t, int64_t> visits_feed_;
  int64_t last_visits_tick_day_ = INT64_MIN / 4;
  // data_complete_until of the latest END_OF_DATA entry (kNoTime when none).
  int64_t complete_until_ = kNoTime;
  // Ids of Baseline entries emitted or seen in the log.
  std::unordered_set<std::string> known_baselines_;
  uint64_t current_index_ = 0;
  std::vector<Envelope>* out_ = nullptr;
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

StatusOr<std::unique_ptr<Engine>> Engine::Create(RuleSet rule_set, EngineOptions options) {
  auto impl = std::make_unique<Impl>(std::move(rule_set), options);
  PROBITY_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Status Engine::Process(const LogEvent& event, std::vector<Envelope>* flags) {
  try {
    return impl_->Process(event, flags);
  } catch (const std::exception& e) {
    return Internal(std::string("rules engine: ") + e.what());
  }
}
bool Engine::has_processed() const { return impl_->has_last_index_; }
uint64_t Engine::last_index() const { return impl_->last_index_; }
const RuleSet& Engine::rule_set() const { return impl_->rule_set(); }
EngineSnapshot Engine::Snapshot() const { return impl_->Snapshot(); }
Status Engine::Restore(const EngineSnapshot& snapshot) {
  try {
    return impl_->Restore(snapshot);
  } catch (const std::exception& e) {
    return DataLoss(std::string("rules state: ") + e.what());
  }
}

}  // namespace probity::rules
