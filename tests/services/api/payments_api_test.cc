// The api's payments routes over HTTP (services/api/payments_routes.cc, docs/api.md "Payments"):
// a claim's bundle, a payment run's export and money at stake, each scoped to the caller (out of
// scope answered as unknown), each read recorded in the log, every response checked against
// docs/openapi.yaml. The instructions come from the payments follower run over the test log.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "common/crypto/sha256.h"
#include "probity/v1/payments_api.pb.h"
#include "services/bundle/bundle.h"
#include "services/payments/payments.h"
#include "services/payments/policy.h"
#include "services/rules/rule_set.h"
#include "tests/services/api/api_harness.h"

namespace probity::api::testing {
namespace {

constexpr char kPolicy[] =
    "name: api-holds\nversion: \"1\"\napprove_after_days: 7\ncutoff_days: 5\n"
    "holds:\n  - rule: ios-duplicate\n    scope: claim\n";
constexpr Micros kDay = 86400LL * 1000000;
const std::string kFlag(64, 'c');

template <typename M>
M Parse(const std::string& json) {
  M m;
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(json, &m, o);
  EXPECT_TRUE(st.ok()) << st.message() << " in " << json.substr(0, 300);
  return m;
}

class PaymentsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_ = std::make_unique<ApiHarness>(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto rs = rules::LoadRuleSet(kRulesYaml);
    ASSERT_TRUE(rs.ok()) << rs.status().ToString();
    auto policy = payments::LoadHoldPolicy(kPolicy, *rs);
    ASSERT_TRUE(policy.ok()) << policy.status().ToString();
    pay_ = std::make_unique<payments::PaymentsFollower>(payments::PaymentsFollower::Options{},
                                                        *policy);
    ASSERT_TRUE(pay_->Restore().ok());
  }
  void TearDown() override {
    if (h_ && h_->kept() > 0) h_->ValidateResponses();
  }

  // Adds an entry, then runs the payments follower over the log and logs what it publishes.
  uint64_t Add(const v1::Envelope& env, std::string_view topic) {
    const uint64_t i = h_->ingest().Add(env, topic);
    Pump();
    return i;
  }
  void Pump() {
    MiniIngest& in = h_->ingest();
    for (;;) {
      for (const auto& p : out_.out) {
        v1::Envelope env;
        ASSERT_TRUE(env.ParseFromString(p.second));
        in.Add(env, env.has_hold_policy() ? bus::kPoliciesTopic : bus::kPaymentInstructionsTopic);
      }
      out_.out.clear();
      if (fed_ == in.size()) return;
      for (; fed_ < in.size(); ++fed_) {
        const std::string leaf = in.store()->Get(fed_)->record_bytes;
        v1::LogRecord r;
        ASSERT_TRUE(r.ParseFromString(leaf));
        auto env = follow::DecodeRecordEnvelope(r);
        ASSERT_TRUE(env.ok());
        follow::Event ev{
            .index = fed_, .leaf = leaf, .record = &r, .envelope = &*env, .tree_size = fed_ + 1};
        ASSERT_TRUE(pay_->Apply(ev, &out_).ok());
      }
    }
  }

  // A81001 (QHM) and B82002 (QWO); a flag on A81001's claim c-a1, upheld (WITHHOLD); B82002's
  // claim c-b1 approved; c-a2 held by a second, open flag.
  void Populate() {
    pay_->set_publish_time(kT0 - kDay);
    ASSERT_TRUE(pay_->PublishAtStart(&out_).ok());
    Add(Practice("A81001", "QHM"), bus::kPracticesTopic);
    Add(Practice("B82002", "QWO"), bus::kPracticesTopic);
    const std::string rules_hash = crypto::Sha256Hex(kRulesYaml);
    Add(RuleSetEvent(kRulesYaml, rules_hash), bus::kRuleSetsTopic);
    const uint64_t a1 = Add(Claim("a1", "A81001", kT0 + kDay), bus::kClaimsTopic);
    Add(Claim("b1", "B82002", kT0 + kDay), bus::kClaimsTopic);
    Add(Claim("a2", "A81001", kT0 + 2 * kDay), bus::kClaimsTopic);
    v1::Envelope flag = FlagEvent(kFlag, "A81001", "QHM", rules_hash, {{a1, "a1"}});
    flag.mutable_flag()->set_claim_id("c-a1");
    flag.mutable_flag()->set_judged_at_tree_size(h_->ingest().size());
    Add(flag, bus::kFlagsTopic);
    v1::Envelope flag2 = FlagEvent(std::string(64, 'd'), "A81001", "QHM", rules_hash, {{a1, "a1"}});
    flag2.mutable_flag()->set_claim_id("c-a2");
    flag2.mutable_flag()->set_judged_at_tree_size(h_->ingest().size());
    Add(flag2, bus::kFlagsTopic);
    v1::Envelope d = Base("dec-1", v1::EVENT_KIND_FLAG_DECISION, "A81001", kT0 + 3 * kDay);
    d.mutable_flag_decision()->set_flag_id(kFlag);
    d.mutable_flag_decision()->set_outcome(v1::DECISION_OUTCOME_UPHOLD);
    d.mutable_flag_decision()->set_reason("one check a year");
    d.mutable_flag_decision()->set_decided_by("cm@qhm");
    Add(d, bus::kDecisionsTopic);
    Add(Claim("b2", "B82002", kT0 + 12 * kDay), bus::kClaimsTopic);  // log time: b1 approved
    h_->ingest().Sign();
    h_->StartApi();
    h_->Settle();
    // The payment run of the instructions.
    for (uint64_t i = 0; i < h_->ingest().size(); ++i) {
      v1::LogRecord r;
      r.ParseFromString(h_->ingest().store()->Get(i)->record_bytes);
      if (r.kind() != v1::EVENT_KIND_PAYMENT_INSTRUCTION) continue;
      auto env = follow::DecodeRecordEnvelope(r);
      actions_[env->payment_instruction().claim_id()].push_back(
          env->payment_instruction().action());
      run_ = env->payment_instruction().payment_date();
    }
  }
  size_t AccessRecords() { return h_->ingest().Count(bus::kAccessTopic); }

  std::unique_ptr<ApiHarness> h_;
  std::unique_ptr<payments::PaymentsFollower> pay_;
  struct Out final : follow::Publisher {
    Status Publish(std::string_view, std::string_view key, std::string_view value,
                   const bus::Headers&) override {
      out.emplace_back(std::string(key), std::string(value));
      return Status::Ok();
    }
    std::vector<std::pair<std::string, std::string>> out;
  } out_;
  uint64_t fed_ = 0;
  std::map<std::string, std::vector<v1::PaymentAction>> actions_;
  std::string run_;
};

TEST_F(PaymentsApiTest, ClaimBundleIsScopedAndRecorded) {
  Populate();
  ASSERT_EQ(actions_["c-a1"], (std::vector{v1::PAYMENT_ACTION_HOLD, v1::PAYMENT_ACTION_WITHHOLD}));
  ASSERT_EQ(actions_["c-b1"], std::vector{v1::PAYMENT_ACTION_APPROVE});
  const size_t before = AccessRecords();
  for (const char* who : {"cm-qhm", "pr-a", "auditor"}) {
    Response r = h_->Get("/v1/claims/c-a1/bundle", who);
    ASSERT_EQ(r.status, 200) << who << " " << r.body;
    auto b = bundle::ParseFile(r.body);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(b->claim().claim_id(), "c-a1");
    EXPECT_EQ(b->claim().instructions_size(), 2);
    EXPECT_EQ(b->claim().flags_size(), 1);
    EXPECT_EQ(b->claim().decisions_size(), 1);
  }
  EXPECT_EQ(AccessRecords(), before + 3);
  // Out of scope is answered as unknown, and nothing is recorded.
  Response unknown = h_->Get("/v1/claims/c-nosuch/bundle", "cm-qwo");
  EXPECT_EQ(unknown.status, 404);
  for (const char* who : {"cm-qwo", "pr-b"}) {
    Response r = h_->Get("/v1/claims/c-a1/bundle", who);
    EXPECT_EQ(r.status, 404) << who;
    EXPECT_NE(r.body.find("claim c-a1 not found"), std::string::npos) << r.body;
  }
  EXPECT_EQ(AccessRecords(), before + 3);
  EXPECT_EQ(h_->Get("/v1/claims/c-a1/bundle?since_size=x", "auditor").status, 400);
}

TEST_F(PaymentsApiTest, ExportIsReproducibleAndScoped) {
  Populate();
  ASSERT_FALSE(run_.empty());
  Response all = h_->Get("/v1/payments/exports/" + run_, "auditor");
  ASSERT_EQ(all.status, 200) << all.body;
  auto a = Parse<v1::PaymentExportAnswer>(all.body);
  EXPECT_FALSE(a.scoped());
  EXPECT_EQ(a.covers_tree_size(), a.checkpoint().tree_size());
  EXPECT_EQ(a.contract_variation().sha256_hex(),
            crypto::Sha256Hex(a.contract_variation().content()));
  EXPECT_NE(a.contract_variation().content().find(",c-a1,"), std::string::npos);
  EXPECT_NE(a.contract_variation().content().find(",c-b1,"), std::string::npos);
  EXPECT_NE(a.holds().content().find("PROBITY UPHELD"), std::string::npos);
  EXPECT_FALSE(a.contract_variation().logged());  // nobody logged this export yet
  // The same size later, after more entries: the same bytes.
  h_->ingest().Add(Claim("a9", "A81001", kT0 + 13 * kDay), bus::kClaimsTopic);
  h_->ingest().Sign();
  Response again = h_->Get(
      "/v1/payments/exports/" + run_ + "?size=" + std::to_string(a.covers_tree_size()), "auditor");
  ASSERT_EQ(again.status, 200) << again.body;
  auto a2 = Parse<v1::PaymentExportAnswer>(again.body);
  EXPECT_EQ(a2.contract_variation().content(), a.contract_variation().content());
  EXPECT_EQ(a2.holds().sha256_hex(), a.holds().sha256_hex());
  EXPECT_GT(a2.checkpoint().tree_size(), a.checkpoint().tree_size());

  // A practice sees its own rows only: a scoped file.
  auto p = Parse<v1::PaymentExportAnswer>(h_->Get("/v1/payments/exports/" + run_, "pr-b").body);
  EXPECT_TRUE(p.scoped());
  EXPECT_NE(p.contract_variation().content().find(",c-b1,"), std::string::npos);
  EXPECT_EQ(p.contract_variation().content().find("A81001"), std::string::npos);
  EXPECT_NE(p.contract_variation().sha256_hex(), a.contract_variation().sha256_hex());

  EXPECT_EQ(h_->Get("/v1/payments/exports/2023-02-30", "auditor").status, 400);
  EXPECT_EQ(h_->Get("/v1/payments/exports/" + run_ + "?since=2099-01-01", "auditor").status, 400);
  EXPECT_EQ(h_->Get("/v1/payments/exports/" + run_ + "?size=0", "auditor").status, 400);
}

TEST_F(PaymentsApiTest, MoneyAtStakeIsScoped) {
  Populate();
  auto m = Parse<v1::MoneyAtStakeAnswer>(h_->Get("/v1/payments/money", "auditor").body);
  EXPECT_EQ(m.total().withheld_pence(), 1000);
  EXPECT_EQ(m.total().held_pence(), 1000);  // c-a2
  ASSERT_EQ(m.by_icb_size(), 1);
  EXPECT_EQ(m.by_icb(0).key(), "QHM");
  ASSERT_EQ(m.by_rule_size(), 1);
  EXPECT_EQ(m.by_rule(0).key(), "ios-duplicate");
  EXPECT_EQ(m.by_rule(0).withheld_claims(), 1u);
  EXPECT_FALSE(m.access_record_id().empty());
  auto other = Parse<v1::MoneyAtStakeAnswer>(h_->Get("/v1/payments/money", "cm-qwo").body);
  EXPECT_EQ(other.total().withheld_pence(), 0);
  EXPECT_EQ(other.by_practice_size(), 0);
  auto own = Parse<v1::MoneyAtStakeAnswer>(h_->Get("/v1/payments/money", "pr-a").body);
  ASSERT_EQ(own.by_practice_size(), 1);
  EXPECT_EQ(own.by_practice(0).key(), "A81001");
  EXPECT_EQ(own.by_practice(0).held_claims(), 1u);
}

}  // namespace
}  // namespace probity::api::testing
