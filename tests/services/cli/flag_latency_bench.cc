// Benchmark (not a test): time from append to flag published, at a steady 10,000 events/s.
//
// The whole pipeline of `probity up` runs in this process: the embedded bus, ingest appending to
// RocksDB on disk, the rules runner following the store and publishing flags. A producer sends
// claims at a steady rate; 1% of them repeat a learning-disability health check for a patient,
// which the duplicate_item_of_service rule flags. A consumer reads probity.flags.v1; each flag's
// latency is its arrival on the bus minus the received_at time ingest stamped on the entry that
// raised it (the last evidence index). Bound: p99 < 50 ms (issue "Rules").
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "common/bus/embedded_cluster.h"
#include "common/bus/kafka.h"
#include "common/bus/topics.h"
#include "common/logstore/store.h"
#include "common/note/note.h"
#include "services/cli/analysis_commands.h"
#include "services/ingest/ingest.h"
#include "services/rules/rule_set.h"
#include "services/rules/runner.h"
#include "tests/integration/test_events.h"

namespace probity::cli {
namespace {

namespace fs = std::filesystem;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void BM_AppendToFlagLatency(benchmark::State& state) {
  const double rate = static_cast<double>(state.range(0));
  const int seconds = static_cast<int>(state.range(1));
  for (auto _ : state) {
    fs::path dir = fs::temp_directory_path() / ("probity_flag_latency_" + std::to_string(getpid()));
    fs::remove_all(dir);
    auto cluster = std::move(bus::EmbeddedCluster::Start({})).value();
    bus::ClientConfig cfg{cluster->bootstrap_servers(), {}};
    auto kp = note::GenerateKey("probity.bench/log");
    auto signer = std::move(note::Signer::FromSignerKey(kp->signer_key)).value();
    auto store = std::move(logstore::LogStore::Open((dir / "log").string(), {})).value();
    SystemClock clock;
    prometheus::Registry registry;
    ingest::IngestOptions io;
    io.checkpoint_origin = "probity.bench/log";
    ingest::IngestService ingest(io, cfg, store.get(), &clock, &registry, &signer);
    if (!ingest.Start().ok()) {
      state.SkipWithError("ingest did not start");
      return;
    }
    std::atomic<bool> stop{false};
    std::thread ingest_thread([&] { (void)ingest.Run(&stop); });

    auto rule_set = std::move(rules::LoadRuleSetFile(DefaultRulesFile())).value();
    // As probity up does: flags are few and latency matters, so the rules producer does not linger.
    bus::ClientConfig rules_cfg = cfg;
    rules_cfg.properties["linger.ms"] = "0";
    bus::KafkaBus rules_bus(rules_cfg);
    follow::StoreSource source(store.get());
    rules::RulesRunner runner({.state_dir = (dir / "rules").string()}, rule_set, &source,
                              &rules_bus);
    if (!runner.Start(clock.NowMicros()).ok()) {
      state.SkipWithError("rules did not start");
      return;
    }
    std::thread rules_thread([&] { (void)runner.Run(&stop); });

    // Flags as they arrive on the bus: (arrival µs, index of the entry that raised them).
    std::vector<std::pair<int64_t, uint64_t>> arrivals;
    std::atomic<bool> stop_reader{false};
    std::thread reader([&] {
      auto consumer = std::move(bus::Consumer::Create(cfg)).value();
      (void)consumer->Assign({{std::string(bus::kFlagsTopic), 0, RD_KAFKA_OFFSET_BEGINNING}});
      std::vector<bus::Message> msgs;
      while (!stop_reader) {
        msgs.clear();
        // A short wait: Poll returns when max messages or the timeout is reached, and the arrival
        // time is stamped after it returns.
        (void)consumer->Poll(1000, 2, &msgs);
        int64_t now = NowMicros();
        for (const auto& m : msgs) {
          v1::Envelope env;
          if (!env.ParseFromString(m.value) || env.flag().evidence_size() == 0) continue;
          uint64_t idx = 0;
          for (const auto& e : env.flag().evidence()) idx = std::max(idx, e.log_index());
          arrivals.emplace_back(now, idx);
        }
      }
    });

    // Let every client connect and fetch once before the clock starts: the first fetch of a new
    // consumer takes up to a second and would otherwise be counted as flag latency.
    std::this_thread::sleep_for(std::chrono::seconds(3));

    // A steady stream: claims, 1% of them a repeated LDHC for a patient seen before.
    auto producer = std::move(bus::Producer::Create(cfg)).value();
    const int64_t total = static_cast<int64_t>(rate * seconds);
    auto start = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < total; ++i) {
      auto due = start + std::chrono::microseconds(static_cast<int64_t>(i * 1e6 / rate));
      std::this_thread::sleep_until(due);
      v1::Envelope e = testing::Claim("lat-" + std::to_string(i), "A81001", 1000 + i % 7);
      if (i % 50 == 0) {  // first and second LDHC for patient i/100
        auto* c = e.mutable_claim();
        c->set_stream(v1::PAYMENT_STREAM_ITEM_OF_SERVICE);
        c->set_service_code("LDHC");
        c->set_patient_ref("P" + std::to_string(i / 100));
        c->set_claim_id("LD-" + std::to_string(i));
      }
      (void)producer->Produce(bus::kClaimsTopic, -1, "A81001", e.SerializeAsString());
      if (i % 1000 == 0) producer->Poll(0);
    }
    (void)producer->Flush(30000);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    stop_reader = true;
    reader.join();
    stop = true;
    rules_thread.join();
    ingest_thread.join();

    std::vector<double> lat_ms;
    for (const auto& [arrival, idx] : arrivals) {
      auto entry = store->Get(idx);
      v1::LogRecord rec;
      if (!entry.ok() || !rec.ParseFromString(entry->record_bytes)) continue;
      int64_t received = rec.received_at().seconds() * 1000000 + rec.received_at().nanos() / 1000;
      lat_ms.push_back((arrival - received) / 1000.0);
    }
    std::sort(lat_ms.begin(), lat_ms.end());
    auto pct = [&](double q) {
      return lat_ms.empty()
                 ? -1.0
                 : lat_ms[std::min(lat_ms.size() - 1, static_cast<size_t>(q * lat_ms.size()))];
    };
    state.counters["events"] = static_cast<double>(total);
    state.counters["flags"] = static_cast<double>(lat_ms.size());
    state.counters["p50_ms"] = pct(0.50);
    state.counters["p99_ms"] = pct(0.99);
    state.counters["max_ms"] = lat_ms.empty() ? -1 : lat_ms.back();
    state.counters["bound_p99_ms"] = 50;
    std::printf(
        "append-to-flag at %.0f events/s for %d s: %zu flags, p50 %.1f ms, p99 %.1f ms "
        "(bound: p99 < 50 ms), max %.1f ms\n",
        rate, seconds, lat_ms.size(), pct(0.5), pct(0.99), lat_ms.empty() ? -1.0 : lat_ms.back());
    store.reset();
    fs::remove_all(dir);
  }
}
BENCHMARK(BM_AppendToFlagLatency)->Args({10000, 20})->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace
}  // namespace probity::cli

BENCHMARK_MAIN();
