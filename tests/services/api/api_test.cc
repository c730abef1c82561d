// The api over HTTP: trails, entries, proofs, checkpoints, flags, explanations, decisions,
// access records, scopes and limits. Every response of every test is checked against
// docs/openapi.yaml at the end of the test (ApiTest::TearDown).
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <regex>
#include <sstream>

#include "common/crypto/sha256.h"
#include "common/merkle/proof.h"
#include "services/bundle/bundle.h"
#include "tests/services/api/api_harness.h"

namespace probity::api::testing {
namespace {

const std::string kFlagA(64, 'a');
const std::string kFlagB(64, 'b');
const std::string kNoFlag(64, 'f');

// `body` without the words of the request target that an error message may echo.
std::string Scrub(std::string body, const std::string& target) {
  std::string word;
  std::vector<std::string> words;
  for (char c : target + "/") {
    if (c == '/' || c == '?' || c == '&' || c == '=') {
      if (word.size() >= 3) words.push_back(word);
      word.clear();
    } else {
      word.push_back(c);
    }
  }
  for (const std::string& w : words) {
    for (size_t at; (at = body.find(w)) != std::string::npos;) body.erase(at, w.size());
  }
  return body;
}

template <typename M>
M Parse(const std::string& json) {
  M m;
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(json, &m, o);
  EXPECT_TRUE(st.ok()) << st.message() << " in " << json.substr(0, 300);
  return m;
}

merkle::Hash H(const std::string& bytes) { return merkle::HashFromBytes(bytes).value(); }

// Checks a proof in the JSON shape against the checkpoint it names.
void ExpectProves(const v1::EntryProof& p, const v1::Checkpoint& cp) {
  std::vector<merkle::Hash> path;
  for (const auto& h : p.proof().hashes()) path.push_back(H(h));
  EXPECT_EQ(p.proof().tree_size(), cp.tree_size());
  EXPECT_EQ(merkle::HashLeaf(p.leaf()), H(p.proof().leaf_hash()));
  EXPECT_TRUE(merkle::VerifyInclusion(p.index(), cp.tree_size(), merkle::HashLeaf(p.leaf()), path,
                                      H(cp.root_hash()))
                  .ok())
      << "entry " << p.index();
}

// Checks every entry of a trail (paged or streamed) against its one checkpoint, resolving node
// numbers through the table the answer builds.
void ExpectTrailProves(const std::vector<v1::TrailEntry>& entries, const v1::Checkpoint& cp) {
  std::vector<std::string> table;
  for (const v1::TrailEntry& e : entries) {
    for (const auto& n : e.new_nodes()) table.push_back(n);
    std::vector<merkle::Hash> path;
    for (uint32_t id : e.proof()) {
      ASSERT_LT(id, table.size());
      path.push_back(H(table[id]));
    }
    EXPECT_TRUE(merkle::VerifyInclusion(e.index(), cp.tree_size(), merkle::HashLeaf(e.leaf()), path,
                                        H(cp.root_hash()))
                    .ok())
        << "entry " << e.index();
  }
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override { Build(ApiOptions{}); }
  void Build(ApiOptions o) {
    h_.reset();  // one store per test directory
    h_ = std::make_unique<ApiHarness>(
        ::testing::UnitTest::GetInstance()->current_test_info()->name(), o);
  }
  void TearDown() override {
    if (h_ && h_->kept() > 0) h_->ValidateResponses();
  }

  // Two practices in two ICBs, claims and a referral, a rule set and one flag on each.
  void Populate() {
    MiniIngest& in = h_->ingest();
    in.Add(Practice("A81001", "QHM"), bus::kPracticesTopic);
    in.Add(Practice("B82002", "QWO"), bus::kPracticesTopic);
    rules_hash_ = crypto::Sha256Hex(kRulesYaml);
    in.Add(RuleSetEvent(kRulesYaml, rules_hash_), bus::kRuleSetsTopic);
    for (int i = 0; i < 6; ++i) {
      a_claims_.push_back(
          in.Add(Claim("a-claim-" + std::to_string(i), "A81001", kT0 + i * 86400LL * 1000000),
                 bus::kClaimsTopic));
    }
    in.Add(Referral("a-ref-0", "A81001", kT0 + 2 * 86400LL * 1000000 + 5), bus::kReferralsTopic);
    for (int i = 0; i < 3; ++i) {
      b_claims_.push_back(
          in.Add(Claim("b-claim-" + std::to_string(i), "B82002", kT0 + i * 86400LL * 1000000),
                 bus::kClaimsTopic));
    }
    flag_a_index_ = in.Add(FlagEvent(kFlagA, "A81001", "QHM", rules_hash_,
                                     {{a_claims_[0], "a-claim-0"}, {a_claims_[1], "a-claim-1"}}),
                           bus::kFlagsTopic);
    in.Add(FlagEvent(kFlagB, "B82002", "QWO", rules_hash_, {{b_claims_[0], "b-claim-0"}},
                     v1::SEVERITY_CRITICAL),
           bus::kFlagsTopic);
    in.Sign();
    h_->StartApi();
    h_->Settle();
  }

  size_t AccessRecords() { return h_->ingest().Count(bus::kAccessTopic); }
  // Entries of this kind in the log.
  int CountKind(v1::EventKind kind) {
    int n = 0;
    for (uint64_t i = 0; i < h_->ingest().size(); ++i) {
      v1::LogRecord rec;
      rec.ParseFromString(h_->ingest().store()->Get(i).value().record_bytes);
      n += rec.kind() == kind;
    }
    return n;
  }

  std::unique_ptr<ApiHarness> h_;
  std::string rules_hash_;
  std::vector<uint64_t> a_claims_, b_claims_;
  uint64_t flag_a_index_ = 0;
};

TEST_F(ApiTest, TrailPagesByCursorWithProofsAgainstOneCheckpointAndEachReadIsRecorded) {
  Populate();
  std::vector<v1::TrailEntry> all;
  std::string cursor;
  v1::Checkpoint cp;
  int pages = 0;
  do {
    Response r =
        h_->Get("/v1/practices/A81001/trail?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor),
                "cm-qhm");
    ASSERT_EQ(r.status, 200) << r.body;
    auto page = Parse<v1::TrailPage>(r.body);
    if (pages == 0) cp = page.header().checkpoint();
    EXPECT_EQ(page.header().checkpoint().tree_size(), cp.tree_size());
    EXPECT_FALSE(page.header().access_record_id().empty());
    ExpectTrailProves({page.entries().begin(), page.entries().end()}, cp);
    for (const auto& e : page.entries()) all.push_back(e);
    cursor = page.end().next_cursor();
    ++pages;
  } while (!cursor.empty() && pages < 10);
  // The register update, 6 claims, a referral and the flag, in event-time order (access records
  // are not part of a trail: they are served by /access).
  ASSERT_EQ(all.size(), 9u);
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_LE(all[i - 1].occurred_at().seconds(), all[i].occurred_at().seconds());
  }
  for (const auto& e : all) {
    v1::LogRecord r;
    ASSERT_TRUE(r.ParseFromString(e.leaf()));
    EXPECT_EQ(r.practice_code(), "A81001");
    EXPECT_EQ(r.event_id(), e.event_id());
  }
  EXPECT_EQ(cp.origin(), "probity.test/log");
  EXPECT_EQ(AccessRecords(), static_cast<size_t>(pages));

  // Kind and event-time filters.
  auto refs =
      Parse<v1::TrailPage>(h_->Get("/v1/practices/A81001/trail?kind=referral", "pr-a").body);
  ASSERT_EQ(refs.entries_size(), 1);
  EXPECT_EQ(refs.entries(0).event_id(), "a-ref-0");
  auto window = Parse<v1::TrailPage>(
      h_->Get(
            "/v1/practices/A81001/trail?from=2023-04-02&to=2023-04-04&kind=claim&include=envelope",
            "auditor")
          .body);
  ASSERT_EQ(window.entries_size(), 2);
  EXPECT_EQ(window.entries(0).envelope().claim().claim_id(), "c-a-claim-1");
  EXPECT_TRUE(window.end().next_cursor().empty());

  // The access records are in the log (through the stand-in ingest), naming who read what.
  h_->Settle();
  auto who = Parse<v1::AccessLog>(h_->Get("/v1/practices/A81001/access?limit=100", "pr-a").body);
  ASSERT_GE(who.items_size(), pages + 2);
  EXPECT_EQ(who.items(0).record().principal(), "cm-qhm");
  EXPECT_EQ(who.items(0).record().role(), "commissioner");
  EXPECT_EQ(who.items(0).record().action(), "trail");
  for (const auto& item : who.items()) ExpectProves(item.proof(), who.checkpoint());
}

TEST_F(ApiTest, TrailStreamsJsonLinesSharingProofNodes) {
  Populate();
  Response r = h_->Call("GET", "/v1/practices/A81001/trail", "auditor", "",
                        {{"Accept", "application/x-ndjson"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/x-ndjson");
  std::istringstream lines(r.body);
  std::string line;
  std::vector<v1::TrailLine> parsed;
  while (std::getline(lines, line)) parsed.push_back(Parse<v1::TrailLine>(line));
  ASSERT_EQ(parsed.size(), 11u);  // header, 9 entries, end
  ASSERT_TRUE(parsed.front().has_header());
  ASSERT_TRUE(parsed.back().has_end());
  EXPECT_EQ(parsed.back().end().entries(), 9u);
  std::vector<v1::TrailEntry> entries;
  size_t nodes = 0, refs = 0;
  for (size_t i = 1; i + 1 < parsed.size(); ++i) {
    entries.push_back(parsed[i].entry());
    nodes += parsed[i].entry().new_nodes_size();
    refs += parsed[i].entry().proof_size();
  }
  ExpectTrailProves(entries, parsed.front().header().checkpoint());
  EXPECT_LT(nodes, refs);  // shared nodes were sent once
}

TEST_F(ApiTest, EntryByIndexOrEventIdCarriesExactLeafBytesAndProof) {
  Populate();
  Response r = h_->Get("/v1/entries/" + std::to_string(a_claims_[2]), "pr-a");
  ASSERT_EQ(r.status, 200) << r.body;
  auto e = Parse<v1::EntryResponse>(r.body);
  auto stored = h_->ingest().store()->Get(a_claims_[2]).value();
  EXPECT_EQ(e.entry().leaf(), stored.record_bytes);
  ExpectProves(e.entry(), e.checkpoint());
  EXPECT_EQ(e.envelope().event_id(), "a-claim-2");
  EXPECT_FALSE(e.access_record_id().empty());

  auto byid = Parse<v1::EntryResponse>(h_->Get("/v1/events/a-claim-2", "auditor").body);
  EXPECT_EQ(byid.entry().index(), a_claims_[2]);
  // A rule set is no practice's data: anyone may read it, and no access record is needed.
  const size_t before = AccessRecords();
  auto rs = Parse<v1::EntryResponse>(h_->Get("/v1/events/ruleset-" + rules_hash_, "pr-b").body);
  EXPECT_EQ(rs.envelope().rule_set().sha256_hex(), rules_hash_);
  EXPECT_EQ(AccessRecords(), before);
  EXPECT_EQ(h_->Get("/v1/entries/999999", "auditor").status, 404);
  EXPECT_EQ(h_->Get("/v1/entries/x1", "auditor").status, 400);
}

TEST_F(ApiTest, ConsistencyProofsAndCheckpoints) {
  Populate();
  const uint64_t first = h_->ingest().size();
  h_->ingest().Add(Claim("a-claim-late", "A81001", kT0), bus::kClaimsTopic);
  h_->ingest().Sign();
  auto latest = Parse<v1::Checkpoint>(h_->Get("/v1/checkpoints/latest", "pr-a").body);
  EXPECT_EQ(latest.tree_size(), first + 1);
  auto list = Parse<v1::CheckpointList>(h_->Get("/v1/checkpoints?limit=10", "pr-a").body);
  ASSERT_EQ(list.checkpoints_size(), 2);
  EXPECT_EQ(list.checkpoints(0).tree_size(), first);
  auto past =
      Parse<v1::Checkpoint>(h_->Get("/v1/checkpoints/" + std::to_string(first), "cm-qwo").body);
  EXPECT_EQ(past.root_hash(), list.checkpoints(0).root_hash());
  Response r = h_->Get("/v1/proofs/consistency?from=" + std::to_string(first), "pr-b");
  ASSERT_EQ(r.status, 200) << r.body;
  auto c = Parse<v1::ConsistencyResponse>(r.body);
  std::vector<merkle::Hash> proof;
  for (const auto& x : c.proof().hashes()) proof.push_back(H(x));
  EXPECT_TRUE(merkle::VerifyConsistency(first, first + 1, proof, H(past.root_hash()),
                                        H(c.checkpoint().root_hash()))
                  .ok());
  EXPECT_EQ(h_->Get("/v1/proofs/consistency?from=0", "pr-b").status, 400);
  EXPECT_EQ(h_->Get("/v1/proofs/consistency?from=1&to=4", "pr-b").status, 404);  // no such cp
  EXPECT_EQ(h_->Get("/v1/checkpoints/12345", "pr-b").status, 404);
  // An entry against a past checkpoint.
  auto old = Parse<v1::EntryResponse>(
      h_->Get("/v1/entries/3?checkpoint_size=" + std::to_string(first), "auditor").body);
  EXPECT_EQ(old.checkpoint().tree_size(), first);
  ExpectProves(old.entry(), old.checkpoint());
}

TEST_F(ApiTest, FlagsFilterAndExplainWithProofs) {
  Populate();
  auto all = Parse<v1::FlagList>(h_->Get("/v1/flags", "auditor").body);
  ASSERT_EQ(all.flags_size(), 2);
  for (const auto& f : all.flags()) ExpectProves(f.proof(), all.checkpoint());
  auto crit = Parse<v1::FlagList>(h_->Get("/v1/flags?severity=critical", "auditor").body);
  ASSERT_EQ(crit.flags_size(), 1);
  EXPECT_EQ(crit.flags(0).flag_id(), kFlagB);
  EXPECT_EQ(
      Parse<v1::FlagList>(h_->Get("/v1/flags?icb=QHM&status=open", "auditor").body).flags_size(),
      1);
  EXPECT_EQ(Parse<v1::FlagList>(h_->Get("/v1/flags?rule=ios-duplicate&practice=B82002&from="
                                        "2023-04-01&to=2023-04-02",
                                        "auditor")
                                    .body)
                .flags_size(),
            1);
  EXPECT_EQ(Parse<v1::FlagList>(h_->Get("/v1/flags?status=upheld", "auditor").body).flags_size(),
            0);
  auto page = Parse<v1::FlagList>(h_->Get("/v1/flags?limit=1", "auditor").body);
  ASSERT_EQ(page.flags_size(), 1);
  auto rest = Parse<v1::FlagList>(
      h_->Get("/v1/flags?limit=1&cursor=" + page.next_cursor(), "auditor").body);
  ASSERT_EQ(rest.flags_size(), 1);
  EXPECT_NE(rest.flags(0).flag_id(), page.flags(0).flag_id());
  EXPECT_EQ(h_->Get("/v1/flags?severity=loud", "auditor").status, 400);
  EXPECT_EQ(h_->Get("/v1/flags?status=closed", "auditor").status, 400);
  EXPECT_EQ(h_->Get("/v1/flags?limit=100000", "auditor").status, 400);

  Response r = h_->Get("/v1/flags/" + kFlagA + "/explanation", "pr-a");
  ASSERT_EQ(r.status, 200) << r.body;
  auto x = Parse<v1::FlagExplanation>(r.body);
  EXPECT_EQ(x.rule_in_plain_english(),
            "The same item of service claimed twice for the same patient.");
  EXPECT_EQ(x.parameters().at("intervals"), "FLU65: financial_year");
  EXPECT_NE(x.observed_vs_expected().find("Observed 2 against an expected 1"), std::string::npos)
      << x.observed_vs_expected();
  EXPECT_EQ(x.baseline().peers(), 12u);
  ASSERT_EQ(x.evidence_size(), 2);
  for (const auto& ev : x.evidence()) {
    ExpectProves(ev.entry(), x.checkpoint());
    EXPECT_EQ(ev.envelope().event_id(), ev.event_id());
  }
  ExpectProves(x.flag().proof(), x.checkpoint());
  EXPECT_FALSE(x.access_record_id().empty());
}

TEST_F(ApiTest, BundleIsTheLibrarysFileWithProofsAndItsReadIsRecorded) {
  Populate();
  const size_t before = AccessRecords();
  Response r = h_->Get("/v1/flags/" + kFlagA + "/bundle", "pr-a");
  ASSERT_EQ(r.status, 200) << r.body;
  auto parsed = bundle::ParseFile(r.body);  // the canonical file, byte for byte
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->flag_id(), kFlagA);
  EXPECT_EQ(parsed->evidence_size(), 2);
  ExpectProves(parsed->flag(), parsed->checkpoint());
  for (const auto& e : parsed->evidence()) ExpectProves(e, parsed->checkpoint());
  EXPECT_EQ(parsed->policy().log_vkey(), h_->ingest().verifier_key());
  EXPECT_EQ(AccessRecords(), before + 1);
  h_->Settle();
  auto who = Parse<v1::AccessLog>(h_->Get("/v1/practices/A81001/access?limit=100", "auditor").body);
  bool bundle_read = false;
  for (const auto& item : who.items()) bundle_read |= item.record().action() == "bundle";
  EXPECT_TRUE(bundle_read);
  EXPECT_EQ(h_->Get("/v1/flags/" + kFlagA + "/bundle?since_size=x", "pr-a").status, 400);
}

TEST_F(ApiTest, DecisionEndsInTheLogChangesTheStatusAndIsNeverMadeTwice) {
  Populate();
  const std::string path = "/v1/flags/" + kFlagA + "/decisions?wait=5000";
  const std::string body =
      R"({"outcome":"DECISION_OUTCOME_UPHOLD","reason":"duplicate confirmed"})";
  Response r = h_->Call("POST", path, "cm-qhm", body, {{"Idempotency-Key", "k-1"}});
  ASSERT_EQ(r.status, 202) << r.body;
  auto accepted = Parse<v1::DecisionAccepted>(r.body);
  EXPECT_TRUE(accepted.sequenced());
  EXPECT_FALSE(accepted.replayed());
  const uint64_t at = accepted.log_index();
  auto entry = h_->ingest().store()->Get(at).value();
  v1::LogRecord rec;
  ASSERT_TRUE(rec.ParseFromString(entry.record_bytes));
  EXPECT_EQ(rec.kind(), v1::EVENT_KIND_FLAG_DECISION);
  EXPECT_EQ(rec.event_id(), accepted.decision_id());
  EXPECT_EQ(rec.topic(), bus::kDecisionsTopic);

  auto hist =
      Parse<v1::DecisionHistory>(h_->Get("/v1/flags/" + kFlagA + "/decisions", "pr-a").body);
  EXPECT_EQ(hist.status(), v1::FLAG_STATUS_UPHELD);
  ASSERT_EQ(hist.decisions_size(), 1);
  EXPECT_EQ(hist.decisions(0).decision().decided_by(), "cm-qhm");
  EXPECT_EQ(hist.decisions(0).decision().decided_by_role(), "contract_manager");
  EXPECT_EQ(Parse<v1::FlagList>(h_->Get("/v1/flags?status=upheld", "auditor").body).flags_size(),
            1);

  // A retry is the same decision; the same key with another body is refused.
  Response again = h_->Call("POST", path, "cm-qhm", body, {{"Idempotency-Key", "k-1"}});
  ASSERT_EQ(again.status, 202) << again.body;
  auto replay = Parse<v1::DecisionAccepted>(again.body);
  EXPECT_TRUE(replay.replayed());
  EXPECT_EQ(replay.decision_id(), accepted.decision_id());
  EXPECT_EQ(replay.log_index(), at);
  Response other = h_->Call("POST", path, "cm-qhm",
                            R"({"outcome":"DECISION_OUTCOME_DISMISS","reason":"changed mind"})",
                            {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(other.status, 422) << other.body;
  EXPECT_EQ(h_->ingest().Count(bus::kDecisionsTopic), 2u);  // the first and its retry, same bytes
  EXPECT_EQ(CountKind(v1::EVENT_KIND_FLAG_DECISION), 1);    // logged once

  // A later decision supersedes; the history keeps both.
  Response ack = h_->Call("POST", path, "cm-qhm",
                          R"({"outcome":"DECISION_OUTCOME_ACKNOWLEDGE","reason":"reopened",)"
                          R"("decided_by":"J. Smith"})",
                          {{"Idempotency-Key", "k-2"}});
  ASSERT_EQ(ack.status, 202) << ack.body;
  hist = Parse<v1::DecisionHistory>(h_->Get("/v1/flags/" + kFlagA + "/decisions", "auditor").body);
  EXPECT_EQ(hist.status(), v1::FLAG_STATUS_ACKNOWLEDGED);
  ASSERT_EQ(hist.decisions_size(), 2);
  EXPECT_EQ(hist.decisions(1).decision().decided_by(), "J. Smith");
  auto x =
      Parse<v1::FlagExplanation>(h_->Get("/v1/flags/" + kFlagA + "/explanation", "cm-qhm").body);
  EXPECT_EQ(x.decisions_size(), 2);
  EXPECT_EQ(x.flag().status(), v1::FLAG_STATUS_ACKNOWLEDGED);

  // Bad requests.
  EXPECT_EQ(h_->Call("POST", path, "cm-qhm", body).status, 400);  // no Idempotency-Key
  EXPECT_EQ(h_->Call("POST", path, "cm-qhm", "{", {{"Idempotency-Key", "k-3"}}).status, 400);
  EXPECT_EQ(h_->Call("POST", path, "cm-qhm", R"({"outcome":"DECISION_OUTCOME_UPHOLD","x":1})",
                     {{"Idempotency-Key", "k-4"}})
                .status,
            400);
  EXPECT_EQ(
      h_->Call("POST", path, "cm-qhm", R"({"reason":"no outcome"})", {{"Idempotency-Key", "k-5"}})
          .status,
      400);
  EXPECT_EQ(h_->Call("POST", path, "cm-qhm", body, {{"Idempotency-Key", "bad key"}}).status, 400);
}

// Every role against every endpoint, in and out of scope. Out of scope answers exactly as what
// does not exist, and no answer names anything the caller may not see.
TEST_F(ApiTest, AuthorizationMatrixEveryRoleEveryEndpointNoLeaks) {
  Populate();
  struct Target {
    std::string name;
    std::string method;
    std::string in_a;     // a request about practice A81001's data
    std::string in_b;     // the same about B82002's
    std::string missing;  // the same about something that does not exist
    bool practice_data;   // scoped by practice
  };
  const std::string a_claim = std::to_string(a_claims_[0]);
  const std::string b_claim = std::to_string(b_claims_[0]);
  const std::vector<Target> targets = {
      {"trail", "GET", "/v1/practices/A81001/trail", "/v1/practices/B82002/trail",
       "/v1/practices/C99999/trail", true},
      {"access", "GET", "/v1/practices/A81001/access", "/v1/practices/B82002/access",
       "/v1/practices/C99999/access", true},
      {"entry", "GET", "/v1/entries/" + a_claim, "/v1/entries/" + b_claim, "/v1/entries/99999",
       true},
      {"event", "GET", "/v1/events/a-claim-0", "/v1/events/b-claim-0", "/v1/events/zz-none", true},
      {"explanation", "GET", "/v1/flags/" + kFlagA + "/explanation",
       "/v1/flags/" + kFlagB + "/explanation", "/v1/flags/" + kNoFlag + "/explanation", true},
      {"decisions", "GET", "/v1/flags/" + kFlagA + "/decisions",
       "/v1/flags/" + kFlagB + "/decisions", "/v1/flags/" + kNoFlag + "/decisions", true},
      {"decide", "POST", "/v1/flags/" + kFlagA + "/decisions", "/v1/flags/" + kFlagB + "/decisions",
       "/v1/flags/" + kNoFlag + "/decisions", true},
      {"bundle", "GET", "/v1/flags/" + kFlagA + "/bundle", "/v1/flags/" + kFlagB + "/bundle",
       "/v1/flags/" + kNoFlag + "/bundle", true},
      {"flags", "GET", "/v1/flags?practice=A81001", "/v1/flags?practice=B82002",
       "/v1/flags?practice=C99999", false},
      {"checkpoint", "GET", "/v1/checkpoints/latest", "/v1/checkpoints", "/v1/checkpoints/7777",
       false},
      {"consistency", "GET", "/v1/proofs/consistency?from=3", "/v1/proofs/consistency?from=4",
       "/v1/proofs/consistency?from=3&to=5", false},
  };
  // Who may see A81001 / B82002.
  const std::map<std::string, std::pair<bool, bool>> sees = {
      {"cm-qhm", {true, false}}, {"cm-qwo", {false, true}}, {"pr-a", {true, false}},
      {"pr-b", {false, true}},   {"auditor", {true, true}},
  };
  // What each caller must never find in an answer: the other practice's codes and ids.
  const std::map<std::string, std::vector<std::string>> secret_of = {
      {"A81001", {"A81001", kFlagA, "a-claim-", "QHM"}},
      {"B82002", {"B82002", kFlagB, "b-claim-", "QWO"}},
  };
  const std::string decision = R"({"outcome":"DECISION_OUTCOME_ACKNOWLEDGE","reason":"seen"})";
  int key = 0, checked = 0, leaks = 0;
  auto mask = [](std::string body) {
    // Request ids and the resource named differ by construction; the rest must not.
    v1::ApiError e = Parse<v1::ApiError>(body);
    e.clear_request_id();
    e.clear_message();
    return codec::ToJson(e);
  };
  for (const Target& t : targets) {
    for (const auto& [caller, scope] : sees) {
      const std::string& who = caller;  // clang 14 cannot capture a structured binding
      auto call = [&](const std::string& path) {
        return t.method == "POST" ? h_->Call("POST", path, who, decision,
                                             {{"Idempotency-Key", "m-" + std::to_string(++key)}})
                                  : h_->Get(path, who);
      };
      const Response a = call(t.in_a), b = call(t.in_b), none = call(t.missing);
      ++checked;
      const bool may_decide = who == "cm-qhm";
      for (const auto& [resp, in_scope, practice] :
           {std::tuple{&a, scope.first, "A81001"}, std::tuple{&b, scope.second, "B82002"}}) {
        int want;
        if (!t.practice_data) {
          want = t.name == "flags" || t.name == "checkpoint" || t.name == "consistency" ? 200 : 0;
        } else if (!in_scope) {
          want = 404;
        } else if (t.name == "decide") {
          want = may_decide ? 202 : 403;
        } else {
          want = 200;
        }
        EXPECT_EQ(resp->status, want)
            << who << " " << t.name << " " << practice << ": " << resp->body;
        if (t.practice_data && !in_scope) {
          // The same answer as for something that does not exist.
          EXPECT_EQ(mask(resp->body), mask(none.body)) << who << " " << t.name;
          EXPECT_EQ(resp->status, none.status);
        }
      }
      if (t.practice_data) {
        EXPECT_EQ(none.status, 404) << who << " " << t.name << ": " << none.body;
      }
      // No answer to this caller carries what it may not see (beyond echoing the caller's own
      // request back in an error message).
      for (const auto& [practice, secrets] : secret_of) {
        const bool visible = practice == std::string("A81001") ? scope.first : scope.second;
        if (visible) continue;
        for (const auto& [resp, target] :
             {std::pair{&a, t.in_a}, std::pair{&b, t.in_b}, std::pair{&none, t.missing}}) {
          const std::string body = Scrub(resp->body, target);
          for (const std::string& s : secrets) {
            if (body.find(s) != std::string::npos) {
              ++leaks;
              ADD_FAILURE() << who << " " << t.name << " leaks '" << s << "': " << resp->body;
            }
          }
        }
      }
    }
  }
  // No credentials, a wrong token, a malformed header: 401 everywhere, the same body.
  for (const Target& t : targets) {
    for (const std::string& path : {t.in_a, t.in_b}) {
      Response none = h_->Call(t.method, path, "");
      Response wrong = h_->Call(t.method, path, "", "", {{"Authorization", "Bearer nope"}});
      Response basic = h_->Call(t.method, path, "", "", {{"Authorization", "Basic eDp5"}});
      for (const Response* r : {&none, &wrong, &basic}) {
        EXPECT_EQ(r->status, 401) << t.name << " " << r->body;
        for (const auto& [practice, secrets] : secret_of) {
          for (const std::string& s : secrets) {
            if (r->body.find(s) != std::string::npos) ++leaks;
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, static_cast<int>(targets.size() * sees.size()));
  EXPECT_EQ(leaks, 0);
}

TEST_F(ApiTest, MalformedOversizedAndUnknownRequestsGetJsonErrorsNamingTheProblem) {
  Populate();
  struct Case {
    std::string target;
    int status;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"/v1/practices/A81001/trail?limit=0", 400, "limit 0"},
           {"/v1/practices/A81001/trail?limit=5000", 400, "maximum page size"},
           {"/v1/practices/A81001/trail?kind=banana", 400, "kind 'banana'"},
           {"/v1/practices/A81001/trail?from=yesterday", 400, "from 'yesterday'"},
           {"/v1/practices/A81001/trail?from=2023-05-01&to=2023-04-01", 400, "before"},
           {"/v1/practices/A81001/trail?cursor=abc", 400, "cursor"},
           {"/v1/practices/A81001/trail?include=all", 400, "include"},
           {"/v1/entries/-1", 400, "index"},
           {"/v1/nothing/here", 404, "no such endpoint"},
       }) {
    Response r = h_->Get(c.target, "auditor");
    EXPECT_EQ(r.status, c.status) << c.target << ": " << r.body;
    EXPECT_EQ(r.content_type, "application/json") << c.target;
    auto e = Parse<v1::ApiError>(r.body);
    EXPECT_EQ(e.status(), static_cast<uint32_t>(c.status));
    EXPECT_NE(e.message().find(c.says), std::string::npos) << c.target << ": " << e.message();
  }
  // A body over the limit: 413, before any handler reads it.
  Response big = h_->Call("POST", "/v1/flags/" + kFlagA + "/decisions", "cm-qhm",
                          std::string(64 * 1024, 'x'), {{"Idempotency-Key", "big"}});
  EXPECT_EQ(big.status, 413) << big.body;
  EXPECT_EQ(Parse<v1::ApiError>(big.body).error(), "payload_too_large");
  // A request line over the limit.
  Response long_uri = h_->Get("/v1/flags?rule=" + std::string(20000, 'r'), "auditor");
  EXPECT_EQ(long_uri.status, 414) << long_uri.body;
}

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  return fd;
}

// A streamed trail is made on a thread of the stream's own: a client that goes away mid-stream
// leaves nothing behind (the api streams the next trail whole, and stops).
TEST_F(ApiTest, TrailStreamLeftByItsClientLeavesNothingBehind) {
  Populate();
  for (int i = 0; i < 8; ++i) {
    const int fd = Connect(h_->port());
    const std::string req =
        "GET /v1/practices/A81001/trail HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        "tok-auditor\r\nAccept: application/x-ndjson\r\n\r\n";
    ASSERT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
    if (i % 2 == 1) {  // gone after the first bytes, or before any
      char buf[64];
      EXPECT_GT(read(fd, buf, sizeof(buf)), 0);
    }
    close(fd);
  }
  Response r = h_->Call("GET", "/v1/practices/A81001/trail", "auditor", "",
                        {{"Accept", "application/x-ndjson"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(std::count(r.body.begin(), r.body.end(), '\n'), 11);  // header, 9 entries, end
  h_->StopApi();
}

TEST_F(ApiTest, SlowAndGarbledRequestsAreCutOffWithoutStallingOthers) {
  ApiOptions o;
  o.read_timeout_ms = 500;
  o.threads = 4;
  Build(o);
  Populate();
  // Four slow clients, as many as there are threads, each sending half a request.
  std::vector<int> slow;
  for (int i = 0; i < 4; ++i) {
    slow.push_back(Connect(h_->port()));
    const std::string half = "GET /v1/checkpoints/latest HTTP/1.1\r\nHost: x\r\n";
    ASSERT_EQ(write(slow.back(), half.data(), half.size()), static_cast<ssize_t>(half.size()));
  }
  const auto start = std::chrono::steady_clock::now();
  Response r = h_->Get("/v1/checkpoints/latest", "auditor");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 200);
  EXPECT_LT(took, std::chrono::seconds(3));  // served once the slow ones were cut off
  for (int fd : slow) {
    // The server answers 400 to a request that does not arrive in time, and closes.
    timeval tv{3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string got;
    char buf[1024];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) got.append(buf, n);
    EXPECT_EQ(n, 0) << "not closed";
    if (!got.empty()) {
      EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
      EXPECT_NE(got.find("\"error\":\"bad_request\""), std::string::npos) << got;
    }
    close(fd);
  }
  // Garbage instead of HTTP: answered 400 (or closed), never a crash.
  int fd = Connect(h_->port());
  const std::string junk = "\x01\x02 NOT HTTP\r\n\r\n";
  ASSERT_GT(write(fd, junk.data(), junk.size()), 0);
  char buf[1024];
  timeval tv{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ssize_t n = read(fd, buf, sizeof(buf));
  if (n > 0) {
    EXPECT_NE(std::string(buf, n).find("400"), std::string::npos);
  }
  close(fd);
  EXPECT_EQ(h_->Get("/v1/checkpoints/latest", "auditor").status, 200);
}

TEST_F(ApiTest, RequestRateOverTheLimitIs429) {
  ApiOptions o;
  o.rate_per_second = 1;
  o.rate_burst = 3;
  Build(o);
  Populate();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(h_->Get("/v1/checkpoints/latest", "pr-a").status, 200);
  Response r = h_->Get("/v1/checkpoints/latest", "pr-a");
  EXPECT_EQ(r.status, 429);
  EXPECT_NE(Parse<v1::ApiError>(r.body).message().find("pr-a"), std::string::npos);
  EXPECT_EQ(h_->Get("/v1/checkpoints/latest", "pr-b").status, 200);  // per caller
  h_->clock().Advance(1'000'000);
  EXPECT_EQ(h_->Get("/v1/checkpoints/latest", "pr-a").status, 200);
}

TEST_F(ApiTest, NoReadIsAnsweredWithoutItsRecordOnTheBus) {
  Populate();
  h_->ingest().refuse = true;
  for (const std::string& path :
       {std::string("/v1/practices/A81001/trail"), "/v1/entries/" + std::to_string(a_claims_[0]),
        "/v1/flags/" + kFlagA + "/explanation"}) {
    Response r = h_->Get(path, "auditor");
    EXPECT_EQ(r.status, 503) << path << ": " << r.body;
    EXPECT_EQ(r.body.find("a-claim"), std::string::npos) << r.body;
  }
  h_->ingest().refuse = false;
  EXPECT_EQ(h_->Get("/v1/practices/A81001/trail", "auditor").status, 200);
}

TEST_F(ApiTest, TokensNeverReachLogsRecordsOrAnswers) {
  Populate();
  h_->Get("/v1/practices/A81001/trail", "cm-qhm");
  h_->Get("/v1/flags", "auditor");
  h_->Call("GET", "/v1/flags", "", "", {{"Authorization", "Bearer tok-wrong-secret"}});
  h_->Call("POST", "/v1/flags/" + kFlagA + "/decisions?wait=2000", "cm-qhm",
           R"({"outcome":"DECISION_OUTCOME_DISMISS","reason":"fine"})",
           {{"Idempotency-Key", "t-1"}});
  const auto lines = h_->LogLines();
  ASSERT_GE(lines.size(), 4u);
  for (const std::string tok : {"tok-cm-qhm", "tok-auditor", "tok-wrong-secret", "Bearer"}) {
    for (const auto& l : lines) EXPECT_EQ(l.find(tok), std::string::npos) << l;
    for (const auto& [topic, value] : h_->ingest().Published()) {
      EXPECT_EQ(value.find(tok), std::string::npos) << topic;
    }
    // Nor anywhere in the log.
    uint64_t n = h_->ingest().size();
    for (uint64_t i = 0; i < n; ++i) {
      auto e = h_->ingest().store()->Get(i).value();
      EXPECT_EQ(e.record_bytes.find(tok), std::string::npos) << "entry " << i;
    }
  }
  // The access file holds hashes only.
  EXPECT_EQ(AccessJson().find("tok-"), std::string::npos);
}

// The api stops (as if killed) while a decision waits for the bus; it restarts, the client
// retries with its Idempotency-Key, and the log holds the decision exactly once.
TEST_F(ApiTest, KilledAndRestartedMidRequestLosesNothingAndRepeatsNothing) {
  ApiOptions o;
  o.confirm_timeout_ms = 1500;
  Build(o);
  Populate();
  h_->ingest().block = true;
  const std::string path = "/v1/flags/" + kFlagA + "/decisions";
  const std::string body = R"({"outcome":"DECISION_OUTCOME_UPHOLD","reason":"r"})";
  std::thread client([&] {
    // The answer never comes, or is 503: either way the client does not know, and retries.
    Response r = h_->Call("POST", path, "cm-qhm", body, {{"Idempotency-Key", "crash-1"}});
    EXPECT_TRUE(!r.ok || r.status == 503) << r.status << " " << r.body;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  h_->StopApi();  // mid-request
  client.join();
  h_->ingest().block = false;
  h_->StartApi();
  h_->Settle();
  Response r =
      h_->Call("POST", path + "?wait=5000", "cm-qhm", body, {{"Idempotency-Key", "crash-1"}});
  ASSERT_EQ(r.status, 202) << r.body;
  auto accepted = Parse<v1::DecisionAccepted>(r.body);
  EXPECT_TRUE(accepted.sequenced());
  EXPECT_TRUE(accepted.replayed());  // the key was stored before the first attempt was produced
  // A second retry, after it is sequenced: still one decision.
  ASSERT_EQ(h_->Call("POST", path + "?wait=5000", "cm-qhm", body, {{"Idempotency-Key", "crash-1"}})
                .status,
            202);
  EXPECT_EQ(CountKind(v1::EVENT_KIND_FLAG_DECISION), 1);
  auto hist = Parse<v1::DecisionHistory>(h_->Get(path, "cm-qhm").body);
  EXPECT_EQ(hist.status(), v1::FLAG_STATUS_UPHELD);
}

TEST_F(ApiTest, RestartResumesFromTheSavedViewWithTheSameAnswers) {
  Populate();
  const std::string decide = "/v1/flags/" + kFlagA + "/decisions";
  ASSERT_EQ(h_->Call("POST", decide + "?wait=5000", "cm-qhm",
                     R"({"outcome":"DECISION_OUTCOME_ACKNOWLEDGE","reason":"looking"})",
                     {{"Idempotency-Key", "restart-1"}})
                .status,
            202);
  ASSERT_EQ(h_->Get("/v1/practices/A81001/trail?limit=2", "pr-a").status, 200);  // an access record
  h_->Settle();
  const uint64_t size = h_->ingest().size();
  const std::string pin = "checkpoint_size=" + std::to_string(size);
  // Answers pinned to one checkpoint, with the per-request access record ids taken out.
  auto answers = [&] {
    std::vector<std::string> out;
    for (const std::string& target :
         {"/v1/flags?" + pin, "/v1/flags?status=acknowledged&" + pin, decide,
          "/v1/flags/" + kFlagA + "/explanation?" + pin, "/v1/flags/" + kFlagB + "/decisions",
          "/v1/practices/A81001/access?" + pin}) {
      Response r = h_->Get(target, "auditor");
      EXPECT_EQ(r.status, 200) << target << " " << r.body;
      out.push_back(std::regex_replace(r.body, std::regex(R"("access_record_id":"[^"]*",?)"), ""));
    }
    return out;
  };
  h_->ingest().Sign();
  const std::vector<std::string> before = answers();
  // Those reads' access records are in the log once answered; the view applies them in its own
  // time. Stopping before it did would save a view a record short, which the next process then
  // applies (correctly, but "nothing that was in the log before it started" would not hold).
  h_->Settle();
  h_->StopApi();  // the runtime saves the view at shutdown
  // The state file holds the view at the log's end then: a new view resumes there.
  {
    View saved((h_->dir() / "follow" / "api-view.pb").string());
    auto next = saved.Restore();
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    EXPECT_GE(*next, size);
    EXPECT_EQ(saved.Flag(kFlagA)->summary.status(), v1::FLAG_STATUS_ACKNOWLEDGED);
    EXPECT_EQ(saved.IcbOf("B82002"), "QWO");
    EXPECT_FALSE(saved.AccessRecordsOf("A81001").empty());
  }
  const uint64_t at_restart = h_->ingest().size();
  h_->StartApi();
  h_->Settle();
  // Resumed, not replayed: this process applied nothing that was in the log before it started.
  EXPECT_EQ(h_->runtime_stats().applied, h_->ingest().size() - at_restart);
  EXPECT_EQ(answers(), before);
  // And it goes on from there: a new decision supersedes the saved one.
  ASSERT_EQ(h_->Call("POST", decide + "?wait=5000", "cm-qhm",
                     R"({"outcome":"DECISION_OUTCOME_DISMISS","reason":"explained"})",
                     {{"Idempotency-Key", "restart-2"}})
                .status,
            202);
  auto hist = Parse<v1::DecisionHistory>(h_->Get(decide, "cm-qhm").body);
  EXPECT_EQ(hist.status(), v1::FLAG_STATUS_DISMISSED);
  ASSERT_EQ(hist.decisions_size(), 2);
  EXPECT_EQ(hist.decisions(1).decision().outcome(), v1::DECISION_OUTCOME_DISMISS);
}

// The value of a metric with these labels (a counter, a gauge, or a histogram's sample count),
// or -1 when it is not there.
double Metric(prometheus::Registry& registry, const std::string& name,
              const std::map<std::string, std::string>& labels) {
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != name) continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      std::map<std::string, std::string> have;
      for (const auto& l : m.label) have[l.name] = l.value;
      if (have != labels) continue;
      if (f.type == prometheus::MetricType::Counter) return m.counter.value;
      if (f.type == prometheus::MetricType::Gauge) return m.gauge.value;
      if (f.type == prometheus::MetricType::Histogram) {
        return static_cast<double>(m.histogram.sample_count);
      }
    }
  }
  return -1;
}

TEST_F(ApiTest, MetricsCountRequestsTimeThemAndShowUnconfirmedRecordsAndTheViewsLag) {
  Populate();
  ASSERT_EQ(h_->Get("/v1/flags", "auditor").status, 200);
  ASSERT_EQ(h_->Get("/v1/flags", "auditor").status, 200);
  ASSERT_EQ(h_->Get("/v1/flags/nope/explanation", "auditor").status, 404);
  ASSERT_EQ(h_->Get("/v1/flags", "").status, 401);
  prometheus::Registry& r = h_->registry();
  EXPECT_EQ(Metric(r, "probity_api_requests_total", {{"route", "flags"}, {"status", "200"}}), 2);
  EXPECT_EQ(Metric(r, "probity_api_requests_total", {{"route", "flags"}, {"status", "401"}}), 1);
  EXPECT_EQ(Metric(r, "probity_api_requests_total", {{"route", "explanation"}, {"status", "404"}}),
            1);
  EXPECT_EQ(Metric(r, "probity_api_request_seconds", {{"route", "flags"}}), 3);
  EXPECT_EQ(Metric(r, "probity_api_unconfirmed_publications_total", {{"kind", "access_record"}}),
            -1);
  h_->ingest().refuse = true;
  ASSERT_EQ(h_->Get("/v1/flags", "auditor").status, 503);
  EXPECT_EQ(Metric(r, "probity_api_unconfirmed_publications_total", {{"kind", "access_record"}}),
            1);
  h_->ingest().refuse = false;
  // The view's gauges, set every second: caught up with the store.
  h_->Settle();
  const double size = static_cast<double>(h_->ingest().size());
  for (int i = 0; i < 300 && Metric(r, "probity_follower_next_index", {{"target", "api"}}) != size;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Metric(r, "probity_follower_next_index", {{"target", "api"}}), size);
  EXPECT_EQ(Metric(r, "probity_api_view_lag_entries", {}), 0);
}

TEST(ViewTest, ASavedStateThatDoesNotParseIsRefusedNotReadAsEmpty) {
  const fs::path file = fs::path(::testing::TempDir()) / ("bad-view-" + std::to_string(getpid()));
  std::ofstream(file) << "not a view";
  View v(file.string());
  EXPECT_EQ(v.Restore().status().code(), Code::kDataLoss);
  View none((file.string() + ".absent"));
  EXPECT_EQ(*none.Restore(), 0u);
  fs::remove(file);
}

TEST(AccessControlTest, RefusesBadConfigsAndKeepsOnlyHashes) {
  EXPECT_FALSE(
      AccessControl::FromJson(R"({"principals":[{"name":"x","role":"API_ROLE_AUDITOR"}]})").ok());
  EXPECT_FALSE(
      AccessControl::FromJson(
          R"({"principals":[{"name":"x","role":"API_ROLE_AUDITOR","token_sha256_hex":"abc"}]})")
          .ok());
  EXPECT_FALSE(AccessControl::FromJson(R"({"principals":[{"name":"x","role":"API_ROLE_PRACTICE",)"
                                       R"("practice_code":"bad","token_sha256_hex":")" +
                                       std::string(64, 'a') + "\"}]}")
                   .ok());
  EXPECT_FALSE(AccessControl::FromJson(R"({"principals":[{"name":"x","role":"API_ROLE_AUDITOR",)"
                                       R"("may_decide":true,"token_sha256_hex":")" +
                                       std::string(64, 'a') + "\"}]}")
                   .ok());
  EXPECT_FALSE(AccessControl::FromJson(R"({"principals":[],"extra":1})").ok());
  auto ac = AccessControl::FromJson(AccessJson());
  ASSERT_TRUE(ac.ok()) << ac.status().ToString();
  EXPECT_EQ(ac->ByToken("tok-auditor")->name, "auditor");
  EXPECT_EQ(ac->ByToken("tok-nobody"), nullptr);
  EXPECT_EQ(ac->ByToken(""), nullptr);
}

}  // namespace
}  // namespace probity::api::testing
