#include "services/cli/analysis_commands.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "common/bus/kafka.h"
#include "common/bus/topics.h"
#include "common/codec/codec.h"
#include "common/logstore/store.h"
#include "common/metrics/http_server.h"
#include "services/cli/kafka_sink.h"
#include "services/cli/rules_runner.h"
#include "services/generate/civil_time.h"
#include "services/generate/generator.h"
#include "services/generate/reference.h"
#include "services/generate/sink.h"
#include "services/generate/truth.h"
#include "services/rules/backtest.h"
#include "services/rules/engine.h"
#include "services/rules/rule_set.h"
#include "services/rules/state_store.h"
#include "services/score/score.h"

namespace probity::cli {
namespace {

int Fail(const std::string& cmd, const Status& st) {
  std::cerr << "probity " << cmd << ": " << st.message() << "\n";
  return st.code() == Code::kDataLoss ? 2 : 1;
}

StatusOr<Micros> ParseDate(const std::string& s) {
  int y, m, d;
  char tail;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 ||
      d > 31) {
    return InvalidArgument("'" + s + "' is not a date of the form YYYY-MM-DD");
  }
  return generate::MicrosFromCivil(y, m, d);
}

// Adapts the log store to the rules library's EventSource, optionally keeping only entries whose
// event time is in [from, to).
class StoreEventSource final : public rules::EventSource {
 public:
  StoreEventSource(const logstore::LogStore* store, Micros from, Micros to)
      : store_(store), from_(from), to_(to) {}
  Status ForEach(const std::function<Status(const rules::LogEvent&)>& fn) override {
    PROBITY_ASSIGN_OR_RETURN(uint64_t size, store_->TreeSize());
    v1::LogRecord record;
    return store_->Scan(0, size, [&](const logstore::Entry& e) -> Status {
      if (!record.ParseFromString(e.record_bytes)) {
        return DataLoss("entry " + std::to_string(e.index) + " does not parse");
      }
      Micros t = record.occurred_at().seconds() * 1000000 + record.occurred_at().nanos() / 1000;
      if (t < from_ || t >= to_) return Status::Ok();
      PROBITY_ASSIGN_OR_RETURN(v1::Envelope env, DecodeRecordEnvelope(record));
      if (++done_ % 1000000 == 0 && isatty(2)) {
        std::fprintf(stderr, "\r  %llu / %llu entries", static_cast<unsigned long long>(e.index),
                     static_cast<unsigned long long>(size));
      }
      return fn(rules::LogEvent{e.index, record, env});
    });
  }

 private:
  const logstore::LogStore* store_;
  Micros from_, to_;
  uint64_t done_ = 0;
};

StatusOr<std::unique_ptr<logstore::LogStore>> OpenLog(const std::string& data_dir) {
  return logstore::LogStore::Open(data_dir + "/log", {.read_only = true});
}

}  // namespace

std::string DefaultRulesFile() {
  return std::string(PROBITY_SOURCE_DIR) + "/deploy/rules/default.yaml";
}

int RunRules(const BusFlags& bus, const RulesFlags& f, int http_port,
             const std::string& http_host) {
  auto rs = rules::LoadRuleSetFile(f.rules_file.empty() ? DefaultRulesFile() : f.rules_file);
  if (!rs.ok()) return Fail("rules", rs.status());
  bus::ClientConfig cfg{bus.bootstrap_servers, bus.kafka_properties};
  bus::ClientConfig rules_cfg = cfg;
  rules_cfg.properties.emplace("linger.ms", "0");  // flags are few; their latency matters
  auto producer = bus::Producer::Create(rules_cfg);
  if (!producer.ok()) return Fail("rules", producer.status());
  auto topic = LogTopicSource::Create(cfg);
  if (!topic.ok()) return Fail("rules", topic.status());
  follow::CatchUpSource source(topic->get(), bus.catch_up_from);
  SystemClock clock;
  RulesRunner runner({.state_dir = f.data_dir + "/rules"}, *rs, &source, producer->get(), &clock);
  Status st = runner.Start(clock.NowMicros());
  if (!st.ok()) return Fail("rules", st);
  auto registry = std::make_shared<prometheus::Registry>();
  metrics::HttpServer http(registry, [&] { return runner.health(); });
  st = http.Start(http_host, http_port);
  if (!st.ok()) return Fail("rules", st);
  std::cout << "probity rules: rule set " << rs->name << " " << rs->version << " ("
            << rs->sha256_hex.substr(0, 12) << "), " << rs->rules.size()
            << " rules; following probity.log.v1 on " << bus.bootstrap_servers
            << "; health on http://" << http_host << ":" << http.port() << "/healthz" << std::endl;
  st = runner.Run(&StopFlag());
  if (!st.ok()) return Fail("rules", st);
  auto s = runner.stats();
  std::cout << "probity rules: stopped at index " << s.next_index << ", " << s.flags
            << " flags raised" << std::endl;
  return 0;
}

int RulesRebuild(const RulesFlags& f) {
  auto rs = rules::LoadRuleSetFile(f.rules_file.empty() ? DefaultRulesFile() : f.rules_file);
  if (!rs.ok()) return Fail("rules rebuild", rs.status());
  auto store = OpenLog(f.data_dir);
  if (!store.ok()) return Fail("rules rebuild", store.status());
  StoreEventSource source(store->get(), INT64_MIN, INT64_MAX);
  auto rebuilt = rules::Rebuild(*rs, source);
  if (!rebuilt.ok()) return Fail("rules rebuild", rebuilt.status());
  std::string state_dir = f.data_dir + "/rules/state";
  std::filesystem::remove_all(state_dir);
  auto state = rules::StateStore::Open(state_dir);
  if (!state.ok()) return Fail("rules rebuild", state.status());
  if (rebuilt->engine->has_processed()) {
    Status st = (*state)->Save(*rebuilt->engine);
    if (!st.ok()) return Fail("rules rebuild", st);
  }
  std::cout << "probity rules rebuild: state rebuilt from " << *(*store)->TreeSize()
            << " entries into " << state_dir << "; the rules raise " << rebuilt->flags.size()
            << " flags over this log (already-logged ones are not raised again)\n";
  return 0;
}

int RulesBacktest(const RulesFlags& f, const std::string& candidate, const std::string& from,
                  const std::string& to, bool json) {
  auto rs = rules::LoadRuleSetFile(candidate);
  if (!rs.ok()) return Fail("rules backtest", rs.status());
  Micros lo = INT64_MIN, hi = INT64_MAX;
  if (!from.empty()) {
    auto t = ParseDate(from);
    if (!t.ok()) return Fail("rules backtest", t.status());
    lo = *t;
  }
  if (!to.empty()) {
    auto t = ParseDate(to);
    if (!t.ok()) return Fail("rules backtest", t.status());
    hi = *t;
  }
  auto store = OpenLog(f.data_dir);
  if (!store.ok()) return Fail("rules backtest", store.status());
  StoreEventSource source(store->get(), lo, hi);
  auto report = rules::Backtest(*rs, source);
  if (!report.ok()) return Fail("rules backtest", report.status());
  if (json) {
    for (const auto& r : report->rows) {
      std::cout << "{\"rule_id\":\"" << r.rule_id << "\",\"practice\":\"" << r.practice_code
                << "\",\"would_fire\":" << r.would_fire << ",\"raised\":" << r.raised << "}\n";
    }
    return 0;
  }
  std::map<std::string, std::pair<uint64_t, uint64_t>> per_rule;
  for (const auto& r : report->rows) {
    per_rule[r.rule_id].first += r.would_fire;
    per_rule[r.rule_id].second += r.raised;
  }
  std::printf("backtest of %s (%s) over %llu entries\n", candidate.c_str(),
              report->candidate_rule_set_hash.substr(0, 12).c_str(),
              static_cast<unsigned long long>(report->entries));
  std::printf("%-36s %12s %12s\n", "RULE", "WOULD FIRE", "RAISED NOW");
  for (const auto& [id, n] : per_rule) {
    std::printf("%-36s %12llu %12llu\n", id.c_str(), static_cast<unsigned long long>(n.first),
                static_cast<unsigned long long>(n.second));
  }
  std::printf("(per practice: --json)\n");
  return 0;
}

int RunGenerate(const BusFlags& bus, const GenerateFlags& f, bool to_bus) {
  std::unique_ptr<bus::Producer> producer;
  std::unique_ptr<generate::Sink> sink;
  std::unique_ptr<generate::FileSink> file;
  if (!f.out.empty()) {
    auto fs = generate::FileSink::Create(f.out);
    if (!fs.ok()) return Fail("generate", fs.status());
    file = std::move(fs).value();
  } else {
    auto p = bus::Producer::Create({bus.bootstrap_servers, bus.kafka_properties});
    if (!p.ok()) return Fail("generate", p.status());
    producer = std::move(p).value();
    sink = std::make_unique<KafkaSink>(producer.get());
  }
  generate::Sink* target = file ? static_cast<generate::Sink*>(file.get()) : sink.get();
  SystemClock clock;
  generate::RealSleeper sleeper;
  std::unique_ptr<generate::RateLimitedSink> limited;
  if (f.rate > 0) {
    limited = std::make_unique<generate::RateLimitedSink>(target, f.rate, &clock, &sleeper);
    target = limited.get();
  }
  auto start = std::chrono::steady_clock::now();
  Status st;
  int64_t events = 0;
  if (!f.replay.empty()) {
    st = generate::ReplayFile(f.replay, target);
  } else {
    generate::GeneratorParams p;
    auto from = ParseDate(f.from);
    auto to = ParseDate(f.to);
    if (!from.ok()) return Fail("generate", from.status());
    if (!to.ok()) return Fail("generate", to.status());
    p.start = *from;
    p.end = *to;
    p.practice_fraction = f.scale;
    p.volume_fraction = f.volume;
    p.anomaly_share = f.anomaly_share;
    p.seed = f.seed;
    bool tty = isatty(2);
    auto truth = generate::GenerateFromCsv(
        f.register_csv.empty() ? generate::DefaultReferenceCsvPath() : f.register_csv, p, target,
        [&](const generate::Progress& pr) {
          events = pr.events_emitted;
          if (tty) {
            std::fprintf(stderr, "\rgenerate: day %lld/%lld, %lld events", (long long)pr.days_done,
                         (long long)pr.days_total, (long long)pr.events_emitted);
          }
        });
    if (tty) std::fprintf(stderr, "\n");
    if (!truth.ok()) return Fail("generate", truth.status());
    st = generate::WriteTruthFile(f.truth, *truth);
    if (st.ok())
      std::cout << "ground truth: " << truth->size() << " injected anomalies in " << f.truth
                << "\n";
  }
  if (st.ok() && producer) st = producer->Flush(120000);
  if (st.ok() && file) st = file->Close();
  if (!st.ok()) return Fail("generate", st);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "generate: " << (events > 0 ? std::to_string(events) + " events " : std::string())
            << "in " << secs << " s to " << (file ? f.out : bus.bootstrap_servers) << "\n";
  return 0;
}

int RunScore(const std::string& data_dir, const std::string& truth_file, bool json) {
  auto truth = generate::ReadTruthFile(truth_file);
  if (!truth.ok()) return Fail("score", truth.status());
  auto store = OpenLog(data_dir);
  if (!store.ok()) return Fail("score", store.status());
  std::vector<v1::Envelope> flags;
  std::set<std::string> practices;
  auto size = (*store)->TreeSize();
  if (!size.ok()) return Fail("score", size.status());
  v1::LogRecord record;
  Status st = (*store)->Scan(0, *size, [&](const logstore::Entry& e) -> Status {
    if (!record.ParseFromString(e.record_bytes)) return DataLoss("entry does not parse");
    if (record.kind() == v1::EVENT_KIND_PRACTICE_UPDATE) practices.insert(record.practice_code());
    if (record.kind() != v1::EVENT_KIND_FLAG) return Status::Ok();
    PROBITY_ASSIGN_OR_RETURN(v1::Envelope env, DecodeRecordEnvelope(record));
    flags.push_back(std::move(env));
    return Status::Ok();
  });
  if (!st.ok()) return Fail("score", st);
  score::ScoreOptions opts;
  opts.practices.assign(practices.begin(), practices.end());
  auto report = score::Score(*truth, flags, opts);
  std::cout << (json ? score::FormatJson(report) : score::FormatText(report)) << "\n";
  return 0;
}

}  // namespace probity::cli
