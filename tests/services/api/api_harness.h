// A whole api in one test process: a real log store in a temporary directory, a stand-in for
// ingest (MiniIngest: the publisher the api produces to decodes each message with the real codec,
// sequences it with the real Sequencer and signs a checkpoint, as ingest does), the View fed
// from the store by the follower runtime (which checks every checkpoint), and an HTTP client that
// keeps every response it gets so that the test can check them all against docs/openapi.yaml with
// tools/openapi/validate.mjs.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <prometheus/registry.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/bus/topics.h"
#include "common/codec/codec.h"
#include "common/crypto/sha256.h"
#include "common/follow/checkpoint_source.h"
#include "common/follow/entry_source.h"
#include "common/follow/runtime.h"
#include "common/logstore/sequencer.h"
#include "common/logstore/store.h"
#include "common/note/checkpoint.h"
#include "common/note/note.h"
#include "common/sync/mutex.h"
#include "common/time/proto_time.h"
#include "services/api/api.h"
#include "tests/services/ingest/fake_bus.h"

namespace probity::api::testing {

namespace fs = std::filesystem;

inline constexpr Micros kT0 = 1680307200LL * 1000000;  // 2023-04-01T00:00:00Z

// Sequences what it is given into a LogStore and signs a checkpoint after each publication.
class MiniIngest final : public ConfirmedPublisher {
 public:
  explicit MiniIngest(const std::string& dir, const Clock* clock) : clock_(clock) {
    store_ = std::move(logstore::LogStore::Open(dir, {}).value());
    seq_ = std::move(logstore::Sequencer::Create(store_.get()).value());
    auto kp = note::GenerateKey("probity.test/log").value();
    verifier_key_ = kp.verifier_key;
    signer_.emplace(note::Signer::FromSignerKey(kp.signer_key).value());
  }

  Status Publish(std::string_view topic, std::string_view key, std::string_view value,
                 int timeout_ms) override EXCLUDES(mu_) {
    if (block.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
      return Unavailable("test: the bus is not answering");
    }
    if (refuse.load()) return Unavailable("test: the bus refused it");
    MutexLock l(&mu_);
    published.push_back({std::string(topic), std::string(value)});
    auto d = codec::Decode(topic, value, std::nullopt, codec::Policy(), clock_->NowMicros());
    if (auto* rej = std::get_if<codec::Rejection>(&d)) {
      return FailedPrecondition("test ingest: " + rej->reason_code + ": " + rej->message);
    }
    PROBITY_RETURN_IF_ERROR(AppendLocked(std::get<codec::Decoded>(d).envelope, topic, value));
    return SignLocked();
  }

  // Appends an event as ingest would have from `topic` (the envelope must be valid there).
  uint64_t Add(const v1::Envelope& env, std::string_view topic) EXCLUDES(mu_) {
    MutexLock l(&mu_);
    const std::string value = env.SerializeAsString();
    auto d = codec::Decode(topic, value, std::nullopt, codec::Policy(), clock_->NowMicros());
    if (auto* rej = std::get_if<codec::Rejection>(&d)) {
      ADD_FAILURE() << "test event refused: " << rej->reason_code << " " << rej->message;
    }
    EXPECT_TRUE(AppendLocked(env, topic, value).ok());
    return seq_->size() - 1;
  }
  void Sign() EXCLUDES(mu_) {
    MutexLock l(&mu_);
    EXPECT_TRUE(SignLocked().ok());
  }
  // Publications on `topic` that reached the bus.
  size_t Count(std::string_view topic) EXCLUDES(mu_) {
    MutexLock l(&mu_);
    size_t n = 0;
    for (const auto& p : published) n += p.first == topic;
    return n;
  }
  std::vector<std::pair<std::string, std::string>> Published() EXCLUDES(mu_) {
    MutexLock l(&mu_);
    return published;
  }

  logstore::LogStore* store() { return store_.get(); }
  uint64_t size() EXCLUDES(mu_) {
    MutexLock l(&mu_);
    return seq_->size();
  }
  const std::string& verifier_key() const { return verifier_key_; }

  std::atomic<bool> block{false};   // Publish waits out its timeout and fails
  std::atomic<bool> refuse{false};  // Publish fails at once

 private:
  Status AppendLocked(const v1::Envelope& env, std::string_view topic, std::string_view value)
      REQUIRES(mu_) {
    v1::LogRecord r;
    r.set_payload(std::string(value));
    r.set_content_type(v1::CONTENT_TYPE_PROTOBUF);
    r.set_topic(std::string(topic));
    r.set_offset(static_cast<int64_t>(seq_->size()));
    SetTimestamp(r.mutable_received_at(), clock_->NowMicros());
    r.set_event_id(env.event_id());
    r.set_kind(env.kind());
    r.set_practice_code(env.practice_code());
    *r.mutable_occurred_at() = env.occurred_at();
    std::vector<v1::LogRecord> records{r};
    return seq_->Append(&records, {}, {})
        .status();  // an exact redelivery is dropped, as ingest does
  }
  Status SignLocked() REQUIRES(mu_) {
    note::Checkpoint c{"probity.test/log", seq_->size(), seq_->root(), {}};
    PROBITY_ASSIGN_OR_RETURN(std::string signed_note, note::SignCheckpoint(c, *signer_));
    v1::CheckpointRecord cp;
    cp.set_tree_size(seq_->size());
    cp.set_root_hash(std::string(merkle::AsBytes(seq_->root())));
    cp.set_signed_note(signed_note);
    SetTimestamp(cp.mutable_created_at(), clock_->NowMicros());
    return seq_->AddCheckpoint(cp);
  }

  const Clock* clock_;
  Mutex mu_;
  std::unique_ptr<logstore::LogStore> store_;
  std::unique_ptr<logstore::Sequencer> seq_;
  std::optional<note::Signer> signer_;
  std::string verifier_key_;
  std::vector<std::pair<std::string, std::string>> published GUARDED_BY(mu_);
};

// ---- events ----

inline v1::Envelope Base(const std::string& id, v1::EventKind kind, const std::string& practice,
                         Micros at) {
  v1::Envelope e;
  e.set_event_id(id);
  e.set_kind(kind);
  e.set_schema_version(1);
  e.set_practice_code(practice);
  SetTimestamp(e.mutable_occurred_at(), at);
  e.set_source_system("test");
  return e;
}

inline v1::Envelope Practice(const std::string& practice, const std::string& icb) {
  v1::Envelope e = Base("reg-" + practice, v1::EVENT_KIND_PRACTICE_UPDATE, practice, kT0);
  auto* p = e.mutable_practice_update();
  p->set_practice_name("Practice " + practice);
  p->set_list_size(8000);
  p->set_weighted_list_size(8100);
  p->set_icb_code(icb);
  p->set_region_code("Y63");
  p->set_sub_icb_code("16C");
  p->set_contract_type(v1::CONTRACT_TYPE_GMS);
  return e;
}

inline v1::Envelope Claim(const std::string& id, const std::string& practice, Micros at) {
  v1::Envelope e = Base(id, v1::EVENT_KIND_CLAIM, practice, at);
  auto* c = e.mutable_claim();
  c->set_claim_id("c-" + id);
  c->set_stream(v1::PAYMENT_STREAM_ITEM_OF_SERVICE);
  c->set_service_code("FLU65");
  SetTimestamp(c->mutable_period_start(), kT0);
  SetTimestamp(c->mutable_period_end(), kT0 + 86400LL * 1000000 * 30);
  c->set_quantity(1);
  c->set_unit_price_pence(1000);
  c->set_amount_pence(1000);
  c->set_patient_ref("p-1");
  c->set_status(v1::CLAIM_STATUS_SUBMITTED);
  return e;
}

inline v1::Envelope Referral(const std::string& id, const std::string& practice, Micros at) {
  v1::Envelope e = Base(id, v1::EVENT_KIND_REFERRAL, practice, at);
  auto* r = e.mutable_referral();
  r->set_ubrn("123456789012");
  r->set_specialty_code("CARDIOLOGY");
  r->set_treatment_function_code("320");
  r->set_priority(v1::REFERRAL_PRIORITY_ROUTINE);
  r->set_provider_code("RJ1");
  r->set_patient_ref("p-2");
  return e;
}

inline v1::Envelope RuleSetEvent(const std::string& yaml, const std::string& sha) {
  v1::Envelope e = Base("ruleset-" + sha, v1::EVENT_KIND_RULE_SET, "", kT0);
  e.set_source_system("probity-rules");
  auto* r = e.mutable_rule_set();
  r->set_name("test-rules");
  r->set_version("1");
  r->set_sha256_hex(sha);
  r->set_yaml_content(yaml);
  return e;
}

inline v1::Envelope FlagEvent(const std::string& flag_id, const std::string& practice,
                              const std::string& icb, const std::string& rule_set_hash,
                              std::vector<std::pair<uint64_t, std::string>> evidence,
                              v1::Severity severity = v1::SEVERITY_WARNING) {
  // A flag's event id is its flag id, as the rules target writes it.
  v1::Envelope e = Base(flag_id, v1::EVENT_KIND_FLAG, practice, kT0 + 3600LL * 1000000);
  e.set_source_system("probity-rules");
  auto* f = e.mutable_flag();
  f->set_flag_id(flag_id);
  f->set_rule_id("ios-duplicate");
  f->set_rule_version(1);
  f->set_rule_set_hash(rule_set_hash);
  f->set_icb_code(icb);
  f->set_severity(severity);
  SetTimestamp(f->mutable_window_start(), kT0);
  SetTimestamp(f->mutable_window_end(), kT0 + 86400LL * 1000000);
  f->set_observed(2);
  f->set_expected(1);
  f->set_upper_limit(1);
  f->mutable_baseline()->set_group("icb:" + icb);
  f->mutable_baseline()->set_peers(12);
  f->mutable_baseline()->set_median(1);
  for (auto& [index, id] : evidence) {
    auto* ev = f->add_evidence();
    ev->set_log_index(index);
    ev->set_event_id(id);
  }
  f->set_judged_at_tree_size(10);
  f->set_summary("The same item of service claimed twice for one patient.");
  f->set_rule_kind("duplicate_item_of_service");
  return e;
}

// ---- the api over it ----

struct Principals {
  // name -> token
  std::map<std::string, std::string> tokens;
};

inline constexpr char kRulesYaml[] =
    "name: test-rules\nversion: \"1\"\nrules:\n  - id: ios-duplicate\n    version: 1\n"
    "    kind: duplicate_item_of_service\n    severity: warning\n"
    "    description: The same item of service claimed twice for the same patient.\n"
    "    params:\n      intervals: {FLU65: financial_year}\n";

// The access file the tests use: tokens are "tok-<name>".
inline std::string AccessJson() {
  auto p = [](const std::string& name, const std::string& rest) {
    return "{\"name\":\"" + name + "\",\"token_sha256_hex\":\"" + crypto::Sha256Hex("tok-" + name) +
           "\"," + rest + "}";
  };
  return "{\"principals\":[" +
         p("cm-qhm",
           "\"role\":\"API_ROLE_COMMISSIONER\",\"icb_codes\":[\"QHM\"],"
           "\"may_decide\":true") +
         "," + p("cm-qwo", "\"role\":\"API_ROLE_COMMISSIONER\",\"icb_codes\":[\"QWO\"]") + "," +
         p("pr-a", "\"role\":\"API_ROLE_PRACTICE\",\"practice_code\":\"A81001\"") + "," +
         p("pr-b", "\"role\":\"API_ROLE_PRACTICE\",\"practice_code\":\"B82002\"") + "," +
         p("auditor", "\"role\":\"API_ROLE_AUDITOR\"") + "," +
         p("slow", "\"role\":\"API_ROLE_AUDITOR\"") + "]}";
}

struct Response {
  int status = 0;
  std::string body;
  std::string content_type;
  bool ok = false;  // the exchange completed
};

class ApiHarness {
 public:
  explicit ApiHarness(const std::string& name, ApiOptions options = {},
                      const std::string& access_json = AccessJson()) {
    dir_ = fs::path(::testing::TempDir()) / ("api-" + name + "-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "responses");
    clock_.Set(kT0 + 86400LL * 1000000 * 40);
    ingest_ = std::make_unique<MiniIngest>((dir_ / "log").string(), &clock_);
    access_ = std::make_unique<AccessControl>(AccessControl::FromJson(access_json).value());
    options_ = options;
    if (options_.instance_id == "api") options_.instance_id = "test";
    if (!options_.bundle_policy) {
      v1::VerifierPolicy policy;
      policy.set_log_origin("probity.test/log");
      policy.set_log_vkey(ingest_->verifier_key());
      options_.bundle_policy = policy;
    }
  }
  ~ApiHarness() { StopApi(); }

  // Starts (or restarts) the api: a new View fed from the store, a new server, the same
  // idempotency directory.
  void StartApi() {
    source_ = std::make_unique<follow::StoreSource>(ingest_->store());
    checkpoints_ = std::make_unique<follow::StoreCheckpointSource>(ingest_->store());
    view_ = std::make_unique<View>((dir_ / "follow" / "api-view.pb").string());
    follow_publisher_ = std::move(follow::BusPublisher::Create(&fake_bus_).value());
    follow::Runtime::Options ro;
    ro.data_dir = (dir_ / "follow").string();
    fs::create_directories(ro.data_dir);
    ro.origin = "probity.test/log";
    ro.log_keys.push_back(note::Verifier::FromVerifierKey(ingest_->verifier_key()).value());
    ro.first_retry = 10'000;
    runtime_ = std::make_unique<follow::Runtime>(ro, view_.get(), source_.get(), checkpoints_.get(),
                                                 follow_publisher_.get(), &clock_);
    ASSERT_TRUE(runtime_->Start().ok());
    stop_runtime_ = false;
    runtime_thread_ = std::thread([this] { runtime_status_ = runtime_->Run(&stop_runtime_); });
    idem_ = std::move(IdempotencyStore::Open((dir_ / "idempotency").string()).value());
    logstore::LogStore* store = ingest_->store();
    server_ = std::make_unique<ApiServer>(
        options_, access_.get(),
        [store] {
          return std::shared_ptr<const logstore::LogReader>(store,
                                                            [](const logstore::LogReader*) {});
        },
        view_.get(), ingest_.get(), idem_.get(), &clock_, &registry_,
        [this](std::string_view line) {
          MutexLock l(&log_mu_);
          log_lines_.emplace_back(line);
        });
    ASSERT_TRUE(server_->Start().ok());
  }
  void StopApi() {
    if (server_) server_->Stop();
    server_.reset();
    stop_runtime_ = true;
    if (runtime_thread_.joinable()) runtime_thread_.join();
    EXPECT_TRUE(runtime_status_.ok()) << runtime_status_.ToString();
    runtime_.reset();
    idem_.reset();
  }

  // Waits until the view has applied every entry of the log.
  void Settle() {
    for (int i = 0; i < 2000 && view_->next_index() < ingest_->size(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ASSERT_EQ(view_->next_index(), ingest_->size());
  }

  // One HTTP exchange, kept for the OpenAPI check.
  Response Call(const std::string& method, const std::string& target, const std::string& who,
                const std::string& body = "", httplib::Headers headers = {}) {
    httplib::Client cli("127.0.0.1", server_->port());
    cli.set_read_timeout(30);
    if (!who.empty()) headers.emplace("Authorization", "Bearer tok-" + who);
    httplib::Result r = method == "POST" ? cli.Post(target, headers, body, "application/json")
                                         : cli.Get(target, headers);
    Response out;
    if (!r) return out;
    out.ok = true;
    out.status = r->status;
    out.body = r->body;
    out.content_type = r->get_header_value("Content-Type");
    Keep(method, target, out);
    return out;
  }
  Response Get(const std::string& target, const std::string& who) {
    return Call("GET", target, who);
  }

  void Keep(const std::string& method, const std::string& target, const Response& r) {
    const std::string base = (dir_ / "responses" / std::to_string(kept_++)).string();
    std::ofstream(base + ".meta") << method << "\n"
                                  << target.substr(0, target.find('?')) << "\n"
                                  << r.status << "\n"
                                  << r.content_type << "\n";
    std::ofstream(base + ".body", std::ios::binary) << r.body;
  }
  size_t kept() const { return kept_; }

  // Checks every kept response against docs/openapi.yaml with the project's validator.
  void ValidateResponses() {
    const std::string cmd = std::string("node ") + PROBITY_SOURCE_DIR +
                            "/tools/openapi/validate.mjs " + PROBITY_SOURCE_DIR +
                            "/docs/openapi.yaml " + (dir_ / "responses").string() + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
    const int rc = pclose(p);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find(std::to_string(kept_) + " passed, 0 failed"), std::string::npos) << out;
  }

  std::vector<std::string> LogLines() {
    MutexLock l(&log_mu_);
    return log_lines_;
  }

  MiniIngest& ingest() { return *ingest_; }
  View& view() { return *view_; }
  ManualClock& clock() { return clock_; }
  int port() const { return server_->port(); }
  bool server_tls() const { return server_->tls(); }
  follow::RuntimeStats runtime_stats() const { return runtime_->stats(); }
  prometheus::Registry& registry() { return registry_; }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
  ManualClock clock_;
  ApiOptions options_;
  prometheus::Registry registry_;  // the api's metrics, across restarts
  std::unique_ptr<MiniIngest> ingest_;
  std::unique_ptr<AccessControl> access_;
  std::unique_ptr<follow::StoreSource> source_;
  std::unique_ptr<follow::StoreCheckpointSource> checkpoints_;
  std::unique_ptr<View> view_;
  bus::testing::FakeBus fake_bus_;  // the view publishes nothing
  std::unique_ptr<follow::BusPublisher> follow_publisher_;
  std::unique_ptr<follow::Runtime> runtime_;
  std::atomic<bool> stop_runtime_{false};
  std::thread runtime_thread_;
  Status runtime_status_;
  std::unique_ptr<IdempotencyStore> idem_;
  std::unique_ptr<ApiServer> server_;
  size_t kept_ = 0;
  Mutex log_mu_;
  std::vector<std::string> log_lines_ GUARDED_BY(log_mu_);
};

}  // namespace probity::api::testing
