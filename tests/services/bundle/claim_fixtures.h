// Claim bundles' fixtures (tests/services/bundle/claim_fixtures/; docs/bundle.md, "Claim
// bundles"): the fixture log of fixtures.h with the payments target following it, as ingest,
// the rules and payments would have written it: the hold policy, the claims, the duplicate flag,
// the HOLD, an uphold and the WITHHOLD, approvals, and the exports of the withhold's payment run.
// MakeClaimFixtures() regenerates them byte for byte.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/follow/entry_source.h"
#include "services/bundle/bundle.h"
#include "services/payments/export.h"
#include "services/payments/payments.h"
#include "services/payments/policy.h"
#include "tests/services/bundle/fixtures.h"

namespace probity::bundle::testing {

inline constexpr char kClaimPolicy[] =
    "name: fixture-holds\nversion: \"1\"\napprove_after_days: 7\ncutoff_days: 5\n"
    "paycodes: {ITEM_OF_SERVICE: IOS}\nholds:\n  - rule: ios-duplicate\n    scope: claim\n";

// Collects what the payments follower publishes.
class CollectingPublisher final : public follow::Publisher {
 public:
  Status Publish(std::string_view, std::string_view key, std::string_view value,
                 const bus::Headers&) override {
    out.emplace_back(std::string(key), std::string(value));
    return Status::Ok();
  }
  std::vector<std::pair<std::string, std::string>> out;
};

// A StoreWriter whose log the payments follower follows: what it publishes (the policy, the
// instructions) is sequenced right after the entry that caused it, as ingest would.
class ClaimStore {
 public:
  // `tamper` changes each instruction before it is logged (how a test logs a forged chain).
  ClaimStore(const std::string& dir, std::function<void(v1::Envelope&)> tamper = nullptr)
      : tamper_(std::move(tamper)) {
    auto rs = rules::LoadRuleSet(kFixtureRules);
    EXPECT_TRUE(rs.ok()) << rs.status().ToString();
    auto policy = payments::LoadHoldPolicy(kClaimPolicy, *rs);
    EXPECT_TRUE(policy.ok()) << policy.status().ToString();
    w_ = std::make_unique<StoreWriter>(dir, *rs, 2);
    follower_ = std::make_unique<payments::PaymentsFollower>(payments::PaymentsFollower::Options{},
                                                             *policy);
    EXPECT_TRUE(follower_->Restore().ok());
  }

  void PublishRuleSet(int64_t at_seconds) {
    w_->PublishRuleSet(at_seconds);
    Pump();
  }
  void PublishPolicy(int64_t at_seconds) {
    follower_->set_publish_time(at_seconds * 1000000);
    EXPECT_TRUE(follower_->PublishAtStart(&out_).ok());
    Pump();
  }
  void Add(std::string_view topic, const v1::Envelope& env) {
    w_->Add(topic, env.practice_code(), env);
    Pump();
  }
  // The export pair of payment run `date` over the whole log, logged.
  void Export(const std::string& date) {
    w_->Flush();
    int64_t log_time = 0;
    auto ex = payments::ExportFromLog(*w_->store(), date, "", w_->size(), &log_time);
    EXPECT_TRUE(ex.ok()) << ex.status().ToString();
    for (const auto* f : {&ex->variation, &ex->holds}) {
      w_->Add(bus::kPaymentInstructionsTopic, "", payments::MakeExportEnvelope(*ex, *f, log_time),
              log_time / 1000000);
    }
    Pump();
  }
  void Checkpoint() { w_->Checkpoint(); }
  logstore::LogStore* store() { return w_->store(); }

 private:
  // Feeds the follower every entry it has not seen, and logs what it publishes, until it
  // publishes nothing more.
  void Pump() {
    for (;;) {
      for (auto& [key, value] : out_.out) {
        v1::Envelope env;
        EXPECT_TRUE(env.ParseFromString(value));
        if (env.has_payment_instruction() && tamper_) tamper_(env);
        const std::string_view topic =
            env.has_hold_policy() ? bus::kPoliciesTopic : bus::kPaymentInstructionsTopic;
        w_->Add(topic, key, env, env.occurred_at().seconds());
      }
      out_.out.clear();
      w_->Flush();
      if (fed_ == w_->size()) return;
      for (; fed_ < w_->size(); ++fed_) {
        auto e = w_->store()->Get(fed_);
        EXPECT_TRUE(e.ok());
        v1::LogRecord r;
        EXPECT_TRUE(r.ParseFromString(e->record_bytes));
        auto env = follow::DecodeRecordEnvelope(r);
        EXPECT_TRUE(env.ok());
        follow::Event ev{.index = fed_,
                         .leaf = e->record_bytes,
                         .record = &r,
                         .envelope = &*env,
                         .tree_size = fed_ + 1};
        EXPECT_TRUE(follower_->Apply(ev, &out_).ok());
      }
    }
  }

  std::function<void(v1::Envelope&)> tamper_;
  std::unique_ptr<StoreWriter> w_;
  std::unique_ptr<payments::PaymentsFollower> follower_;
  CollectingPublisher out_;
  uint64_t fed_ = 0;
};

inline v1::Envelope FixtureDecision(const std::string& id, const std::string& flag_id,
                                    v1::DecisionOutcome outcome, int64_t t) {
  v1::Envelope e;
  e.set_event_id(id);
  e.set_kind(v1::EVENT_KIND_FLAG_DECISION);
  e.set_schema_version(1);
  e.set_practice_code("A81001");
  e.mutable_occurred_at()->set_seconds(t);
  e.set_source_system("probity-api");
  auto* d = e.mutable_flag_decision();
  d->set_flag_id(flag_id);
  d->set_outcome(outcome);
  d->set_reason("patient P123 had one check this year");
  d->set_decided_by("cm@qhm");
  return e;
}

// The claim fixture log in `dir`: the rule set and hold policy, the register entry, LDHC claims
// ld-1 .. ld-5 of fixtures.h (ld-3 duplicates ld-1: flagged, HELD), ld-1 and ld-2 APPROVED, the
// flag upheld (ld-3 WITHHELD), the export pair of the withhold's payment run. Checkpoints after
// the HOLD and at the end.
inline std::unique_ptr<ClaimStore> ClaimFixtureStore(
    const std::string& dir, std::function<void(v1::Envelope&)> tamper = nullptr) {
  auto s = std::make_unique<ClaimStore>(dir, std::move(tamper));
  const int64_t t = 1656633600;  // 2022-07-01
  s->PublishRuleSet(t - 86400);
  s->PublishPolicy(t - 86400);
  s->Add(bus::kPracticesTopic, FixtureRegister(t - 3600));
  s->Add(bus::kClaimsTopic, FixtureLdhc("ld-1", "P123", t));
  s->Add(bus::kClaimsTopic, FixtureLdhc("ld-2", "P999", t + 86400));
  s->Checkpoint();
  s->Add(bus::kClaimsTopic, FixtureLdhc("ld-3", "P123", t + 90 * 86400));
  s->Checkpoint();  // after the flag on ld-3 and its HOLD
  const std::string flag_id = FixtureFlagId(*s->store());
  s->Add(bus::kDecisionsTopic,
         FixtureDecision("dec-1", flag_id, v1::DECISION_OUTCOME_UPHOLD, t + 91 * 86400));
  s->Add(bus::kClaimsTopic, FixtureLdhc("ld-4", "P456", t + 92 * 86400));
  s->Add(bus::kClaimsTopic, FixtureLdhc("ld-5", "P789", t + 93 * 86400));
  s->Export("2022-11-01");
  s->Checkpoint();
  return s;
}

// The claim bundles of tests/services/bundle/claim_fixtures/ (trusted policy:
// fixtures/policy.json): ld-3's bundle, and each change of it a verifier must refuse, with a part
// of its reason.
inline std::vector<Fixture> MakeClaimFixtures(const std::filesystem::path& tmp) {
  std::vector<Fixture> out;
  const v1::VerifierPolicy policy = FixturePolicy();
  auto store = ClaimFixtureStore((tmp / "good").string());
  const logstore::LogReader& r = *store->store();
  const uint64_t first_checkpoint = r.Checkpoints()->front().tree_size();
  auto built = BuildClaim(r, "C-ld-3", {.policy = policy, .since_size = first_checkpoint});
  EXPECT_TRUE(built.ok()) << built.status().ToString();
  const v1::DisputeBundle good = *built;
  auto add = [&](std::string name, const v1::DisputeBundle& b, std::string reason) {
    out.push_back({std::move(name), ToFile(b), std::move(reason)});
  };
  auto chain = [](v1::DisputeBundle& b) { return b.mutable_claim(); };
  add("good", good, "");
  {
    v1::DisputeBundle b =
        good;  // the HOLD left out: the WITHHOLD supersedes an instruction not there
    chain(b)->mutable_instructions()->DeleteSubrange(0, 1);
    add("instruction_missing", b, "the claim's previous instruction is ''");
  }
  {
    v1::DisputeBundle b = good;
    chain(b)->mutable_instructions()->SwapElements(0, 1);
    add("instructions_reordered", b, "not in log order");
  }
  {
    v1::DisputeBundle b = good;  // the WITHHOLD with no uphold behind it
    chain(b)->clear_decisions();
    add("decision_missing", b, "which is DECISION_OUTCOME_UNSPECIFIED");
  }
  {
    v1::DisputeBundle b = good;
    chain(b)->clear_flags();
    add("flag_missing", b, "which the bundle does not hold");
  }
  {
    v1::DisputeBundle b = good;  // the flag's own bundle without one of its evidence entries
    chain(b)->mutable_flags(0)->mutable_evidence()->RemoveLast();
    add("flag_evidence_missing", b, "the flag names 2 evidence entries");
  }
  {
    v1::DisputeBundle b = good;  // the flag proved against the older checkpoint
    *chain(b)->mutable_flags(0)->mutable_checkpoint() = good.consistency_from();
    add("flag_against_another_checkpoint", b, "checkpoint alone");
  }
  {
    v1::DisputeBundle b = good;
    chain(b)->clear_policies();
    add("policy_missing", b, "is not the hold policy in force");
  }
  {
    v1::DisputeBundle b = good;  // the WITHHOLD's proof carrying the HOLD's bytes
    chain(b)->mutable_instructions(1)->set_leaf(good.claim().instructions(0).leaf());
    add("instruction_not_bound_to_proof", b, "do not hash to the proof's leaf hash");
  }
  {
    v1::DisputeBundle b = good;  // another claim's (proved) entry as the claim
    auto other = BuildClaim(r, "C-ld-1", {.policy = policy, .since_size = std::nullopt});
    EXPECT_TRUE(other.ok()) << other.status().ToString();
    *chain(b)->mutable_submissions(0) = other->claim().submissions(0);
    add("submission_of_another_claim", b, "is claim C-ld-1");
  }
  {
    v1::DisputeBundle b = good;
    b.set_version(2);
    add("version_altered", b, "version 2");
  }
  {
    // A log whose WITHHOLD was logged as a RELEASE (with the id a RELEASE would have): every
    // proof and signature is good; the flag behind it is upheld.
    auto forged = ClaimFixtureStore((tmp / "release").string(), [](v1::Envelope& e) {
      auto* pi = e.mutable_payment_instruction();
      if (pi->action() != v1::PAYMENT_ACTION_WITHHOLD) return;
      pi->set_action(v1::PAYMENT_ACTION_RELEASE);
      pi->set_instruction_id(
          payments::InstructionId(pi->claim_id(), pi->caused_by_index(), pi->action()));
      e.set_event_id(pi->instruction_id());
    });
    auto b = BuildClaim(*forged->store(), "C-ld-3", {.policy = policy, .since_size = std::nullopt});
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    add("withhold_logged_as_release", *b, "which is DECISION_OUTCOME_UPHOLD");
  }
  {
    // A log whose instructions state another amount than the claim's.
    auto forged = ClaimFixtureStore((tmp / "amount").string(), [](v1::Envelope& e) {
      auto* pi = e.mutable_payment_instruction();
      pi->set_amount_pence(pi->amount_pence() + 100);
    });
    auto b = BuildClaim(*forged->store(), "C-ld-3", {.policy = policy, .since_size = std::nullopt});
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    add("amount_not_the_claims", *b, "amount or stream differ");
  }
  {
    // A log where the held claim was approved on the flag's arrival instead.
    auto forged = ClaimFixtureStore((tmp / "approve").string(), [](v1::Envelope& e) {
      auto* pi = e.mutable_payment_instruction();
      if (pi->action() != v1::PAYMENT_ACTION_HOLD) return;
      pi->set_action(v1::PAYMENT_ACTION_APPROVE);
      pi->clear_flag_id();
      pi->clear_flag_log_index();
      pi->set_instruction_id(
          payments::InstructionId(pi->claim_id(), pi->caused_by_index(), pi->action()));
      e.set_event_id(pi->instruction_id());
    });
    auto b = BuildClaim(*forged->store(), "C-ld-3", {.policy = policy, .since_size = std::nullopt});
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    add("approved_while_flagged", *b, "approved before the claim waited 7 days");
  }
  return out;
}

}  // namespace probity::bundle::testing
