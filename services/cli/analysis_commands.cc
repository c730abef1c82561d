#include "services/cli/analysis_commands.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/bus/kafka.h"
#include "common/bus/topics.h"
#include "common/codec/codec.h"
#include "common/logstore/store.h"
#include "common/metrics/http_server.h"
#include "common/time/proto_time.h"
#include "services/cli/follow_support.h"
#include "services/cli/kafka_sink.h"
#include "services/generate/generator.h"
#include "services/generate/reference.h"
#include "services/generate/sink.h"
#include "services/generate/truth.h"
#include "services/rules/backtest.h"
#include "services/rules/engine.h"
#include "services/rules/rule_set.h"
#include "services/rules/runner.h"
#include "services/rules/state_store.h"
#include "services/score/evaluate.h"
#include "services/score/score.h"

namespace probity::cli {
namespace {

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
      Micros t = FromTimestamp(record.occurred_at());
      if (t < from_ || t >= to_) return Status::Ok();
      PROBITY_ASSIGN_OR_RETURN(v1::Envelope env, follow::DecodeRecordEnvelope(record));
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

int RunRules(const RulesOptions& o, const Runtime& rt) {
  auto rs = rules::LoadRuleSetFile(o.rules_file.empty() ? DefaultRulesFile() : o.rules_file);
  if (!rs.ok()) return Fail("rules", rs.status());
  bus::ClientConfig producer_cfg = o.bus;
  producer_cfg.properties.emplace("linger.ms", "0");  // flags are few; their latency matters
  bus::KafkaBus producer_bus(producer_cfg);
  auto in = OpenBusFollowInputs(o.bus, o.catch_up_from, o.log_key, "rules");
  if (!in.ok()) return Fail("rules", in.status());
  rules::RulesRunner runner({.state_dir = o.data_dir + "/rules",
                             .checkpoints = in->checkpoints.get(),
                             .origin = in->origin,
                             .log_keys = in->log_keys},
                            *rs, in->entries.get(), &producer_bus, rt.clock);
  Status st = runner.Start(rt.clock->NowMicros());
  if (!st.ok()) return Fail("rules", st);
  auto registry = std::make_shared<prometheus::Registry>();
  metrics::HttpServer http(registry, [&] { return runner.health(); });
  st = http.Start(o.http.host, o.http.port);
  if (!st.ok()) return Fail("rules", st);
  std::cout << "probity rules: rule set " << rs->name << " " << rs->version << " ("
            << rs->sha256_hex.substr(0, 12) << "), " << rs->rules.size()
            << " rules; following probity.log.v1 on " << o.bus.bootstrap_servers
            << "; health on http://" << o.http.host << ":" << http.port() << "/healthz"
            << std::endl;
  st = runner.Run(rt.stop);
  if (!st.ok()) return Fail("rules", st);
  auto s = runner.stats();
  std::cout << "probity rules: stopped at index " << s.next_index << ", " << s.flags
            << " flags raised" << std::endl;
  return kExitOk;
}

int RulesRebuild(const RulesOptions& o) {
  auto rs = rules::LoadRuleSetFile(o.rules_file.empty() ? DefaultRulesFile() : o.rules_file);
  if (!rs.ok()) return Fail("rules rebuild", rs.status());
  auto store = OpenLog(o.data_dir);
  if (!store.ok()) return Fail("rules rebuild", store.status());
  StoreEventSource source(store->get(), INT64_MIN, INT64_MAX);
  auto rebuilt = rules::Rebuild(*rs, source);
  if (!rebuilt.ok()) return Fail("rules rebuild", rebuilt.status());
  std::string state_dir = o.data_dir + "/rules/state";
  std::error_code ec;
  std::filesystem::remove_all(state_dir, ec);
  if (ec) return Fail("rules rebuild", IoError("cannot remove " + state_dir + ": " + ec.message()));
  auto state = rules::StateStore::Open(state_dir);
  if (!state.ok()) return Fail("rules rebuild", state.status());
  if (rebuilt->engine->has_processed()) {
    Status st = (*state)->Save(*rebuilt->engine);
    if (!st.ok()) return Fail("rules rebuild", st);
  }
  std::cout << "probity rules rebuild: state rebuilt from " << *(*store)->TreeSize()
            << " entries into " << state_dir << "; the rules raise " << rebuilt->flags.size()
            << " flags over this log (already-logged ones are not raised again)\n";
  return kExitOk;
}

int RulesBacktest(const RulesOptions& r, const BacktestOptions& o) {
  Micros lo = INT64_MIN, hi = INT64_MAX;
  if (!o.from.empty()) {
    auto t = ParseDateOption("--from", o.from);
    if (!t.ok()) return Fail("rules backtest", t.status());
    lo = *t;
  }
  if (!o.to.empty()) {
    auto t = ParseDateOption("--to", o.to);
    if (!t.ok()) return Fail("rules backtest", t.status());
    hi = *t;
  }
  auto rs = rules::LoadRuleSetFile(o.candidate);
  if (!rs.ok()) return Fail("rules backtest", rs.status());
  auto store = OpenLog(r.data_dir);
  if (!store.ok()) return Fail("rules backtest", store.status());
  StoreEventSource source(store->get(), lo, hi);
  auto report = rules::Backtest(*rs, source);
  if (!report.ok()) return Fail("rules backtest", report.status());
  if (o.json) {
    for (const auto& row : report->rows) {
      std::cout << "{\"rule_id\":\"" << row.rule_id << "\",\"practice\":\"" << row.practice_code
                << "\",\"would_fire\":" << row.would_fire << ",\"raised\":" << row.raised << "}\n";
    }
    return kExitOk;
  }
  std::map<std::string, std::pair<uint64_t, uint64_t>> per_rule;
  for (const auto& row : report->rows) {
    per_rule[row.rule_id].first += row.would_fire;
    per_rule[row.rule_id].second += row.raised;
  }
  std::printf("backtest of %s (%s) over %llu entries\n", o.candidate.c_str(),
              report->candidate_rule_set_hash.substr(0, 12).c_str(),
              static_cast<unsigned long long>(report->entries));
  std::printf("%-36s %12s %12s\n", "RULE", "WOULD FIRE", "RAISED NOW");
  for (const auto& [id, n] : per_rule) {
    std::printf("%-36s %12llu %12llu\n", id.c_str(), static_cast<unsigned long long>(n.first),
                static_cast<unsigned long long>(n.second));
  }
  std::printf("(per practice: --json)\n");
  return kExitOk;
}

StatusOr<generate::GeneratorParams> ScenarioParams(const ScenarioOptions& o) {
  generate::GeneratorParams p = o.params;
  PROBITY_ASSIGN_OR_RETURN(p.start, ParseDateOption("--from", o.from));
  PROBITY_ASSIGN_OR_RETURN(p.end, ParseDateOption("--to", o.to));
  return p;
}

int RunGenerate(const GenerateOptions& o, const Runtime& rt) {
  // The options are checked before anything is produced or written.
  std::optional<generate::GeneratorParams> params;
  if (o.replay.empty()) {
    auto p = ScenarioParams(o.scenario);
    if (!p.ok()) return Fail("generate", p.status());
    params = *p;
  }
  std::unique_ptr<bus::Producer> producer;
  std::unique_ptr<generate::Sink> sink;
  std::unique_ptr<generate::FileSink> file;
  if (!o.out.empty()) {
    auto fs = generate::FileSink::Create(o.out);
    if (!fs.ok()) return Fail("generate", fs.status());
    file = std::move(fs).value();
  } else {
    auto p = bus::Producer::Create(o.bus);
    if (!p.ok()) return Fail("generate", p.status());
    producer = std::move(p).value();
    sink = std::make_unique<KafkaSink>(producer.get());
  }
  generate::Sink* target = file ? static_cast<generate::Sink*>(file.get()) : sink.get();
  generate::RealSleeper sleeper;
  std::unique_ptr<generate::RateLimitedSink> limited;
  if (o.rate > 0) {
    limited = std::make_unique<generate::RateLimitedSink>(target, o.rate, rt.clock, &sleeper);
    target = limited.get();
  }
  auto start = std::chrono::steady_clock::now();
  Status st;
  int64_t events = 0;
  if (!o.replay.empty()) {
    st = generate::ReplayFile(o.replay, target);
  } else {
    bool tty = isatty(2);
    const std::string& csv = o.scenario.register_csv.empty() ? generate::DefaultReferenceCsvPath()
                                                             : o.scenario.register_csv;
    auto truth = generate::GenerateFromCsv(csv, *params, target, [&](const generate::Progress& pr) {
      events = pr.events_emitted;
      if (tty) {
        std::fprintf(stderr, "\rgenerate: day %lld/%lld, %lld events", (long long)pr.days_done,
                     (long long)pr.days_total, (long long)pr.events_emitted);
      }
    });
    if (tty) std::fprintf(stderr, "\n");
    if (!truth.ok()) return Fail("generate", truth.status());
    st = generate::WriteTruthFile(o.truth, *truth);
    if (st.ok())
      std::cout << "ground truth: " << truth->size() << " injected anomalies in " << o.truth
                << "\n";
  }
  if (st.ok() && producer) st = producer->Flush(120000);
  if (st.ok() && file) st = file->Close();
  if (!st.ok()) return Fail("generate", st);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "generate: " << (events > 0 ? std::to_string(events) + " events " : std::string())
            << "in " << secs << " s to " << (file ? o.out : o.bus.bootstrap_servers) << "\n";
  return kExitOk;
}

int RunScore(const ScoreOptions& o) {
  auto truth = generate::ReadTruthFile(o.truth_file);
  if (!truth.ok()) return Fail("score", truth.status());
  auto store = OpenLog(o.data_dir);
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
    PROBITY_ASSIGN_OR_RETURN(v1::Envelope env, follow::DecodeRecordEnvelope(record));
    flags.push_back(std::move(env));
    return Status::Ok();
  });
  if (!st.ok()) return Fail("score", st);
  score::ScoreOptions opts;
  opts.practices.assign(practices.begin(), practices.end());
  auto report = score::Score(*truth, flags, opts);
  std::cout << (o.json ? score::FormatJson(report) : score::FormatText(report)) << "\n";
  return kExitOk;
}

int RunScoreOffline(const ScoreOfflineOptions& o) {
  auto params = ScenarioParams(o.scenario);
  if (!params.ok()) return Fail("score offline", params.status());
  auto rule_set = rules::LoadRuleSetFile(o.rules_file.empty() ? DefaultRulesFile() : o.rules_file);
  if (!rule_set.ok()) return Fail("score offline", rule_set.status());
  auto reference =
      generate::LoadReference(o.scenario.register_csv.empty() ? generate::DefaultReferenceCsvPath()
                                                              : o.scenario.register_csv);
  if (!reference.ok()) return Fail("score offline", reference.status());
  if (o.truth_only) {
    auto gen = generate::Generator::Create(*reference, *params);
    if (!gen.ok()) return Fail("score offline", gen.status());
    for (const auto& t : (*gen)->truth()) {
      std::cout << generate::TruthToJsonLine(t) << "  # "
                << (*gen)->DescribePractice(t.practice_code) << "\n";
    }
    return kExitOk;
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto progress = [&](const generate::Progress& p) {
    if (p.days_done % 30 == 0) {
      std::cerr << "  day " << p.days_done << "/" << p.days_total << ", " << p.events_emitted
                << " events\n";
    }
  };
  auto ev = score::Evaluate(*reference, *params, *rule_set, progress,
                            {.keep_flags = true, .log_baselines = true});
  if (!ev.ok()) return Fail("score offline", ev.status());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (o.diagnose) std::cout << score::FormatDiagnostics(*ev);
  std::cout << (o.json ? score::FormatJson(ev->report) : score::FormatText(ev->report)) << "\n";
  if (!ev->power.empty() && !o.json) std::cout << score::FormatPowerText(ev->power) << "\n";
  if (!o.power_csv.empty()) {
    std::ofstream csv(o.power_csv, std::ios::binary | std::ios::trunc);
    csv << score::FormatPowerCsv(ev->power);
    if (!csv) return Fail("score offline", IoError("cannot write " + o.power_csv));
  }
  std::fprintf(stderr, "%lld input events, %lld log entries, %.1f s\n",
               static_cast<long long>(ev->input_events), static_cast<long long>(ev->log_entries),
               secs);
  return kExitOk;
}

}  // namespace probity::cli
