#include "services/payments/payments.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <filesystem>

#include "common/bus/topics.h"
#include "common/crypto/sha256.h"
#include "common/follow/runtime.h"
#include "common/time/proto_time.h"
#include "services/rules/engine.h"
#include "services/rules/kinds.h"
#include "services/rules/state_codec.h"
#include "services/rules/time_util.h"

namespace probity::payments {
namespace {

using rules::internal::Decoder;
using rules::internal::Encoder;

constexpr uint64_t kStateFormat = 1;
constexpr int64_t kSecondsPerDay = rules::kSecondsPerDay;
constexpr size_t kMaxReasonPart = 1000;

enum class State : uint8_t { kPending, kApproved, kHeld, kReleased, kWithheld, kReversed, kClosed };

enum class FlagState : uint8_t { kOpen, kUpheld, kDismissed };

struct ClaimRec {
  std::string practice;
  std::string icb;
  int32_t stream = 0;
  int32_t status = 0;
  int64_t amount = 0;
  int64_t time = 0;  // occurred_at of the latest version, seconds: the approval wait starts here
  uint64_t index = 0;
  State state = State::kPending;
  std::set<std::string> open;    // undecided flags on it (holding it, or watching a paid claim)
  std::set<std::string> upheld;  // upheld flags on it
  std::string last_instruction;
  std::string last_rule;  // rule id of the flag behind the state, for money by rule

  void Encode(Encoder* e) const {
    e->Str(practice);
    e->Str(icb);
    e->I64(stream);
    e->I64(status);
    e->I64(amount);
    e->I64(time);
    e->U64(index);
    e->U64(static_cast<uint64_t>(state));
    for (const auto* s : {&open, &upheld}) {
      e->U64(s->size());
      for (const auto& f : *s) e->Str(f);
    }
    e->Str(last_instruction);
    e->Str(last_rule);
  }
  bool Decode(Decoder* d) {
    int64_t st = 0, sts = 0;
    uint64_t state_u = 0;
    if (!(d->Str(&practice) && d->Str(&icb) && d->I64(&st) && d->I64(&sts) && d->I64(&amount) &&
          d->I64(&time) && d->U64(&index) && d->U64(&state_u)) ||
        state_u > static_cast<uint64_t>(State::kClosed))
      return false;
    stream = static_cast<int32_t>(st);
    status = static_cast<int32_t>(sts);
    state = static_cast<State>(state_u);
    for (auto* s : {&open, &upheld}) {
      uint64_t n = 0;
      if (!d->Count(&n)) return false;
      for (uint64_t i = 0; i < n; ++i) {
        std::string f;
        if (!d->Str(&f)) return false;
        s->insert(std::move(f));
      }
    }
    return d->Str(&last_instruction) && d->Str(&last_rule) && d->done();
  }
};

struct FlagRec {
  std::string practice;
  std::string rule_id;
  std::string kind;
  int32_t severity = 0;
  std::string claim_id;  // the claim it names, if any
  std::string summary;
  uint64_t index = 0;
  FlagState state = FlagState::kOpen;
  bool scoped = false;  // a policy has decided what it holds
  Scope scope = Scope::kNone;
  std::vector<int32_t> streams;  // kPracticeStream: the streams held
  std::set<std::string> claims;  // claims it holds or watches
  std::string decision_event_id;
  uint64_t decision_index = 0;
  std::string decision_text;  // "by <who>: <reason>", for instruction reasons

  void Encode(Encoder* e) const {
    for (const auto* s : {&practice, &rule_id, &kind}) e->Str(*s);
    e->I64(severity);
    e->Str(claim_id);
    e->Str(summary);
    e->U64(index);
    e->U64(static_cast<uint64_t>(state));
    e->Bool(scoped);
    e->U64(static_cast<uint64_t>(scope));
    e->U64(streams.size());
    for (int32_t s : streams) e->I64(s);
    e->U64(claims.size());
    for (const auto& c : claims) e->Str(c);
    e->Str(decision_event_id);
    e->U64(decision_index);
    e->Str(decision_text);
  }
  bool Decode(Decoder* d) {
    int64_t sev = 0;
    uint64_t st = 0, sc = 0, n = 0;
    if (!(d->Str(&practice) && d->Str(&rule_id) && d->Str(&kind) && d->I64(&sev) &&
          d->Str(&claim_id) && d->Str(&summary) && d->U64(&index) && d->U64(&st) &&
          d->Bool(&scoped) && d->U64(&sc) && d->Count(&n)) ||
        st > 2 || sc > 2)
      return false;
    severity = static_cast<int32_t>(sev);
    state = static_cast<FlagState>(st);
    scope = static_cast<Scope>(sc);
    for (uint64_t i = 0; i < n; ++i) {
      int64_t s = 0;
      if (!d->I64(&s)) return false;
      streams.push_back(static_cast<int32_t>(s));
    }
    if (!d->Count(&n)) return false;
    for (uint64_t i = 0; i < n; ++i) {
      std::string c;
      if (!d->Str(&c)) return false;
      claims.insert(std::move(c));
    }
    return d->Str(&decision_event_id) && d->U64(&decision_index) && d->Str(&decision_text) &&
           d->done();
  }
};

bool IsInputKind(v1::EventKind k) {
  return k == v1::EVENT_KIND_CLAIM || k == v1::EVENT_KIND_REFERRAL ||
         k == v1::EVENT_KIND_PATIENT_CONTACT || k == v1::EVENT_KIND_MONITORING_VISIT ||
         k == v1::EVENT_KIND_PRACTICE_UPDATE;
}

bool Live(int32_t status) {
  return status != v1::CLAIM_STATUS_REJECTED && status != v1::CLAIM_STATUS_WITHDRAWN;
}

std::string Cap(std::string_view s) {
  return std::string(s.size() > kMaxReasonPart ? s.substr(0, kMaxReasonPart) : s);
}

std::string ActionName(v1::PaymentAction a) {
  std::string n = v1::PaymentAction_Name(a);
  return n.rfind("PAYMENT_ACTION_", 0) == 0 ? n.substr(15) : n;
}

std::string SeverityName(int32_t s) {
  std::string n = v1::Severity_Name(static_cast<v1::Severity>(s));
  std::string out = n.rfind("SEVERITY_", 0) == 0 ? n.substr(9) : n;
  std::transform(out.begin(), out.end(), out.begin(), ::tolower);
  return out;
}

void AddField(std::string* buf, std::string_view f) {
  buf->append(std::to_string(f.size()));
  buf->push_back(':');
  buf->append(f);
}

}  // namespace

std::string SerializeInstruction(const v1::Envelope& envelope) {
  return rules::SerializeDeterministic(envelope);
}

struct PaymentsFollower::Impl {
  Options options;
  std::optional<HoldPolicy> publish;
  std::unique_ptr<rocksdb::DB> db;

  // ---- State (saved) ----
  bool has_watermark = false;
  int64_t watermark = 0;
  std::optional<HoldPolicy> policy;  // the latest published in the log
  std::map<std::string, ClaimRec, std::less<>> claims;
  std::map<std::string, FlagRec, std::less<>> flags;
  std::map<std::string, std::string, std::less<>> icb_of;  // practice -> ICB
  // ---- Indexes (rebuilt at Restore) ----
  std::set<std::pair<int64_t, std::string>> due;  // (time, claim id) of PENDING claims
  // practice -> its claims in PENDING or HELD (what a practice-stream flag holds when raised)
  std::map<std::string, std::set<std::string>> unpaid_by_practice;
  // practice -> stream -> open practice-stream flags holding new claims
  std::map<std::string, std::map<int32_t, std::set<std::string>>> practice_holds;
  std::map<std::string, std::set<std::string>> waiting;  // claim id not yet seen -> flags naming it
  // ---- Dirty records, written by Save ----
  std::set<std::string> dirty_claims, dirty_flags, dirty_practices;
  // ---- This process ----
  PaymentsStats stats;
  // The entry being applied.
  uint64_t cur_index = 0;
  int64_t cur_time = 0;
  follow::Publisher* out = nullptr;
  Status publish_status;

  // ---- Index maintenance ----
  void Unqueue(const std::string& id, const ClaimRec& c) { due.erase({c.time, id}); }
  void Queue(const std::string& id, const ClaimRec& c) { due.insert({c.time, id}); }
  static bool Unpaid(State s) { return s == State::kPending || s == State::kHeld; }
  // Keeps unpaid_by_practice to the claims in PENDING or HELD.
  void Track(const std::string& id, const ClaimRec& c, bool in) {
    if (in) {
      unpaid_by_practice[c.practice].insert(id);
      return;
    }
    auto it = unpaid_by_practice.find(c.practice);
    if (it == unpaid_by_practice.end()) return;
    it->second.erase(id);
    if (it->second.empty()) unpaid_by_practice.erase(it);
  }
  void SetState(const std::string& id, ClaimRec& c, State s) {
    if (c.state == State::kPending && s != State::kPending) Unqueue(id, c);
    if (Unpaid(c.state) != Unpaid(s)) Track(id, c, Unpaid(s));
    c.state = s;
    dirty_claims.insert(id);
  }

  int64_t LogTime() const { return has_watermark ? watermark : cur_time; }

  // ---- Instructions ----
  void Emit(const std::string& id, ClaimRec& c, v1::PaymentAction action, const FlagRec* flag,
            const std::string& flag_id, bool with_decision, std::string reason) {
    std::string key;
    AddField(&key, "probity-payments/1");
    AddField(&key, id);
    AddField(&key, std::to_string(cur_index));
    AddField(&key, ActionName(action));
    const std::string instruction_id = crypto::Sha256Hex(key);
    v1::Envelope env;
    env.set_event_id(instruction_id);
    env.set_kind(v1::EVENT_KIND_PAYMENT_INSTRUCTION);
    env.set_schema_version(1);
    env.set_practice_code(c.practice);
    env.mutable_occurred_at()->set_seconds(LogTime());
    env.mutable_recorded_at()->set_seconds(LogTime());
    env.set_source_system("probity-payments");
    auto* pi = env.mutable_payment_instruction();
    pi->set_instruction_id(instruction_id);
    pi->set_claim_id(id);
    pi->set_action(action);
    if (flag != nullptr) {
      pi->set_flag_id(flag_id);
      pi->set_flag_log_index(flag->index);
      if (with_decision && !flag->decision_event_id.empty()) {
        pi->set_decision_event_id(flag->decision_event_id);
        pi->set_decision_log_index(flag->decision_index);
      }
    }
    pi->set_amount_pence(c.amount);
    pi->set_reason(std::move(reason));
    pi->set_stream(static_cast<v1::PaymentStream>(c.stream));
    pi->set_paycode(policy->Paycode(c.stream));
    pi->set_supersedes_instruction_id(c.last_instruction);
    pi->set_payment_date(policy->PaymentDate(LogTime()));
    pi->set_policy_version(policy->label());
    pi->set_policy_sha256_hex(policy->sha256_hex);
    pi->set_icb_code(c.icb);
    pi->set_claim_log_index(c.index);
    pi->set_caused_by_index(cur_index);
    c.last_instruction = instruction_id;
    if (flag != nullptr) c.last_rule = flag->rule_id;
    dirty_claims.insert(id);
    ++stats.instructions;
    ++stats.by_action[ActionName(action)];
    if (publish_status.ok()) {
      publish_status = out->Publish(bus::kPaymentInstructionsTopic, id, SerializeInstruction(env));
    }
  }

  // The flag behind a change: the one decided by the current entry when it touches the claim,
  // else the earliest-logged of `set`.
  const FlagRec* Pick(const std::set<std::string>& set, const std::string& preferred,
                      std::string* id) const {
    if (!preferred.empty() && set.count(preferred)) {
      *id = preferred;
      return &flags.at(preferred);
    }
    const FlagRec* best = nullptr;
    for (const auto& f : set) {
      const FlagRec& r = flags.at(f);
      if (best == nullptr || r.index < best->index) {
        best = &r;
        *id = f;
      }
    }
    return best;
  }

  std::string Describe(const FlagRec& f) const {
    return "flag " + f.rule_id + " (" + f.kind + ", " + SeverityName(f.severity) + ")";
  }

  // Brings the claim's state in line with its flags, emitting the one instruction of the change.
  // `decided`: the flag decided by the current entry, if any.
  void Reconcile(const std::string& id, ClaimRec& c, const std::string& decided) {
    if (c.state == State::kClosed || !policy) return;
    std::string fid;
    if (!c.upheld.empty()) {
      const FlagRec* f = Pick(c.upheld, decided, &fid);
      if (c.state == State::kApproved || c.state == State::kReleased) {
        SetState(id, c, State::kReversed);
        Emit(id, c, v1::PAYMENT_ACTION_REVERSE, f, fid, true,
             "reverse: " + Describe(*f) + " upheld after the claim was paid " + f->decision_text);
      } else if (c.state == State::kHeld || c.state == State::kPending) {
        SetState(id, c, State::kWithheld);
        Emit(id, c, v1::PAYMENT_ACTION_WITHHOLD, f, fid, true,
             "withhold: " + Describe(*f) + " upheld " + f->decision_text);
      }
      return;
    }
    if (!c.open.empty()) {
      if (c.state == State::kPending || c.state == State::kWithheld ||
          c.state == State::kReversed) {
        const bool again = c.state != State::kPending;
        const FlagRec* f = Pick(c.open, "", &fid);
        SetState(id, c, State::kHeld);
        Emit(id, c, v1::PAYMENT_ACTION_HOLD, f, fid, again,
             (again ? "hold again: the upholding decision was superseded and " : "hold: ") +
                 Describe(*f) + " stands: " + Cap(f->summary));
      }
      return;
    }
    if (c.state == State::kHeld || c.state == State::kWithheld || c.state == State::kReversed) {
      std::string prev;
      const FlagRec* f = decided.empty() ? nullptr : &flags.at(decided);
      SetState(id, c, State::kReleased);
      Emit(id, c, v1::PAYMENT_ACTION_RELEASE, f, decided, true,
           f == nullptr ? std::string("release: no flag stands on the claim")
                        : "release: every flag on the claim is dismissed (last: " + Describe(*f) +
                              " dismissed " + f->decision_text + ")");
    }
  }

  // ---- Flags ----
  // Decides what an open flag holds under the policy in force and attaches it.
  void ScopeFlag(const std::string& fid, FlagRec& f) {
    if (f.scoped || !policy || f.state != FlagState::kOpen) return;
    const HoldRule* entry = nullptr;
    f.scope = policy->ScopeFor(f.rule_id, f.kind, f.severity, &entry);
    f.scoped = true;
    dirty_flags.insert(fid);
    if (f.scope == Scope::kClaim) {
      if (f.claim_id.empty()) return;  // a flag naming no claim holds nothing under claim scope
      auto it = claims.find(f.claim_id);
      if (it == claims.end()) {
        waiting[f.claim_id].insert(fid);
        return;
      }
      Attach(fid, f, it->first, it->second);
    } else if (f.scope == Scope::kPracticeStream) {
      if (entry != nullptr && !entry->streams.empty()) {
        f.streams = entry->streams;
      } else if (auto it = claims.find(f.claim_id); it != claims.end()) {
        f.streams = {it->second.stream};
      } else {
        for (int32_t s = 1; s <= v1::PaymentStream_MAX; ++s) f.streams.push_back(s);
      }
      for (int32_t s : f.streams) practice_holds[f.practice][s].insert(fid);
      // Every claim of the practice in those streams not yet paid (pending, or held by another).
      std::vector<std::string> ids;
      if (auto it = unpaid_by_practice.find(f.practice); it != unpaid_by_practice.end()) {
        for (const auto& id : it->second) {
          if (std::count(f.streams.begin(), f.streams.end(), claims.at(id).stream))
            ids.push_back(id);
        }
      }
      for (const auto& id : ids) Attach(fid, f, id, claims.at(id));
    }
  }

  void Attach(const std::string& fid, FlagRec& f, const std::string& id, ClaimRec& c) {
    if (c.state == State::kClosed) return;
    f.claims.insert(id);
    dirty_flags.insert(fid);
    if (f.state == FlagState::kOpen) c.open.insert(fid);
    if (f.state == FlagState::kUpheld) c.upheld.insert(fid);
    dirty_claims.insert(id);
    Reconcile(id, c, "");
  }

  void OnFlag(const v1::Envelope& env) {
    const v1::Flag& fl = env.flag();
    const std::string fid = fl.flag_id().empty() ? env.event_id() : fl.flag_id();
    if (fl.rule_kind() == rules::kHoldEscalation) return;  // about a hold: holds nothing
    if (flags.count(fid)) return;                          // a flag is raised once
    FlagRec& f = flags[fid];
    f.practice = env.practice_code();
    f.rule_id = fl.rule_id();
    f.kind = fl.rule_kind();
    f.severity = fl.severity();
    f.claim_id = fl.claim_id();
    f.summary = fl.summary();
    f.index = cur_index;
    dirty_flags.insert(fid);
    if (!fl.icb_code().empty() && !icb_of.count(f.practice)) {
      icb_of[f.practice] = fl.icb_code();
      dirty_practices.insert(f.practice);
    }
    ScopeFlag(fid, f);
  }

  void OnDecision(const v1::Envelope& env, uint64_t index) {
    const v1::FlagDecision& d = env.flag_decision();
    auto it = flags.find(d.flag_id());
    if (it == flags.end()) return;
    if (d.outcome() != v1::DECISION_OUTCOME_UPHOLD && d.outcome() != v1::DECISION_OUTCOME_DISMISS)
      return;  // ACKNOWLEDGE: seen, being looked at; changes no payment
    const std::string& fid = it->first;
    FlagRec& f = it->second;
    const bool uphold = d.outcome() == v1::DECISION_OUTCOME_UPHOLD;
    const FlagState next = uphold ? FlagState::kUpheld : FlagState::kDismissed;
    if (f.state == next) return;  // the same outcome again changes nothing
    f.state = next;
    f.decision_event_id = env.event_id();
    f.decision_index = index;
    f.decision_text = "by " +
                      (d.decided_by().empty() ? std::string("(unnamed)") : Cap(d.decided_by())) +
                      ": " + Cap(d.reason());
    dirty_flags.insert(fid);
    if (f.scope == Scope::kPracticeStream) {
      for (int32_t s : f.streams) {
        auto pit = practice_holds.find(f.practice);
        if (pit == practice_holds.end()) break;
        pit->second[s].erase(fid);
        if (pit->second[s].empty()) pit->second.erase(s);
        if (pit->second.empty()) practice_holds.erase(pit);
      }
    }
    for (const auto& id : f.claims) {
      ClaimRec& c = claims.at(id);
      c.open.erase(fid);
      if (uphold) {
        c.upheld.insert(fid);
      } else {
        c.upheld.erase(fid);
      }
      dirty_claims.insert(id);
      Reconcile(id, c, fid);
    }
  }

  // ---- Claims ----
  void OnClaim(const v1::Envelope& env, uint64_t index) {
    const v1::Claim& cl = env.claim();
    const std::string& id = cl.claim_id();
    auto [it, fresh] = claims.try_emplace(id);
    ClaimRec& c = it->second;
    dirty_claims.insert(id);
    if (!fresh) {
      // A resubmission: the latest amount counts. A pending claim waits again from its new time
      // (the rules judge a resubmission when it arrives); any other state is kept.
      const bool pending = c.state == State::kPending;
      if (pending) Unqueue(id, c);
      c.amount = cl.amount_pence();
      c.status = cl.status();
      c.index = index;
      if (pending) {
        c.time = env.occurred_at().seconds();
        if (Live(c.status)) {
          Queue(id, c);
        } else {
          SetState(id, c, State::kClosed);
        }
      }
      return;
    }
    ++stats.claims;
    c.practice = env.practice_code();
    if (auto p = icb_of.find(c.practice); p != icb_of.end()) c.icb = p->second;
    c.stream = cl.stream();
    c.status = cl.status();
    c.amount = cl.amount_pence();
    c.time = env.occurred_at().seconds();
    c.index = index;
    if (!Live(c.status)) {
      c.state = State::kClosed;
      return;
    }
    c.state = State::kPending;
    Queue(id, c);
    Track(id, c, true);
    // Flags that named it before it arrived, and open practice-stream holds.
    std::set<std::string> attach;
    if (auto w = waiting.find(id); w != waiting.end()) {
      attach = std::move(w->second);
      waiting.erase(w);
    }
    if (auto p = practice_holds.find(c.practice); p != practice_holds.end()) {
      if (auto s = p->second.find(c.stream); s != p->second.end())
        attach.insert(s->second.begin(), s->second.end());
    }
    for (const auto& fid : attach) Attach(fid, flags.at(fid), id, c);
  }

  void ApproveDue() {
    if (!policy || !has_watermark) return;
    const int64_t wait = policy->approve_after_days * kSecondsPerDay;
    while (!due.empty() && due.begin()->first + wait <= watermark) {
      const std::string id = due.begin()->second;
      ClaimRec& c = claims.at(id);
      SetState(id, c, State::kApproved);
      c.last_rule.clear();
      Emit(id, c, v1::PAYMENT_ACTION_APPROVE, nullptr, "", false,
           "approve: no flag on the claim " + std::to_string(policy->approve_after_days) +
               " days after it (log time)");
    }
  }

  void OnPolicy(const v1::Envelope& env) {
    auto parsed = ParseHoldPolicy(env.hold_policy().yaml_content());
    if (!parsed.ok()) return;  // a policy payments cannot read changes nothing (docs/payments.md)
    const bool first = !policy;
    policy = std::move(parsed).value();
    stats.policy = policy->label();
    if (first) {
      // Flags logged before any policy are judged now, in log order.
      std::vector<std::pair<uint64_t, std::string>> order;
      for (const auto& [fid, f] : flags) {
        if (!f.scoped && f.state == FlagState::kOpen) order.emplace_back(f.index, fid);
      }
      std::sort(order.begin(), order.end());
      for (const auto& [i, fid] : order) ScopeFlag(fid, flags.at(fid));
    }
  }

  Status Apply(const follow::Event& ev, follow::Publisher* publisher) {
    out = publisher;
    publish_status = Status::Ok();
    cur_index = ev.index;
    const v1::Envelope& env = *ev.envelope;
    cur_time = env.occurred_at().seconds();
    const auto kind = env.kind();
    if (IsInputKind(kind) && !env.practice_code().empty()) {
      int64_t wm = env.occurred_at().seconds();
      if (ev.record->has_received_at() && ev.record->received_at().seconds() > 0)
        wm = std::min(wm, ev.record->received_at().seconds() + kSecondsPerDay);
      if (!has_watermark || wm > watermark) {
        watermark = wm;
        has_watermark = true;
      }
    }
    switch (kind) {
      case v1::EVENT_KIND_CLAIM:
        if (env.has_claim() && !env.claim().claim_id().empty()) OnClaim(env, ev.index);
        break;
      case v1::EVENT_KIND_PRACTICE_UPDATE:
        if (!env.practice_update().icb_code().empty() &&
            icb_of[env.practice_code()] != env.practice_update().icb_code()) {
          icb_of[env.practice_code()] = env.practice_update().icb_code();
          dirty_practices.insert(env.practice_code());
        }
        break;
      case v1::EVENT_KIND_FLAG:
        if (env.has_flag()) OnFlag(env);
        break;
      case v1::EVENT_KIND_FLAG_DECISION:
        if (env.has_flag_decision()) OnDecision(env, ev.index);
        break;
      case v1::EVENT_KIND_HOLD_POLICY:
        if (env.has_hold_policy()) OnPolicy(env);
        break;
      default:
        break;
    }
    ApproveDue();
    stats.next_index = ev.index + 1;
    out = nullptr;
    return publish_status;
  }

  // ---- Persistence ----
  std::string EncodeMeta(uint64_t next_index) const {
    Encoder e;
    e.U64(kStateFormat);
    e.U64(next_index);
    e.Bool(has_watermark);
    e.I64(watermark);
    e.Bool(policy.has_value());
    e.Str(policy ? policy->yaml_content : "");
    return e.out();
  }

  Status Save(uint64_t next_index) {
    if (!db) return Status::Ok();
    rocksdb::WriteBatch batch;
    for (const auto& id : dirty_claims) {
      Encoder e;
      claims.at(id).Encode(&e);
      batch.Put("c/" + id, e.out());
    }
    for (const auto& id : dirty_flags) {
      Encoder e;
      flags.at(id).Encode(&e);
      batch.Put("f/" + id, e.out());
    }
    for (const auto& p : dirty_practices) batch.Put("p/" + p, icb_of.at(p));
    batch.Put("meta", EncodeMeta(next_index));
    rocksdb::Status s = db->Write(rocksdb::WriteOptions(), &batch);
    if (!s.ok()) return IoError("payments state: save failed: " + s.ToString());
    dirty_claims.clear();
    dirty_flags.clear();
    dirty_practices.clear();
    return Status::Ok();
  }

  // Forgets everything in memory (a restore starts from the saved state alone).
  void Clear() {
    has_watermark = false;
    watermark = 0;
    policy.reset();
    claims.clear();
    flags.clear();
    icb_of.clear();
    due.clear();
    unpaid_by_practice.clear();
    practice_holds.clear();
    waiting.clear();
    dirty_claims.clear();
    dirty_flags.clear();
    dirty_practices.clear();
    stats.policy.clear();
  }

  StatusOr<uint64_t> Restore() {
    if (options.state_dir.empty()) {
      // In memory only: nothing saved to go back to. A fresh follower starts at 0.
      if (stats.next_index != 0)
        return FailedPrecondition("payments: an in-memory follower cannot be restored");
      return uint64_t{0};
    }
    Clear();
    rocksdb::Status s;
    if (!db) {
      std::error_code ec;
      std::filesystem::create_directories(options.state_dir, ec);
      if (ec) return IoError("cannot create " + options.state_dir + ": " + ec.message());
      rocksdb::Options o;
      o.create_if_missing = true;
      rocksdb::DB* raw = nullptr;
      const std::string path = options.state_dir + "/state";
      s = rocksdb::DB::Open(o, path, &raw);
      if (!s.ok()) return IoError("payments state " + path + ": " + s.ToString());
      db.reset(raw);
    }
    std::string meta;
    s = db->Get(rocksdb::ReadOptions(), "meta", &meta);
    if (s.IsNotFound()) return uint64_t{0};
    if (!s.ok()) return IoError("payments state: " + s.ToString());
    Decoder d(meta);
    uint64_t format = 0, next = 0;
    bool has_policy = false;
    std::string yaml;
    if (!d.U64(&format) || format != kStateFormat || !d.U64(&next) || !d.Bool(&has_watermark) ||
        !d.I64(&watermark) || !d.Bool(&has_policy) || !d.Str(&yaml) || !d.done()) {
      return DataLoss("payments state: meta record corrupt");
    }
    if (has_policy) {
      auto p = ParseHoldPolicy(yaml);
      if (!p.ok()) return DataLoss("payments state: saved policy: " + p.status().message());
      policy = std::move(p).value();
      stats.policy = policy->label();
    }
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string key = it->key().ToString();
      const std::string value = it->value().ToString();
      Decoder vd(value);
      if (key.rfind("c/", 0) == 0) {
        if (!claims[key.substr(2)].Decode(&vd)) return DataLoss("payments state: bad " + key);
      } else if (key.rfind("f/", 0) == 0) {
        if (!flags[key.substr(2)].Decode(&vd)) return DataLoss("payments state: bad " + key);
      } else if (key.rfind("p/", 0) == 0) {
        icb_of[key.substr(2)] = value;
      }
    }
    if (!it->status().ok()) return DataLoss("payments state: " + it->status().ToString());
    for (const auto& [id, c] : claims) {
      if (c.state == State::kPending) Queue(id, c);
      if (Unpaid(c.state)) Track(id, c, true);
    }
    for (const auto& [fid, f] : flags) {
      if (!f.scoped) continue;
      if (f.scope == Scope::kPracticeStream && f.state == FlagState::kOpen) {
        for (int32_t s : f.streams) practice_holds[f.practice][s].insert(fid);
      } else if (f.scope == Scope::kClaim && !f.claim_id.empty() && !claims.count(f.claim_id)) {
        // Decided or not, a flag naming a claim not yet logged applies when the claim arrives.
        waiting[f.claim_id].insert(fid);
      }
    }
    stats.claims = claims.size();
    stats.next_index = next;
    return next;
  }

  MoneyAtStake Money() const {
    MoneyAtStake m;
    for (const auto& [id, c] : claims) {
      int64_t payments::Money::*amount = nullptr;
      uint64_t payments::Money::*count = nullptr;
      switch (c.state) {
        case State::kHeld:
          amount = &payments::Money::held;
          count = &payments::Money::held_claims;
          break;
        case State::kReleased:
          amount = &payments::Money::released;
          count = &payments::Money::released_claims;
          break;
        case State::kWithheld:
          amount = &payments::Money::withheld;
          count = &payments::Money::withheld_claims;
          break;
        case State::kReversed:
          amount = &payments::Money::reversed;
          count = &payments::Money::reversed_claims;
          break;
        default:
          continue;
      }
      std::string rule = c.last_rule;
      if (c.state == State::kHeld) {
        std::string fid;
        if (const FlagRec* f = Pick(c.open, "", &fid)) rule = f->rule_id;
      }
      for (payments::Money* x :
           {&m.total, &m.by_practice[c.practice], &m.by_icb[c.icb], &m.by_rule[rule]}) {
        x->*amount += c.amount;
        ++(x->*count);
      }
    }
    return m;
  }
};

PaymentsFollower::PaymentsFollower(Options options, std::optional<HoldPolicy> publish)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->publish = std::move(publish);
}
PaymentsFollower::~PaymentsFollower() = default;

StatusOr<uint64_t> PaymentsFollower::Restore() { return impl_->Restore(); }

Status PaymentsFollower::PublishAtStart(follow::Publisher* out) {
  if (!impl_->publish) return Status::Ok();
  const HoldPolicy& p = *impl_->publish;
  const std::string value = SerializeInstruction(MakeHoldPolicyEnvelope(p, publish_time_));
  if (impl_->options.state_dir.empty())
    return out->Publish(bus::kPoliciesTopic, p.sha256_hex, value);
  // The bytes of the first publication are stored before it and published at every start, so
  // ingest logs the policy once.
  return follow::PublishStored(out, impl_->options.state_dir + "/published-" + p.sha256_hex,
                               bus::kPoliciesTopic, p.sha256_hex, value);
}

Status PaymentsFollower::Apply(const follow::Event& event, follow::Publisher* out) {
  return impl_->Apply(event, out);
}

Status PaymentsFollower::Save(uint64_t next_index) { return impl_->Save(next_index); }

PaymentsStats PaymentsFollower::stats() const { return impl_->stats; }

MoneyAtStake PaymentsFollower::money() const { return impl_->Money(); }

}  // namespace probity::payments
