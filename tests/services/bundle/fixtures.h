// The bad-bundle fixtures of tests/services/bundle/fixtures/ (docs/bundle.md, "What a verifier
// must reject"): each is a bundle of one small, fixed log, changed in one way a verifier must
// refuse. MakeFixtures() regenerates them byte for byte (Ed25519 is deterministic and the store
// is fixed), so the checked-in files can be compared with what this code makes.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/codec/codec.h"
#include "services/bundle/bundle.h"
#include "tests/integration/test_events.h"
#include "tests/services/bundle/test_store.h"

namespace probity::bundle::testing {

struct Fixture {
  std::string name;    // file name without ".json"
  std::string text;    // the bundle file
  std::string reason;  // a part of the message of the refusal; empty for the good bundle
};

// One rule: the same LDHC claim for the same patient twice in a financial year.
inline constexpr char kFixtureRules[] =
    "name: fixture\nversion: \"1\"\nrules:\n"
    "  - id: ios-duplicate\n    version: 1\n    kind: duplicate_item_of_service\n"
    "    severity: warning\n    description: An item of service claimed twice for one patient.\n"
    "    params: {intervals: {LDHC: financial_year}}\n";

inline v1::Envelope FixtureLdhc(const std::string& id, const std::string& patient, int64_t t) {
  v1::Envelope e = probity::testing::Claim(id, "A81001", 14000, t);
  auto* c = e.mutable_claim();
  c->set_stream(v1::PAYMENT_STREAM_ITEM_OF_SERVICE);
  c->set_service_code("LDHC");
  c->set_patient_ref(patient);
  c->set_status(v1::CLAIM_STATUS_PAID);
  return e;
}

// The fixture log in `dir`: the rule set, the practice's register entry, three claims (the third
// duplicating the first, which raises the flag), two later claims. Checkpoints at size 3 and at
// the end (size 8), cosigned by witnesses 1 and 2. `tamper` changes the flag before it is logged.
inline std::unique_ptr<StoreWriter> FixtureStore(
    const std::string& dir, std::function<void(v1::Envelope&)> tamper = nullptr) {
  auto rs = rules::LoadRuleSet(kFixtureRules);
  EXPECT_TRUE(rs.ok()) << rs.status().ToString();
  auto w = std::make_unique<StoreWriter>(dir, *rs, 2);
  w->tamper_flags = std::move(tamper);
  const int64_t t = 1656633600;  // 2022-07-01
  w->PublishRuleSet(t - 86400);
  v1::Envelope reg;
  reg.set_event_id("reg-A81001");
  reg.set_kind(v1::EVENT_KIND_PRACTICE_UPDATE);
  reg.set_schema_version(1);
  reg.set_practice_code("A81001");
  reg.mutable_occurred_at()->set_seconds(t - 3600);
  reg.set_source_system("register");
  auto* u = reg.mutable_practice_update();
  u->set_practice_name("Fixture Practice");
  u->set_list_size(6000);
  u->set_weighted_list_size(6200.5);
  u->set_icb_code("QHM");
  u->set_contract_type(v1::CONTRACT_TYPE_GMS);
  w->Add("probity.practices.v1", "A81001", reg);
  w->Add("probity.claims.v1", "A81001", FixtureLdhc("ld-1", "P123", t));
  w->Checkpoint();  // size 3
  w->Add("probity.claims.v1", "A81001", FixtureLdhc("ld-2", "P999", t + 86400));
  w->Add("probity.claims.v1", "A81001", FixtureLdhc("ld-3", "P123", t + 90 * 86400));
  w->Add("probity.claims.v1", "A81001", FixtureLdhc("ld-4", "P456", t + 91 * 86400));
  w->Add("probity.claims.v1", "A81001", FixtureLdhc("ld-5", "P789", t + 92 * 86400));
  w->Checkpoint();  // size 8 (the flag is entry 5)
  return w;
}

inline std::string FixtureFlagId(const logstore::LogReader& r) {
  auto found = r.FindByKind(v1::EVENT_KIND_FLAG, 0, 1);
  EXPECT_TRUE(found.ok() && found->size() == 1);
  v1::LogRecord rec;
  rec.ParseFromString(r.Get(found->at(0))->record_bytes);
  return rec.event_id();
}

// The trusted policy of the fixtures: the log, three witnesses, quorum 2.
inline v1::VerifierPolicy FixturePolicy() { return TestPolicy(3, 2); }

inline std::vector<Fixture> MakeFixtures(const std::filesystem::path& tmp) {
  std::vector<Fixture> out;
  const v1::VerifierPolicy policy = FixturePolicy();
  auto store = FixtureStore((tmp / "good").string());
  const logstore::LogReader& r = *store->store();
  const std::string flag_id = FixtureFlagId(r);
  auto built = Build(r, flag_id, {.policy = policy, .since_size = 3});
  EXPECT_TRUE(built.ok()) << built.status().ToString();
  const v1::DisputeBundle good = *built;
  const uint64_t size = good.checkpoint().tree_size();
  auto add = [&](std::string name, const v1::DisputeBundle& b, std::string reason) {
    out.push_back({std::move(name), ToFile(b), std::move(reason)});
  };
  auto proof_of = [&](uint64_t index, uint64_t at) {
    v1::InclusionProof p;
    p.set_leaf_index(index);
    p.set_tree_size(at);
    p.set_leaf_hash(std::string(merkle::AsBytes(merkle::HashLeaf(r.Get(index)->record_bytes))));
    const auto path = r.InclusionProof(index, at);
    EXPECT_TRUE(path.ok());
    for (const auto& h : *path) p.add_hashes(std::string(merkle::AsBytes(h)));
    return p;
  };
  add("good", good, "");
  {
    v1::DisputeBundle b = good;  // evidence 0 carries another entry's bytes under its own proof
    b.mutable_evidence(0)->set_leaf(r.Get(3)->record_bytes);
    add("entry_not_bound_to_proof", b, "do not hash to the proof's leaf hash");
  }
  {
    v1::DisputeBundle b = good;  // evidence 0's proof is entry 3's
    *b.mutable_evidence(0)->mutable_proof() = proof_of(3, size);
    add("proof_for_another_index", b, "the proof is for index 3");
  }
  {
    v1::DisputeBundle b = good;  // evidence 0's proof is against the tree of size 3
    *b.mutable_evidence(0)->mutable_proof() = proof_of(b.evidence(0).index(), 3);
    add("proof_for_another_size", b, "the proof is for tree size 3");
  }
  {
    v1::DisputeBundle b = good;
    b.mutable_evidence(1)->clear_proof();
    add("proof_missing", b, "no inclusion proof");
  }
  {
    v1::DisputeBundle b = good;  // a real, proved entry, but not the evidence the flag names
    *b.mutable_evidence(1)->mutable_leaf() = r.Get(3)->record_bytes;
    b.mutable_evidence(1)->set_index(3);
    *b.mutable_evidence(1)->mutable_proof() = proof_of(3, size);
    add("evidence_not_the_flags", b, "the flag names entry");
  }
  {
    v1::DisputeBundle b = good;
    b.mutable_evidence()->RemoveLast();
    add("evidence_missing", b, "the flag names 2 evidence entries");
  }
  {
    v1::DisputeBundle b = good;  // the same tree head, signed by another key under the log's name
    b.mutable_checkpoint()->set_signed_note(SignedCheckpoint(
        size, *r.Root(size), MustSigner(kImpostorSigner), {MustWitness(0), MustWitness(1)}));
    add("checkpoint_signed_by_another_key", b, "no verifiable signatures");
  }
  {
    v1::DisputeBundle b = good;  // one cosignature where the policy asks for two
    b.mutable_checkpoint()->set_signed_note(
        SignedCheckpoint(size, *r.Root(size), MustSigner(kLogSigner), {MustWitness(0)}));
    b.mutable_checkpoint()->mutable_witnesses()->RemoveLast();
    add("checkpoint_below_quorum", b, "1 of the 2 witness cosignatures");
  }
  {
    v1::DisputeBundle b = good;  // the bundle says to trust fewer cosignatures than the verifier
    b.mutable_policy()->set_quorum(0);
    add("policy_downgraded", b, "not the trusted policy");
  }
  {
    v1::DisputeBundle b = good;
    b.set_version(2);
    add("version_altered", b, "version 2");
  }
  {
    v1::DisputeBundle b = good;
    b.set_version(0);
    add("version_downgraded", b, "version 0");
  }
  {
    v1::DisputeBundle b = good;  // a replayed rule claimed as a limits check
    b.mutable_manifest()->set_method(v1::REEVALUATION_METHOD_LIMITS);
    b.mutable_manifest()->clear_replay_indices();
    b.clear_context();
    add("method_downgraded", b, "manifest does not match");
  }
  {
    v1::DisputeBundle b = good;  // "consistent from size 0" with an empty proof
    b.mutable_consistency()->set_old_size(0);
    b.mutable_consistency()->clear_hashes();
    add("consistency_empty_from_size_0", b, "from size 0");
  }
  {
    // A log that holds a flag its evidence does not support: the FLAG entry states an observed
    // count of 3 where the claims give 2. Every proof and signature is good.
    auto forged = FixtureStore((tmp / "forged").string(),
                               [](v1::Envelope& f) { f.mutable_flag()->set_observed(3); });
    auto b = Build(*forged->store(), FixtureFlagId(*forged->store()),
                   {.policy = policy, .since_size = std::nullopt});
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    add("evidence_does_not_reproduce_flag", *b, "other figures than the logged one");
  }
  {
    // A flag naming a patient's single claim as a duplicate: the evidence raises no flag.
    auto forged = FixtureStore((tmp / "unsupported").string(), [](v1::Envelope& f) {
      f.mutable_flag()->set_flag_id(
          "0000000000000000000000000000000000000000000000000000000000000000");
      f.set_event_id(f.flag().flag_id());
      f.mutable_flag()->set_judged_at_tree_size(4);
      f.mutable_flag()->mutable_evidence()->RemoveLast();
    });
    auto b = Build(*forged->store(), FixtureFlagId(*forged->store()),
                   {.policy = policy, .since_size = std::nullopt});
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    add("evidence_raises_no_flag", *b, "does not reproduce flag");
  }
  return out;
}

}  // namespace probity::bundle::testing
