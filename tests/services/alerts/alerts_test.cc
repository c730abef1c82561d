// The alerts target: unit tests with a recording sink (cursor and open-alert semantics across
// restarts), and an integration test against a real Alertmanager (Debian's
// prometheus-alertmanager, started here on a loopback port).
#include "services/alerts/alerts.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/merkle/hasher.h"
#include "services/alerts/outbox_sink.h"
#include "tests/common/free_port.h"

namespace probity::alerts {
namespace {

namespace fs = std::filesystem;

// Entries built in memory: the test controls exactly what the log holds.
class VectorSource final : public follow::EntrySource {
 public:
  void Add(const v1::Envelope& env) {
    v1::LogRecord r;
    r.set_payload(env.SerializeAsString());
    r.set_content_type(v1::CONTENT_TYPE_PROTOBUF);
    r.set_topic(env.kind() == v1::EVENT_KIND_FLAG ? "probity.flags.v1" : "probity.decisions.v1");
    r.set_event_id(env.event_id());
    r.set_kind(env.kind());
    r.set_practice_code(env.practice_code());
    logstore::Entry e;
    e.index = entries_.size();
    e.record_bytes = r.SerializeAsString();
    e.leaf_hash = merkle::HashLeaf(e.record_bytes);  // the follower runtime checks every leaf
    entries_.push_back(e);
  }
  Status Read(uint64_t next, size_t max, std::vector<logstore::Entry>* out) override {
    for (uint64_t i = next; i < entries_.size() && out->size() < max; ++i)
      out->push_back(entries_[i]);
    return Status::Ok();
  }

 private:
  std::vector<logstore::Entry> entries_;
};

class RecordingSink final : public AlertSink {
 public:
  Status Send(const std::vector<Alert>& alerts) override {
    if (fail) return Unavailable("down");
    for (const auto& a : alerts) sent.push_back(a);
    return Status::Ok();
  }
  std::vector<Alert> sent;
  bool fail = false;
};

v1::Envelope Flag(const std::string& id_char, const std::string& practice) {
  v1::Envelope e;
  std::string id(64, id_char[0]);
  e.set_event_id(id);
  e.set_kind(v1::EVENT_KIND_FLAG);
  e.set_schema_version(1);
  e.set_practice_code(practice);
  e.mutable_occurred_at()->set_seconds(1656633600);
  auto* f = e.mutable_flag();
  f->set_flag_id(id);
  f->set_rule_id("dup-ios");
  f->set_rule_kind("duplicate_item_of_service");
  f->set_severity(v1::SEVERITY_WARNING);
  f->set_icb_code("QHM");
  f->set_summary("LDHC claimed twice for one patient in 2022-23");
  f->add_evidence()->set_log_index(3);
  return e;
}

v1::Envelope Decision(const std::string& id_char, v1::DecisionOutcome outcome) {
  v1::Envelope e;
  e.set_event_id("decision-" + id_char);
  e.set_kind(v1::EVENT_KIND_FLAG_DECISION);
  e.set_schema_version(1);
  e.set_practice_code("A81001");
  e.mutable_occurred_at()->set_seconds(1656720000);
  e.mutable_flag_decision()->set_flag_id(std::string(64, id_char[0]));
  e.mutable_flag_decision()->set_outcome(outcome);
  e.mutable_flag_decision()->set_reason("checked with the practice");
  return e;
}

fs::path TempDir(const std::string& name) {
  fs::path p =
      fs::temp_directory_path() / ("probity_alerts_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(p);
  return p;
}

TEST(AlertsRunnerTest, FiresResolvesAndNeitherLosesNorRepeatsAcrossRestarts) {
  fs::path dir = TempDir("unit");
  VectorSource source;
  RecordingSink sink;
  ManualClock clock(1000);
  source.Add(Flag("a", "A81001"));
  source.Add(Flag("b", "B82005"));
  {
    AlertsRunner r({.state_dir = dir.string()}, &source, &sink, &clock);
    ASSERT_TRUE(r.Start().ok());
    ASSERT_EQ(*r.RunOnce(), 2u);
    EXPECT_EQ(r.stats().open, 2u);
  }
  ASSERT_EQ(sink.sent.size(), 2u);
  EXPECT_EQ(sink.sent[0].labels.at("alertname"), "ProbityFlag");
  EXPECT_EQ(sink.sent[0].labels.at("practice"), "A81001");
  EXPECT_EQ(sink.sent[0].labels.at("severity"), "warning");
  EXPECT_TRUE(sink.sent[0].ends_at.empty());

  // Restart: nothing is sent again. A failed send keeps the cursor; the retry delivers.
  source.Add(Decision("a", v1::DECISION_OUTCOME_DISMISS));
  sink.sent.clear();
  AlertsRunner r({.state_dir = dir.string()}, &source, &sink, &clock);
  ASSERT_TRUE(r.Start().ok());
  EXPECT_EQ(r.stats().next_index, 2u);
  EXPECT_EQ(r.stats().open, 2u);
  sink.fail = true;
  EXPECT_EQ(r.RunOnce().status().code(), Code::kUnavailable);
  EXPECT_EQ(r.stats().next_index, 2u);
  sink.fail = false;
  ASSERT_EQ(*r.RunOnce(), 1u);
  ASSERT_EQ(sink.sent.size(), 1u);
  EXPECT_EQ(sink.sent[0].labels.at("flag_id"), std::string(64, 'a'));  // same labels: resolves it
  EXPECT_EQ(sink.sent[0].ends_at, "2022-07-02T00:00:00Z");
  EXPECT_EQ(r.stats().open, 1u);
  EXPECT_EQ(*r.RunOnce(), 0u);
  EXPECT_EQ(sink.sent.size(), 1u);

  // Open alerts are re-sent when the resend interval has passed.
  clock.Advance(61LL * 1000000);
  ASSERT_EQ(*r.RunOnce(), 0u);
  ASSERT_EQ(sink.sent.size(), 2u);
  EXPECT_EQ(sink.sent[1].labels.at("flag_id"), std::string(64, 'b'));
  fs::remove_all(dir);
}

// A target restarted more often than the resend interval still re-sends open alerts when they
// are due, so Alertmanager never lets them expire (the soak's finding: restarted every ~2 s, the
// alerts target never re-sent the run's first alert, which expired after 5 minutes).
TEST(AlertsRunnerTest, ResendsOpenAlertsWhenDueThoughRestartedMoreOftenThanTheInterval) {
  fs::path dir = TempDir("restarts");
  VectorSource source;
  RecordingSink sink;
  ManualClock clock(1000);
  source.Add(Flag("a", "A81001"));
  size_t resent = 0;
  Micros first_resend_at = 0;
  for (int restart = 0; restart < 20; ++restart) {  // a restart every 10 s for 200 s
    AlertsRunner r({.state_dir = dir.string()}, &source, &sink, &clock);
    ASSERT_TRUE(r.Start().ok());
    const size_t before = sink.sent.size();
    ASSERT_TRUE(r.RunOnce().ok());
    if (restart > 0 && sink.sent.size() > before) {
      ++resent;
      if (first_resend_at == 0) first_resend_at = clock.NowMicros();
    }
    clock.Advance(10LL * 1000000);
  }
  // Fired once at the first start; re-sent once every 60 s after: at 60, 120 and 180 s.
  EXPECT_EQ(resent, 3u);
  EXPECT_EQ(first_resend_at, 1000 + 60LL * 1000000);
  fs::remove_all(dir);
}

TEST(AlertsJsonTest, EscapesAndShapesForAlertmanagerV2) {
  Alert a;
  a.labels["alertname"] = "ProbityFlag";
  a.annotations["summary"] = "say \"hi\"\n";
  a.starts_at = "2022-07-01T00:00:00Z";
  EXPECT_EQ(AlertsJson({a}),
            "[{\"labels\":{\"alertname\":\"ProbityFlag\"},\"annotations\":{\"summary\":\"say "
            "\\\"hi\\\"\\n\"},\"startsAt\":\"2022-07-01T00:00:00Z\"}]");
}

// A real Alertmanager: alerts arrive with their labels; a dismissed flag's alert is resolved.
TEST(AlertmanagerIntegrationTest, DeliversToARealAlertmanager) {
  const char* bin = "/usr/bin/prometheus-alertmanager";
  if (access(bin, X_OK) != 0) {
    FAIL() << "prometheus-alertmanager is not installed (tools/install-deps installs it)";
  }
  fs::path dir = TempDir("am");
  fs::create_directories(dir);
  std::ofstream(dir / "am.yml") << "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n";
  const int port = probity::testing::FreeLoopbackPort();
  ASSERT_GT(port, 0);
  pid_t pid = fork();
  if (pid == 0) {
    std::string cfg = "--config.file=" + (dir / "am.yml").string();
    std::string storage = "--storage.path=" + (dir / "data").string();
    std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port);
    freopen((dir / "am.log").c_str(), "w", stderr);
    execl(bin, bin, cfg.c_str(), storage.c_str(), listen.c_str(),
          "--cluster.listen-address=", static_cast<char*>(nullptr));
    _exit(127);
  }
  httplib::Client cli("127.0.0.1", port);
  bool ready = false;
  for (int i = 0; i < 100 && !ready; ++i) {
    auto res = cli.Get("/-/ready");
    ready = res && res->status == 200;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(ready) << "alertmanager did not become ready; see " << (dir / "am.log");

  VectorSource source;
  source.Add(Flag("c", "A81001"));
  source.Add(Flag("d", "B82005"));
  source.Add(Decision("d", v1::DECISION_OUTCOME_DISMISS));
  auto client = AlertmanagerClient::Create("http://127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(client.ok());
  SystemClock clock;
  AlertsRunner r({.state_dir = (dir / "state").string()}, &source, client->get(), &clock);
  ASSERT_TRUE(r.Start().ok());
  auto n = r.RunOnce();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 3u);

  std::string body;
  for (int i = 0; i < 50; ++i) {
    auto res = cli.Get("/api/v2/alerts?active=true");
    ASSERT_TRUE(res);
    body = res->body;
    if (body.find(std::string(64, 'c')) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  EXPECT_NE(body.find(std::string(64, 'c')), std::string::npos) << body;
  EXPECT_NE(body.find("\"rule_kind\":\"duplicate_item_of_service\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"practice\":\"A81001\""), std::string::npos) << body;
  EXPECT_EQ(body.find(std::string(64, 'd')), std::string::npos)
      << "dismissed flag still active: " << body;
  fs::remove_all(dir);
}

// Issue 15: Alertmanager refuses for a while (one request, a minute, an hour, on a manual clock)
// then recovers. The runner's cursor moves as soon as the alerts are safe in the outbox, whatever
// Alertmanager says; the outbox retries; every flag arrives, each as one label set.
TEST(OutboxAlertSinkTest, RefusalsForARequestAMinuteAndAnHourThenEveryFlagArrivesOnce) {
  httplib::Server am;
  std::mutex mu;
  bool refuse_all = false;
  int refuse_next = 0, requests = 0;
  std::map<std::string, std::set<std::string>> label_sets;  // flag id -> distinct label sets
  am.Post("/api/v2/alerts", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> l(mu);
    ++requests;
    if (refuse_all || refuse_next > 0) {
      if (refuse_next > 0) --refuse_next;
      res.status = 503;
      return;
    }
    // Each alert of the array: its labels object, and the flag id in it.
    for (size_t at = req.body.find("{\"labels\":"); at != std::string::npos;
         at = req.body.find("{\"labels\":", at + 1)) {
      const size_t end = req.body.find('}', at + 10);
      const std::string labels = req.body.substr(at, end - at);
      const size_t f = labels.find("\"flag_id\":\"");
      label_sets[labels.substr(f + 11, 64)].insert(labels);
    }
    res.status = 200;
  });
  // A port free now (a fixed one may be another test's, and then nothing would listen).
  const int port = probity::testing::FreeLoopbackPort();
  ASSERT_TRUE(port > 0 && am.bind_to_port("127.0.0.1", port));
  std::thread t([&] { am.listen_after_bind(); });
  while (!am.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  fs::path dir = TempDir("am_outbox");
  auto client = AlertmanagerClient::Create("http://127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(client.ok());
  AlertmanagerTransport transport(client->get());
  ManualClock clock(1'700'000'000'000'000);
  auto sink =
      OutboxAlertSink::Open((dir / "outbox").string(), &transport, nullptr, &clock, nullptr);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  VectorSource source;
  AlertsRunner runner({.state_dir = (dir / "state").string()}, &source, sink->get(), &clock);
  ASSERT_TRUE(runner.Start().ok());
  auto deliver_for = [&](Micros horizon) {
    const Micros until = clock.NowMicros() + horizon;
    for (int i = 0; i < 1000; ++i) {
      auto next = (*sink)->outbox()->DeliverDue(0, clock.NowMicros());
      ASSERT_TRUE(next.ok()) << next.status().ToString();
      if (*next == deliver::kNever || *next > until) return;
      clock.Set(std::max(*next, clock.NowMicros()));
    }
  };
  const std::string ids = "abcdefghi";
  size_t added = 0;
  const Micros kMinute = 60'000'000, kHour = 60 * kMinute;
  for (Micros outage : {Micros{0}, kMinute, kHour}) {
    {
      std::lock_guard<std::mutex> l(mu);
      refuse_next = outage == 0 ? 1 : 0;
      refuse_all = outage > 0;
    }
    for (int i = 0; i < 3; ++i, ++added) source.Add(Flag(ids.substr(added, 1), "A81001"));
    auto n = runner.RunOnce();
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_EQ(runner.stats().next_index, added);  // moved although Alertmanager refuses
    deliver_for(outage);
    {
      std::lock_guard<std::mutex> l(mu);
      refuse_all = false;
    }
    deliver_for(kHour);
    EXPECT_EQ((*sink)->outbox()->status(0).queued(), 0u) << "outage " << outage;
  }
  am.stop();
  t.join();
  ASSERT_EQ(label_sets.size(), 9u);
  for (char c : ids) {
    ASSERT_EQ(label_sets.count(std::string(64, c)), 1u) << c;
    EXPECT_EQ(label_sets[std::string(64, c)].size(), 1u) << c;
  }
  EXPECT_GT(requests, 3);  // there were refusals and retries
  fs::remove_all(dir);
}

}  // namespace
}  // namespace probity::alerts
