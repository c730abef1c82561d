// A claim's dispute bundle (docs/bundle.md, "Claim bundles"): the payment chain behind one claim,
// built from the log and re-checked offline.
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "common/crypto/sha256.h"
#include "services/bundle/bundle.h"
#include "services/bundle/entries.h"
#include "services/payments/payments.h"
#include "services/payments/policy.h"

namespace probity::bundle {
namespace {

using internal::CheckEntry;
using internal::DecodedEntry;
using internal::ProveEntry;
using internal::Str;

constexpr int64_t kDay = 86400;

// Calls fn(decoded) for every entry of `kind` below `size`, in log order; stops when fn returns
// false.
Status ForEachOfKind(const logstore::LogReader& reader, v1::EventKind kind, uint64_t size,
                     const std::function<bool(const DecodedEntry&)>& fn) {
  for (uint64_t from = 0; from < size;) {
    PROBITY_ASSIGN_OR_RETURN(auto page, reader.FindByKind(kind, from, 10000));
    if (page.empty()) return Status::Ok();
    for (uint64_t i : page) {
      if (i >= size) return Status::Ok();
      PROBITY_ASSIGN_OR_RETURN(logstore::Entry e, reader.Get(i));
      PROBITY_ASSIGN_OR_RETURN(DecodedEntry d, internal::DecodeEntry(i, e.record_bytes));
      if (!fn(d)) return Status::Ok();
    }
    from = page.back() + 1;
  }
  return Status::Ok();
}

// The practice of the first CLAIM entry with this claim id below `size`; NotFound when none.
StatusOr<std::string> PracticeOfClaim(const logstore::LogReader& reader,
                                      const std::string& claim_id, uint64_t size) {
  std::string practice;
  PROBITY_RETURN_IF_ERROR(ForEachOfKind(reader, v1::EVENT_KIND_CLAIM, size, [&](const auto& d) {
    if (d.envelope.claim().claim_id() != claim_id) return true;
    practice = d.envelope.practice_code();
    return false;
  }));
  if (practice.empty()) return NotFound("no CLAIM entry with claim id '" + claim_id + "'");
  return practice;
}

bool CarriedBy(v1::PaymentAction a, const std::string& format) {
  if (format == "contract-variation-csv/1") return a != v1::PAYMENT_ACTION_HOLD;
  if (format == "holds-csv/1") {
    return a == v1::PAYMENT_ACTION_HOLD || a == v1::PAYMENT_ACTION_RELEASE ||
           a == v1::PAYMENT_ACTION_WITHHOLD;
  }
  return false;
}

// ---- Verification of the chain ----

enum class ClaimState { kPending, kApproved, kHeld, kReleased, kWithheld, kReversed };

// The state an action leads to, and whether it may follow `from` (docs/payments.md, "States").
bool Transition(ClaimState from, v1::PaymentAction a, ClaimState* to) {
  using S = ClaimState;
  switch (a) {
    case v1::PAYMENT_ACTION_APPROVE:
      *to = S::kApproved;
      return from == S::kPending;
    case v1::PAYMENT_ACTION_HOLD:
      *to = S::kHeld;
      return from == S::kPending || from == S::kWithheld || from == S::kReversed;
    case v1::PAYMENT_ACTION_RELEASE:
      *to = S::kReleased;
      return from == S::kHeld || from == S::kWithheld || from == S::kReversed;
    case v1::PAYMENT_ACTION_WITHHOLD:
      *to = S::kWithheld;
      return from == S::kHeld || from == S::kPending;
    case v1::PAYMENT_ACTION_REVERSE:
      *to = S::kReversed;
      return from == S::kApproved || from == S::kReleased;
    default:
      return false;
  }
}

struct LoggedPolicy {
  uint64_t index = 0;
  payments::HoldPolicy policy;
};

struct ChainFlag {
  uint64_t index = 0;
  std::string practice;
  v1::Flag flag;
};

struct ChainDecision {
  uint64_t index = 0;
  std::string event_id;
  v1::FlagDecision decision;
};

class ChainChecker {
 public:
  ChainChecker(std::string claim_id, std::string practice)
      : claim_id_(std::move(claim_id)), practice_(std::move(practice)) {}

  std::vector<DecodedEntry> submissions;
  std::vector<LoggedPolicy> policies;
  std::map<std::string, ChainFlag> flags;
  std::vector<ChainDecision> decisions;  // log order

  // The outcome (UPHOLD or DISMISS) in force on a flag after entry `at`, and the decision that
  // made it (the first of a run of the same outcome: a repeat changes nothing); UNSPECIFIED when
  // the flag is undecided.
  v1::DecisionOutcome OutcomeAt(const std::string& flag_id, uint64_t at,
                                const ChainDecision** by = nullptr) const {
    v1::DecisionOutcome o = v1::DECISION_OUTCOME_UNSPECIFIED;
    auto f = flags.find(flag_id);
    for (const auto& d : decisions) {
      if (d.index > at) break;
      // A decision logged before its flag is not one payments could apply.
      if (d.decision.flag_id() != flag_id || f == flags.end() || d.index < f->second.index)
        continue;
      const auto out = d.decision.outcome();
      if (out != v1::DECISION_OUTCOME_UPHOLD && out != v1::DECISION_OUTCOME_DISMISS) continue;
      if (out == o) continue;
      o = out;
      if (by != nullptr) *by = &d;
    }
    return o;
  }

  // The policy in force after entry `at`; nullptr before the first.
  const LoggedPolicy* PolicyAt(uint64_t at) const {
    const LoggedPolicy* p = nullptr;
    for (const auto& lp : policies) {
      if (lp.index <= at) p = &lp;
    }
    return p;
  }

  // Whether the flag holds (or watches) this claim under the policy that judged it: the one in
  // force when it was logged, else the first one logged after it.
  Status CheckScope(const std::string& what, const ChainFlag& f) const {
    const LoggedPolicy* p = PolicyAt(f.index);
    if (p == nullptr && !policies.empty()) p = &policies.front();
    if (p == nullptr) return DataLoss(what + ": no hold policy in the bundle judged flag");
    const payments::HoldRule* entry = nullptr;
    const payments::Scope scope =
        p->policy.ScopeFor(f.flag.rule_id(), f.flag.rule_kind(), f.flag.severity(), &entry);
    switch (scope) {
      case payments::Scope::kClaim:
        if (f.flag.claim_id() != claim_id_) {
          return DataLoss(what + ": flag " + f.flag.flag_id() + " names claim '" +
                          f.flag.claim_id() + "', and policy " + p->policy.label() +
                          " holds only the claim a flag names for rule " + f.flag.rule_id());
        }
        return Status::Ok();
      case payments::Scope::kPracticeStream:
        if (f.practice != practice_) {
          return DataLoss(what + ": flag " + f.flag.flag_id() + " is on practice " + f.practice +
                          ", the claim's is " + practice_);
        }
        if (entry != nullptr && !entry->streams.empty() && !submissions.empty() &&
            std::find(entry->streams.begin(), entry->streams.end(),
                      submissions.front().envelope.claim().stream()) == entry->streams.end()) {
          return DataLoss(what + ": policy " + p->policy.label() + " holds other streams than " +
                          "the claim's on rule " + f.flag.rule_id());
        }
        return Status::Ok();
      case payments::Scope::kNone:
        break;
    }
    return DataLoss(what + ": policy " + p->policy.label() + " holds nothing on flag " +
                    f.flag.flag_id() + " (rule " + f.flag.rule_id() + ")");
  }

  // The claim as it stood after entry `at`: its latest submission up to it.
  const DecodedEntry* SubmissionAt(uint64_t at) const {
    const DecodedEntry* s = nullptr;
    for (const auto& d : submissions) {
      if (d.index <= at) s = &d;
    }
    return s;
  }

  // Every instruction, in log order, against the chain (docs/bundle.md, "Claim bundles").
  Status CheckInstruction(const DecodedEntry& d, const std::string& previous_id, ClaimState* state,
                          std::set<std::string>* named_flags, int64_t* log_time) const {
    const std::string what = "instruction (entry " + Str(d.index) + ")";
    if (d.record.kind() != v1::EVENT_KIND_PAYMENT_INSTRUCTION ||
        !d.envelope.has_payment_instruction()) {
      return DataLoss(what + ": not a PAYMENT_INSTRUCTION");
    }
    const v1::PaymentInstruction& pi = d.envelope.payment_instruction();
    if (pi.claim_id() != claim_id_ || d.envelope.practice_code() != practice_) {
      return DataLoss(what + ": on claim " + pi.claim_id() + " of " + d.envelope.practice_code() +
                      ", not the bundle's");
    }
    const uint64_t cause = pi.caused_by_index();
    if (cause >= d.index) return DataLoss(what + ": caused by a later entry " + Str(cause));
    const std::string id = payments::InstructionId(claim_id_, cause, pi.action());
    if (pi.instruction_id() != id || d.envelope.event_id() != id) {
      return DataLoss(what + ": its id is not the one its claim, cause and action give (" + id +
                      ")");
    }
    if (pi.supersedes_instruction_id() != previous_id) {
      return DataLoss(what + ": supersedes '" + pi.supersedes_instruction_id() +
                      "', the claim's previous instruction is '" + previous_id + "'");
    }
    ClaimState next;
    if (!Transition(*state, pi.action(), &next)) {
      return DataLoss(what + ": " + payments::ActionName(pi.action()) +
                      " cannot follow the claim's previous instructions");
    }
    // The claim it pays: the latest submission at its cause.
    const DecodedEntry* sub = SubmissionAt(cause);
    if (sub == nullptr || sub->index != pi.claim_log_index()) {
      return DataLoss(what + ": the claim at entry " + Str(pi.claim_log_index()) +
                      " is not the claim's latest submission before entry " + Str(cause));
    }
    const v1::Claim& claim = sub->envelope.claim();
    if (pi.amount_pence() != claim.amount_pence() || pi.stream() != claim.stream()) {
      return DataLoss(what + ": amount or stream differ from the claim's at entry " +
                      Str(sub->index));
    }
    // Log time only moves forward.
    const int64_t t = d.envelope.occurred_at().seconds();
    if (t < *log_time) return DataLoss(what + ": log time goes backwards");
    *log_time = t;
    // The policy in force, and what it says about paycode and payment run.
    const LoggedPolicy* lp = PolicyAt(cause);
    if (lp == nullptr || lp->policy.sha256_hex != pi.policy_sha256_hex() ||
        lp->policy.label() != pi.policy_version()) {
      return DataLoss(what + ": policy " + pi.policy_version() +
                      " is not the hold policy in force at entry " + Str(cause));
    }
    const payments::HoldPolicy& policy = lp->policy;
    if (pi.paycode() != policy.Paycode(claim.stream()) ||
        pi.payment_date() != policy.PaymentDate(t)) {
      return DataLoss(what + ": paycode or payment date are not the policy's (" +
                      policy.Paycode(claim.stream()) + ", " + policy.PaymentDate(t) + ")");
    }
    // The flag and decision behind it.
    const bool needs_flag = pi.action() != v1::PAYMENT_ACTION_APPROVE &&
                            !(pi.action() == v1::PAYMENT_ACTION_RELEASE && pi.flag_id().empty());
    if (pi.action() == v1::PAYMENT_ACTION_APPROVE) {
      if (!pi.flag_id().empty()) return DataLoss(what + ": an APPROVE names a flag");
      if (t < sub->envelope.occurred_at().seconds() + policy.approve_after_days * kDay) {
        return DataLoss(what + ": approved before the claim waited " +
                        std::to_string(policy.approve_after_days) + " days of log time");
      }
      for (const auto& [fid, f] : flags) {
        if (f.index > cause) continue;
        if (CheckScope(what, f).ok() && OutcomeAt(fid, cause) != v1::DECISION_OUTCOME_DISMISS) {
          return DataLoss(what + ": approved while flag " + fid + " stood on the claim");
        }
      }
    }
    if (needs_flag) {
      auto it = flags.find(pi.flag_id());
      if (it == flags.end()) {
        return DataLoss(what + ": the bundle holds no flag " + pi.flag_id());
      }
      const ChainFlag& f = it->second;
      if (f.index != pi.flag_log_index() || f.index > cause) {
        return DataLoss(what + ": flag " + pi.flag_id() + " is at entry " + Str(f.index) +
                        ", the instruction names entry " + Str(pi.flag_log_index()));
      }
      PROBITY_RETURN_IF_ERROR(CheckScope(what, f));
      const ChainDecision* by = nullptr;
      const v1::DecisionOutcome now = OutcomeAt(pi.flag_id(), cause, &by);
      v1::DecisionOutcome want = v1::DECISION_OUTCOME_UNSPECIFIED;
      if (pi.action() == v1::PAYMENT_ACTION_WITHHOLD || pi.action() == v1::PAYMENT_ACTION_REVERSE)
        want = v1::DECISION_OUTCOME_UPHOLD;
      if (pi.action() == v1::PAYMENT_ACTION_RELEASE) want = v1::DECISION_OUTCOME_DISMISS;
      if (now != want) {
        return DataLoss(what + ": " + payments::ActionName(pi.action()) + " on flag " +
                        pi.flag_id() + ", which is " + v1::DecisionOutcome_Name(now) +
                        " at entry " + Str(cause));
      }
      if (by != nullptr && pi.action() != v1::PAYMENT_ACTION_HOLD &&
          (pi.decision_event_id() != by->event_id || pi.decision_log_index() != by->index)) {
        return DataLoss(what + ": names decision " + pi.decision_event_id() +
                        ", the decision in force is " + by->event_id);
      }
      named_flags->insert(pi.flag_id());
    }
    if (pi.action() == v1::PAYMENT_ACTION_RELEASE) {
      // Every flag that held it is dismissed.
      for (const auto& fid : *named_flags) {
        if (OutcomeAt(fid, cause) != v1::DECISION_OUTCOME_DISMISS) {
          return DataLoss(what + ": released while flag " + fid + " still stood");
        }
      }
    }
    *state = next;
    return Status::Ok();
  }

 private:
  std::string claim_id_;
  std::string practice_;
};

}  // namespace

StatusOr<v1::DisputeBundle> BuildClaim(const logstore::LogReader& reader,
                                       std::string_view claim_id_view,
                                       const BuildOptions& options) {
  const std::string claim_id(claim_id_view);
  PROBITY_ASSIGN_OR_RETURN(note::TrustPolicy trust, note::TrustPolicy::Create(options.policy));
  PROBITY_ASSIGN_OR_RETURN(auto cp, internal::LatestCheckpoint(reader, trust));
  const uint64_t size = cp.opened.checkpoint.size;
  std::string practice = options.practice_code;
  if (practice.empty()) {
    PROBITY_ASSIGN_OR_RETURN(practice, PracticeOfClaim(reader, claim_id, size));
  }

  // The practice's entries, in log order: the claim's submissions and instructions, decisions.
  PROBITY_ASSIGN_OR_RETURN(auto found,
                           reader.FindByPractice(practice, std::numeric_limits<int64_t>::min() / 2,
                                                 std::numeric_limits<int64_t>::max() / 2,
                                                 std::numeric_limits<size_t>::max()));
  std::sort(found.begin(), found.end());
  std::vector<uint64_t> submissions, instructions;
  std::vector<std::string> flag_ids;  // in the order the instructions first name them
  std::vector<std::pair<uint64_t, std::string>> decisions;  // (index, flag id)
  std::vector<std::pair<uint64_t, v1::PaymentInstruction>> logged;
  v1::LogRecord record;
  for (uint64_t i : found) {
    if (i >= size) break;
    PROBITY_ASSIGN_OR_RETURN(logstore::Entry e, reader.Get(i));
    if (!record.ParseFromString(e.record_bytes)) {
      return DataLoss("entry " + Str(i) + " does not parse");
    }
    const auto kind = record.kind();
    if (kind != v1::EVENT_KIND_CLAIM && kind != v1::EVENT_KIND_PAYMENT_INSTRUCTION &&
        kind != v1::EVENT_KIND_FLAG_DECISION) {
      continue;
    }
    PROBITY_ASSIGN_OR_RETURN(DecodedEntry d, internal::DecodeEntry(i, e.record_bytes));
    if (kind == v1::EVENT_KIND_CLAIM && d.envelope.claim().claim_id() == claim_id) {
      submissions.push_back(i);
    } else if (kind == v1::EVENT_KIND_PAYMENT_INSTRUCTION &&
               d.envelope.payment_instruction().claim_id() == claim_id) {
      instructions.push_back(i);
      const auto& pi = d.envelope.payment_instruction();
      if (!pi.flag_id().empty() &&
          std::find(flag_ids.begin(), flag_ids.end(), pi.flag_id()) == flag_ids.end()) {
        flag_ids.push_back(pi.flag_id());
      }
      logged.emplace_back(i, pi);
    } else if (kind == v1::EVENT_KIND_FLAG_DECISION) {
      decisions.emplace_back(i, d.envelope.flag_decision().flag_id());
    }
  }
  if (submissions.empty()) {
    return NotFound("no CLAIM entry with claim id '" + claim_id + "' of practice " + practice +
                    " below the checkpoint of size " + Str(size));
  }

  v1::DisputeBundle b;
  b.set_format(std::string(kFormat));
  b.set_version(kVersion);
  *b.mutable_checkpoint() = internal::CheckpointMessage(cp.record, cp.opened);
  v1::ClaimChain* chain = b.mutable_claim();
  chain->set_claim_id(claim_id);
  chain->set_practice_code(practice);
  for (uint64_t i : submissions) {
    PROBITY_ASSIGN_OR_RETURN(*chain->add_submissions(), ProveEntry(reader, i, size));
  }
  for (uint64_t i : instructions) {
    PROBITY_ASSIGN_OR_RETURN(*chain->add_instructions(), ProveEntry(reader, i, size));
  }
  if (!instructions.empty()) {
    // Every hold policy up to the last instruction: which one was in force is then checkable.
    std::vector<uint64_t> policies;
    PROBITY_RETURN_IF_ERROR(
        ForEachOfKind(reader, v1::EVENT_KIND_HOLD_POLICY, instructions.back(), [&](const auto& d) {
          policies.push_back(d.index);
          return true;
        }));
    for (uint64_t i : policies) {
      PROBITY_ASSIGN_OR_RETURN(*chain->add_policies(), ProveEntry(reader, i, size));
    }
  }
  for (const auto& fid : flag_ids) {
    PROBITY_ASSIGN_OR_RETURN(*chain->add_flags(), internal::BuildFlag(reader, fid, trust, cp));
  }
  for (const auto& [i, fid] : decisions) {
    if (std::find(flag_ids.begin(), flag_ids.end(), fid) == flag_ids.end()) continue;
    PROBITY_ASSIGN_OR_RETURN(*chain->add_decisions(), ProveEntry(reader, i, size));
  }
  if (!instructions.empty()) {
    // For each instruction and each file format that carries it: the first export of its
    // payment run that covers it.
    std::set<uint64_t> exports;
    std::set<std::pair<std::string, std::string>> wanted;  // (instruction id, format) found
    PROBITY_RETURN_IF_ERROR(
        ForEachOfKind(reader, v1::EVENT_KIND_PAYMENT_EXPORT, size, [&](const auto& d) {
          const v1::PaymentExport& x = d.envelope.payment_export();
          for (const auto& [index, pi] : logged) {
            if (pi.payment_date() == x.export_date() && index < x.covers_tree_size() &&
                CarriedBy(pi.action(), x.format()) &&
                wanted.emplace(pi.instruction_id(), x.format()).second) {
              exports.insert(d.index);
            }
          }
          return true;
        }));
    for (uint64_t i : exports) {
      PROBITY_ASSIGN_OR_RETURN(*chain->add_exports(), ProveEntry(reader, i, size));
    }
  }
  if (options.since_size) {
    PROBITY_RETURN_IF_ERROR(internal::AddConsistency(reader, trust, *options.since_size, &b));
  }
  *b.mutable_policy() = trust.policy();
  return b;
}

namespace internal {

StatusOr<v1::BundleVerification> VerifyClaim(const v1::DisputeBundle& b,
                                             const note::TrustPolicy& trust,
                                             const v1::VerifierPolicy& trusted,
                                             std::optional<std::string_view> held) {
  const v1::ClaimChain& chain = b.claim();
  if (!b.flag_id().empty() || b.has_flag() || b.has_rule_set() || b.has_baseline() ||
      b.evidence_size() > 0 || b.context_size() > 0 || b.has_manifest()) {
    return InvalidArgument("bundle: a claim's bundle carries flag fields");
  }
  if (chain.claim_id().empty() || chain.submissions().empty()) {
    return InvalidArgument("bundle: a claim's bundle with no claim");
  }

  // Every entry: hashed here, bound to its proof against the one checkpoint; no index twice.
  const uint64_t size = b.checkpoint().tree_size();
  PROBITY_ASSIGN_OR_RETURN(const merkle::Hash root, StatedRoot(b.checkpoint()));
  std::set<uint64_t> seen;
  auto check_all = [&](const std::string& what,
                       const google::protobuf::RepeatedPtrField<v1::EntryProof>& entries,
                       v1::EventKind kind) -> StatusOr<std::vector<DecodedEntry>> {
    std::vector<DecodedEntry> out;
    for (const auto& e : entries) {
      PROBITY_ASSIGN_OR_RETURN(DecodedEntry d, CheckEntry(what, e, size, root));
      if (!seen.insert(d.index).second) {
        return InvalidArgument("bundle: entry " + Str(d.index) + " given twice");
      }
      if (!out.empty() && out.back().index > d.index) {
        return InvalidArgument("bundle: " + what + " entries are not in log order");
      }
      if (d.record.kind() != kind) {
        return DataLoss(what + " (entry " + Str(d.index) + ") is a " +
                        v1::EventKind_Name(d.record.kind()));
      }
      out.push_back(std::move(d));
    }
    return out;
  };
  ChainChecker chk(chain.claim_id(), chain.practice_code());
  PROBITY_ASSIGN_OR_RETURN(chk.submissions,
                           check_all("claim", chain.submissions(), v1::EVENT_KIND_CLAIM));
  PROBITY_ASSIGN_OR_RETURN(auto instructions, check_all("instruction", chain.instructions(),
                                                        v1::EVENT_KIND_PAYMENT_INSTRUCTION));
  PROBITY_ASSIGN_OR_RETURN(auto policies,
                           check_all("hold policy", chain.policies(), v1::EVENT_KIND_HOLD_POLICY));
  PROBITY_ASSIGN_OR_RETURN(auto decisions,
                           check_all("decision", chain.decisions(), v1::EVENT_KIND_FLAG_DECISION));
  PROBITY_ASSIGN_OR_RETURN(auto exports,
                           check_all("export", chain.exports(), v1::EVENT_KIND_PAYMENT_EXPORT));
  v1::BundleVerification out;
  uint32_t cosigs = 0;
  PROBITY_RETURN_IF_ERROR(CheckCheckpoints(b, trust, held, &cosigs, &out).status());

  // Each flag: its own bundle, verified as a flag's, against the same checkpoint.
  uint64_t entries = seen.size();
  for (const auto& fb : chain.flags()) {
    if (!google::protobuf::util::MessageDifferencer::Equals(fb.checkpoint(), b.checkpoint()) ||
        fb.has_consistency() || fb.has_consistency_from() || fb.has_claim()) {
      return DataLoss("flag " + fb.flag_id() + ": its bundle is not against the claim bundle's " +
                      "checkpoint alone");
    }
    auto v = Verify(fb, trusted);
    if (!v.ok())
      return Status(v.status().code(), "flag " + fb.flag_id() + ": " + v.status().message());
    entries += v->entries_verified();
    PROBITY_ASSIGN_OR_RETURN(DecodedEntry fe, DecodeEntry(fb.flag().index(), fb.flag().leaf()));
    ChainFlag f{fe.index, fe.envelope.practice_code(), fe.envelope.flag()};
    if (!chk.flags.emplace(fb.flag_id(), std::move(f)).second) {
      return InvalidArgument("bundle: flag " + fb.flag_id() + " given twice");
    }
  }

  // What the entries say.
  for (const auto& d : chk.submissions) {
    if (d.envelope.claim().claim_id() != chain.claim_id() ||
        d.envelope.practice_code() != chain.practice_code()) {
      return DataLoss("claim (entry " + Str(d.index) + ") is claim " +
                      d.envelope.claim().claim_id() + " of " + d.envelope.practice_code() +
                      ", the bundle is for " + chain.claim_id() + " of " + chain.practice_code());
    }
  }
  for (const auto& d : policies) {
    const v1::HoldPolicyPublished& hp = d.envelope.hold_policy();
    auto parsed = payments::ParseHoldPolicy(hp.yaml_content());
    if (!parsed.ok()) {
      return DataLoss("hold policy (entry " + Str(d.index) + "): " + parsed.status().message());
    }
    if (hp.sha256_hex() != parsed->sha256_hex) {
      return DataLoss("hold policy (entry " + Str(d.index) + ") does not hash to its sha256_hex");
    }
    chk.policies.push_back({d.index, std::move(parsed).value()});
  }
  for (const auto& d : decisions) {
    const v1::FlagDecision& fd = d.envelope.flag_decision();
    if (!chk.flags.count(fd.flag_id())) {
      return DataLoss("decision (entry " + Str(d.index) + ") is on flag " + fd.flag_id() +
                      ", which the bundle does not hold");
    }
    chk.decisions.push_back({d.index, d.envelope.event_id(), fd});
  }
  ClaimState state = ClaimState::kPending;
  std::string previous;
  std::set<std::string> named;
  int64_t log_time = std::numeric_limits<int64_t>::min();
  for (const auto& d : instructions) {
    PROBITY_RETURN_IF_ERROR(chk.CheckInstruction(d, previous, &state, &named, &log_time));
    previous = d.envelope.payment_instruction().instruction_id();
  }
  for (const auto& [fid, f] : chk.flags) {
    if (!named.count(fid)) {
      return DataLoss("flag " + fid + ": no instruction of the bundle names it");
    }
  }
  // Each export: of a payment run of an instruction it carries, covering it, logged after it.
  for (const auto& d : exports) {
    const v1::PaymentExport& x = d.envelope.payment_export();
    if (x.covers_tree_size() > d.index) {
      return DataLoss("export (entry " + Str(d.index) + ") covers entries logged after it");
    }
    bool carries = false;
    for (const auto& in : instructions) {
      const auto& pi = in.envelope.payment_instruction();
      carries |= pi.payment_date() == x.export_date() && in.index < x.covers_tree_size() &&
                 CarriedBy(pi.action(), x.format());
    }
    if (!carries) {
      return DataLoss("export (entry " + Str(d.index) + ", " + x.file_name() +
                      ") carries none of the claim's instructions");
    }
  }

  out.set_ok(true);
  out.set_claim_id(chain.claim_id());
  out.set_checkpoint_size(size);
  out.set_cosignatures(cosigs);
  out.set_entries_verified(entries);
  out.set_instructions_checked(static_cast<uint32_t>(instructions.size()));
  out.set_flags_verified(static_cast<uint32_t>(chain.flags_size()));
  out.set_detail("every instruction on the claim follows from its submissions, the hold policy " +
                 std::string("in force and the flags and decisions behind it; ") +
                 Str(chain.flags_size()) + " flag(s) verified");
  return out;
}

}  // namespace internal
}  // namespace probity::bundle
