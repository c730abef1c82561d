// The webhooks follower, driven directly (Restore / Apply / Save, as the follower runtime will):
// thin bodies, signatures, routing to real HTTP receivers in this process, and the outbox's
// retries on a manual clock: a receiver that refuses for one request, a minute or an hour then
// recovers gets every webhook exactly once per webhook-id; a restart mid-retry loses and repeats
// nothing; 410 disables an endpoint and is recorded. (Independent signature checks, with Python's
// cryptography, are in tests/integration/webhooks_e2e_test.py.)
#include "services/webhooks/webhooks.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "common/codec/codec.h"
#include "common/note/encoding.h"
#include "tests/common/free_port.h"

namespace probity::webhooks {
namespace {

namespace fs = std::filesystem;
constexpr Micros kMinute = 60 * deliver::kSecond;
constexpr Micros kHour = 60 * kMinute;

TEST(SigningTest, HmacMatchesTheStandardWebhooksReferenceVector) {
  // libraries/go/webhook_test.go TestWebhookSign in standard-webhooks/standard-webhooks.
  auto key = SigningKey::Hmac("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  auto sig = key->Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(*sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  EXPECT_EQ(key->public_key(), "");
}

TEST(SigningTest, RefusesMalformedSecretsWithoutEchoingThem) {
  for (const char* bad : {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_short", "whsec_!!!!"}) {
    auto key = SigningKey::Hmac(bad);
    ASSERT_FALSE(key.ok()) << bad;
    EXPECT_EQ(key.status().message().find(std::string(bad).substr(6)), std::string::npos);
  }
}

TEST(SigningTest, Ed25519SignaturesVerifyWithThePublishedKeyAndRotationSignsWithEvery) {
  auto kp1 = note::GenerateKey("probity-webhooks");
  auto kp2 = note::GenerateKey("probity-webhooks");
  ASSERT_TRUE(kp1.ok() && kp2.ok());
  SigningKey k1 = SigningKey::Ed25519(*note::Signer::FromSignerKey(kp1->signer_key));
  SigningKey k2 = SigningKey::Ed25519(*note::Signer::FromSignerKey(kp2->signer_key));
  ASSERT_EQ(k1.public_key().rfind("whpk_", 0), 0u);
  auto hmac = SigningKey::Hmac("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  auto header = SignatureHeader({k1, k2, *hmac}, "wh_7", 1700000000, "{}");
  ASSERT_TRUE(header.ok());
  // Three signatures: v1a by each key, then v1.
  std::vector<std::string> parts;
  for (size_t i = 0, j; i <= header->size(); i = j + 1) {
    j = header->find(' ', i);
    if (j == std::string::npos) j = header->size();
    parts.push_back(header->substr(i, j - i));
  }
  ASSERT_EQ(parts.size(), 3u);
  auto v1 = *note::Verifier::FromVerifierKey(kp1->verifier_key);
  auto v2 = *note::Verifier::FromVerifierKey(kp2->verifier_key);
  auto raw = [](const std::string& p) {
    return *note::internal::Base64DecodeStrict(p.substr(p.find(',') + 1));
  };
  EXPECT_EQ(parts[0].rfind("v1a,", 0), 0u);
  EXPECT_TRUE(v1.Verify("wh_7.1700000000.{}", raw(parts[0])));
  EXPECT_TRUE(v2.Verify("wh_7.1700000000.{}", raw(parts[1])));
  EXPECT_FALSE(v1.Verify("wh_7.1700000001.{}", raw(parts[0])));
  EXPECT_EQ(parts[2].rfind("v1,", 0), 0u);
  EXPECT_FALSE(SignatureHeader({k1}, "wh.7", 1, "{}").ok());  // ids never hold a '.'
}

// Binds `server` to a free loopback port and serves on `thread`. Returns the port.
int ServeOnFreePort(httplib::Server* server, std::thread* thread) {
  int port = 0;
  for (int i = 0; i < 20 && port == 0; ++i) {
    const int p = probity::testing::FreeLoopbackPort();
    if (p > 0 && server->bind_to_port("127.0.0.1", p)) port = p;
  }
  *thread = std::thread([server] { server->listen_after_bind(); });
  while (!server->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return port;
}

// A receiver on a loopback port that answers what the test says and records what it accepted.
class Receiver {
 public:
  Receiver() {
    server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> l(mu_);
      ++requests_;
      if (refuse_next_ > 0 || refuse_all_) {
        if (refuse_next_ > 0) --refuse_next_;
        res.status = status_;
        return;
      }
      ++accepted_[req.get_header_value("webhook-id")];
      bodies_.push_back(req.body);
      signatures_.push_back(req.get_header_value("webhook-signature"));
      res.status = 204;
    });
    port_ = ServeOnFreePort(&server_, &thread_);
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hooks"; }
  void Refuse(int next, bool all, int status = 503) {
    std::lock_guard<std::mutex> l(mu_);
    refuse_next_ = next;
    refuse_all_ = all;
    status_ = status;
  }
  std::map<std::string, int> accepted() {
    std::lock_guard<std::mutex> l(mu_);
    return accepted_;
  }
  std::vector<std::string> bodies() {
    std::lock_guard<std::mutex> l(mu_);
    return bodies_;
  }
  std::vector<std::string> signatures() {
    std::lock_guard<std::mutex> l(mu_);
    return signatures_;
  }
  int requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

 private:
  int port_ = 0;
  httplib::Server server_;
  std::thread thread_;
  std::mutex mu_;
  int refuse_next_ = 0;
  bool refuse_all_ = false;
  int status_ = 503;
  int requests_ = 0;
  std::map<std::string, int> accepted_;
  std::vector<std::string> bodies_, signatures_;
};

v1::Envelope FlagEnvelope(int n, const std::string& practice, const std::string& icb,
                          v1::Severity severity) {
  v1::Envelope e;
  e.set_event_id("flag-" + std::to_string(n));
  e.set_kind(v1::EVENT_KIND_FLAG);
  e.set_practice_code(practice);
  e.mutable_occurred_at()->set_seconds(1656633600 + n);
  auto* f = e.mutable_flag();
  f->set_flag_id(std::string(63, 'a') + std::to_string(n % 10));
  f->set_rule_id("dup-ios");
  f->set_icb_code(icb);
  f->set_severity(severity);
  return e;
}

class WebhooksFollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("webhooks_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto kp = note::GenerateKey("probity-webhooks");
    ed_ = SigningKey::Ed25519(*note::Signer::FromSignerKey(kp->signer_key));
  }
  void TearDown() override {
    follower_.reset();
    fs::remove_all(dir_);
  }
  // Two endpoints: "qhm" (critical QHM flags, Ed25519) and "all" (everything, HMAC).
  void Start() {
    follower_.reset();
    std::ofstream(dir_ / "all.whsec") << "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n";
    const std::string yaml =
        "api_base_url: https://probity.example\nendpoints:\n  qhm:\n    url: " + qhm_.url() +
        "\n  all:\n    url: " + all_.url() + "\n    signature: hmac\n    hmac_secret_files: [" +
        (dir_ / "all.whsec").string() +
        "]\nroutes:\n  - name: qhm\n    match: {icb: QHM, severity: critical}\n"
        "    endpoints: [qhm]\n  - name: all\n    endpoints: [all]\n";
    auto routing = Routing::Parse(yaml, "routing.yaml");
    ASSERT_TRUE(routing.ok()) << routing.status().ToString();
    transports_.clear();
    for (const EndpointConfig& ep : routing->endpoints()) {
      auto keys = EndpointKeys(ep, {ed_});
      ASSERT_TRUE(keys.ok()) << keys.status().ToString();
      transports_.push_back(HttpTransport::Create(ep.url, *keys, 2).value());
    }
    std::vector<deliver::Transport*> t;
    for (auto& p : transports_) t.push_back(p.get());
    follower_ = std::make_unique<WebhooksFollower>(
        WebhooksFollower::Options{.state_dir = (dir_ / "state").string()}, *routing, t, &clock_);
    auto next = follower_->Restore();
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    next_ = *next;
  }
  void Apply(uint64_t index, const v1::Envelope& env) {
    v1::LogRecord rec;
    follow::Event ev{
        .index = index, .leaf = {}, .record = &rec, .envelope = &env, .tree_size = index + 1};
    ASSERT_TRUE(follower_->Apply(ev, nullptr).ok());
  }
  // Delivers on both endpoints, moving the manual clock to each retry, up to `horizon` ahead.
  void DeliverFor(Micros horizon) {
    const Micros until = clock_.NowMicros() + horizon;
    for (int steps = 0; steps < 1000; ++steps) {
      Micros next = deliver::kNever;
      for (size_t d = 0; d < 2; ++d) {
        auto n = follower_->outbox()->DeliverDue(d, clock_.NowMicros());
        ASSERT_TRUE(n.ok()) << n.status().ToString();
        next = std::min(next, *n);
      }
      if (next == deliver::kNever || next > until) return;
      clock_.Set(std::max(next, clock_.NowMicros()));
    }
  }

  fs::path dir_;
  ManualClock clock_{1'700'000'000 * deliver::kSecond};
  SigningKey ed_ = *SigningKey::Hmac("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  Receiver qhm_, all_;
  std::vector<std::unique_ptr<HttpTransport>> transports_;
  std::unique_ptr<WebhooksFollower> follower_;
  uint64_t next_ = 0;
};

TEST_F(WebhooksFollowerTest, ThinBodiesGoWhereTheRoutingFileSaysSigned) {
  Start();
  EXPECT_EQ(next_, 0u);
  Apply(0, FlagEnvelope(0, "A81001", "QHM", v1::SEVERITY_CRITICAL));
  Apply(1, FlagEnvelope(1, "A81002", "QHM", v1::SEVERITY_WARNING));
  v1::Envelope claim;
  claim.set_kind(v1::EVENT_KIND_CLAIM);
  claim.mutable_claim();
  Apply(2, claim);  // not a webhook kind: nothing
  v1::Envelope decision;
  decision.set_event_id("d-1");
  decision.set_kind(v1::EVENT_KIND_FLAG_DECISION);
  decision.set_practice_code("A81001");
  decision.mutable_flag_decision()->set_flag_id(FlagEnvelope(0, "", "", {}).flag().flag_id());
  decision.mutable_flag_decision()->set_outcome(v1::DECISION_OUTCOME_UPHOLD);
  Apply(3, decision);  // routed by its flag's ICB and severity: both endpoints
  ASSERT_TRUE(follower_->Save(4).ok());
  // The runtime restores again after a retriable error: same cursor, the outbox stays open.
  auto again = follower_->Restore();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, 4u);
  DeliverFor(kMinute);
  EXPECT_EQ(qhm_.accepted(), (std::map<std::string, int>{{"wh_0", 1}, {"wh_3", 1}}));
  EXPECT_EQ(all_.accepted(), (std::map<std::string, int>{{"wh_0", 1}, {"wh_1", 1}, {"wh_3", 1}}));
  ASSERT_EQ(qhm_.bodies().size(), 2u);
  EXPECT_EQ(qhm_.bodies()[0],
            R"({"type":"flag.raised","timestamp":"2022-07-01T00:00:00Z","data":{"log_index":"0",)"
            R"("event_id":"flag-0","practice":"A81001","icb":"QHM","severity":"critical",)"
            R"("rule_id":"dup-ios","flag_id":")" +
                std::string(63, 'a') +
                R"(0","decision":"","instruction_id":"","action":"",)"
                R"("api_link":"https://probity.example/v1/flags/)" +
                std::string(63, 'a') + R"(0"}})");
  EXPECT_NE(qhm_.bodies()[1].find(R"("type":"flag.decided")"), std::string::npos);
  EXPECT_NE(qhm_.bodies()[1].find(R"("decision":"uphold")"), std::string::npos);
  EXPECT_EQ(qhm_.signatures()[0].rfind("v1a,", 0), 0u);
  EXPECT_EQ(all_.signatures()[0].rfind("v1,", 0), 0u);
  // A restart resumes after what was saved and sends nothing again.
  Start();
  EXPECT_EQ(next_, 4u);
  DeliverFor(kHour);
  EXPECT_EQ(all_.accepted().size(), 3u);
  EXPECT_EQ(all_.requests(), 3);
}

TEST_F(WebhooksFollowerTest, RefusalsForARequestAMinuteAndAnHourThenRecoveryDeliverEachIdOnce) {
  Start();
  uint64_t index = 0;
  for (Micros outage : {Micros{0}, kMinute, kHour}) {
    all_.Refuse(outage == 0 ? 1 : 0, outage > 0);
    for (int i = 0; i < 4; ++i, ++index) {
      Apply(index, FlagEnvelope(static_cast<int>(index), "B82005", "QOX", v1::SEVERITY_INFO));
    }
    DeliverFor(outage);  // refused throughout the outage
    all_.Refuse(0, false);
    DeliverFor(24 * kHour);
    EXPECT_EQ(follower_->outbox()->status(1).queued(), 0u) << "outage " << outage;
  }
  ASSERT_EQ(all_.accepted().size(), index);
  for (const auto& [id, n] : all_.accepted()) EXPECT_EQ(n, 1) << id;
  EXPECT_GT(all_.requests(), static_cast<int>(index));  // there were refusals
  EXPECT_EQ(qhm_.requests(), 0);                        // routing: none of these is QHM
}

TEST_F(WebhooksFollowerTest, AKillMidRetryNeitherLosesNorRepeats) {
  Start();
  all_.Refuse(0, true);
  for (uint64_t i = 0; i < 5; ++i)
    Apply(i, FlagEnvelope(static_cast<int>(i), "B82005", "QOX", v1::SEVERITY_INFO));
  DeliverFor(10 * kMinute);
  EXPECT_GT(all_.requests(), 3);
  // The process dies mid-retry and comes back: the cursor moved with every queued webhook, and
  // entries handed over again (a runtime replaying from an older save) are not queued twice.
  Start();
  EXPECT_EQ(next_, 5u);
  for (uint64_t i = 3; i < 5; ++i)
    Apply(i, FlagEnvelope(static_cast<int>(i), "B82005", "QOX", v1::SEVERITY_INFO));
  all_.Refuse(0, false);
  DeliverFor(24 * kHour);
  EXPECT_EQ(all_.accepted(), (std::map<std::string, int>{
                                 {"wh_0", 1}, {"wh_1", 1}, {"wh_2", 1}, {"wh_3", 1}, {"wh_4", 1}}));
}

TEST_F(WebhooksFollowerTest, GoneDisablesOneEndpointAndIsRecordedTheOtherCarriesOn) {
  Start();
  qhm_.Refuse(0, true, 410);
  Apply(0, FlagEnvelope(0, "A81001", "QHM", v1::SEVERITY_CRITICAL));
  DeliverFor(kHour);
  Apply(1, FlagEnvelope(1, "A81001", "QHM", v1::SEVERITY_CRITICAL));
  DeliverFor(kHour);
  EXPECT_EQ(qhm_.requests(), 1);
  EXPECT_TRUE(follower_->outbox()->status(0).disabled());
  EXPECT_EQ(all_.accepted().size(), 2u);
  auto failed = follower_->outbox()->Failed();
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(failed->size(), 2u);
  EXPECT_EQ((*failed)[0].destination(), "qhm");
  EXPECT_EQ((*failed)[1].item().id(), "wh_1");
  EXPECT_NE((*failed)[0].reason().find("410"), std::string::npos);
}

TEST_F(WebhooksFollowerTest, RedirectsAreNotFollowed) {
  httplib::Server redirect;
  redirect.Post(".*", [](const httplib::Request&, httplib::Response& res) {
    res.set_redirect("http://127.0.0.1:1/elsewhere", 307);
  });
  std::thread t;
  const int port = ServeOnFreePort(&redirect, &t);
  auto transport =
      HttpTransport::Create("http://127.0.0.1:" + std::to_string(port) + "/x", {ed_}, 2);
  ASSERT_TRUE(transport.ok());
  v1::OutboxItem item;
  item.set_id("wh_1");
  item.set_body("{}");
  deliver::Outcome o = (*transport)->Send({&item}, clock_.NowMicros());
  redirect.stop();
  t.join();
  EXPECT_EQ(o.kind, deliver::Outcome::kFailed);
  EXPECT_EQ(o.http_status, 307);
  EXPECT_NE(o.detail.find("not followed"), std::string::npos);
  EXPECT_EQ(all_.requests(), 0);
}

}  // namespace
}  // namespace probity::webhooks
