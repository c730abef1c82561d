// ingest_bench: end-to-end ingest throughput, from the embedded bus into the Merkle log, set
// beside the bus's own rate measured in the same run, plus produce-to-append latency.
//
//   ingest_bench [--n=500000] [--latency_n=200000] [--latency_rate=R] [benchmark flags]
//
// One run (Iterations(1)) does, in one process on one embedded bus:
//  1. bus bound: a librdkafka producer writes N claims (~200 bytes, the very bytes ingest will
//     read) to a scratch topic, a consumer reads them back, and a "pipe" (consumer + producer, no
//     validation, no storage) copies them to a one-partition topic as ingest does to
//     probity.log.v1, three times. bus_pipe_per_s, the fastest, is the rate ingest could reach if
//     validation and the log were free; it is the bound the ratio is taken against.
//  2. ingest: the same N claims pre-produced to probity.claims.v1, then IngestService (RocksDB on
//     disk, checkpoints signed, probity.log.v1 published) is timed from Start() until the log
//     holds N entries. The log is then verified (not timed).
//  3. latency: with ingest running, latency_n claims are produced at latency_rate per second (by
//     default a quarter of the rate measured in 2: on a busy 2-core machine half was already
//     more than ingest sustains while a producer shares the CPU, and a queue built up); the time
//     from each Produce() call to the moment the log's size covered its index gives p50/p99.
//
// The embedded bus keeps only ~5 MB per partition (common/bus/embedded_cluster.h), so the input
// topic is created here with 48 partitions instead of 4: N pre-produced messages must all still
// be on the bus when ingest starts. Ingest reads whatever partition count the bus reports.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>
#include <unordered_map>

#include "common/bus/embedded_cluster.h"
#include "common/bus/kafka.h"
#include "common/bus/topics.h"
#include "common/logstore/store.h"
#include "common/note/note.h"
#include "services/ingest/ingest.h"
#include "tests/integration/test_events.h"

namespace probity::ingest {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

size_t g_n = 500000;
size_t g_latency_n = 200000;
double g_latency_rate = 0;  // 0: a quarter of the ingest rate just measured
constexpr int kInputPartitions = 48;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

void Check(const Status& st, const char* what) {
  if (!st.ok()) {
    std::fprintf(stderr, "ingest_bench: %s: %s\n", what, st.ToString().c_str());
    std::exit(1);
  }
}

// A valid claim of about 200 bytes in binary protobuf.
std::string ClaimBytes(const std::string& event_id, int64_t pence) {
  v1::Envelope e = probity::testing::Claim(event_id, "A81001", pence);
  e.mutable_claim()->set_patient_ref("P" + std::string(60, 'x'));
  return e.SerializeAsString();
}

std::vector<std::string> MakeClaims(const std::string& prefix, size_t n) {
  std::vector<std::string> v;
  v.reserve(n);
  char id[64];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(id, sizeof(id), "%s-%09zu", prefix.c_str(), i);
    v.push_back(ClaimBytes(id, 100 + static_cast<int64_t>(i % 10000)));
  }
  return v;
}

void ProduceAll(bus::Producer& p, std::string_view topic, const std::vector<std::string>& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    Check(p.Produce(topic, static_cast<int32_t>(i % kInputPartitions), "A81001", values[i]),
          "produce");
  }
  Check(p.Flush(120000), "flush");
}

size_t ConsumeN(bus::Consumer& c, size_t n) {
  std::vector<bus::Message> batch;
  size_t got = 0;
  auto deadline = Clock::now() + std::chrono::seconds(120);
  while (got < n && Clock::now() < deadline) {
    batch.clear();
    Check(c.Poll(10000, 100, &batch), "consume");
    got += batch.size();
  }
  return got;
}

struct BusRates {
  double produce_per_s = 0, consume_per_s = 0;
  std::array<double, 3> pipe_runs{};
  double pipe_per_s = 0;  // the fastest of pipe_runs
};

BusRates MeasureBus(bus::EmbeddedCluster& cluster, const bus::ClientConfig& cfg,
                    const std::vector<std::string>& values) {
  Check(cluster.CreateTopic("bench.baseline", kInputPartitions), "create topic");
  Check(cluster.CreateTopic("bench.sink", 1), "create topic");
  BusRates r;
  auto producer = bus::Producer::Create(cfg);
  Check(producer.status(), "producer");
  auto t0 = Clock::now();
  ProduceAll(**producer, "bench.baseline", values);
  r.produce_per_s = values.size() / Seconds(t0, Clock::now());

  std::vector<bus::TopicPartitionOffset> assignment;
  for (int p = 0; p < kInputPartitions; ++p)
    assignment.push_back({"bench.baseline", p, RD_KAFKA_OFFSET_BEGINNING});
  {
    auto consumer = bus::Consumer::Create(cfg);
    Check(consumer.status(), "consumer");
    Check((*consumer)->Assign(assignment), "assign");
    t0 = Clock::now();
    size_t got = ConsumeN(**consumer, values.size());
    r.consume_per_s = got / Seconds(t0, Clock::now());
  }
  // The pipe: read each message and publish it again, as ingest does (keyed, one partition),
  // until the bus confirmed every copy. Three times, and the fastest is the bound (the most
  // demanding one for ingest): one pass alone came out at either about 190k or about 265k/s on
  // the same idle VM.
  auto pipe_once = [&]() -> double {
    auto consumer = bus::Consumer::Create(cfg);
    Check(consumer.status(), "consumer");
    Check((*consumer)->Assign(assignment), "assign");
    std::atomic<uint64_t> confirmed{0};
    auto sink = bus::Producer::Create(cfg, [&](const bus::DeliveryReport& d) {
      if (d.status.ok()) confirmed.fetch_add(1, std::memory_order_relaxed);
    });
    Check(sink.status(), "producer");
    auto start = Clock::now();
    std::vector<bus::Message> batch;
    size_t got = 0;
    uint64_t i = 0;
    while (got < values.size()) {
      batch.clear();
      Check((*consumer)->Poll(5000, 100, &batch), "consume");
      got += batch.size();
      for (const auto& m : batch) {
        char key[8];
        std::memcpy(key, &i, 8);
        ++i;
        Check((*sink)->Produce("bench.sink", 0, std::string_view(key, 8), m.value), "produce");
      }
      (*sink)->Poll(0);
    }
    Check((*sink)->Flush(120000), "flush");
    return confirmed.load() / Seconds(start, Clock::now());
  };
  for (double& p : r.pipe_runs) p = pipe_once();
  r.pipe_per_s = *std::max_element(r.pipe_runs.begin(), r.pipe_runs.end());
  return r;
}

void BM_IngestEndToEnd(benchmark::State& state) {
  const size_t n = g_n;
  for (auto _ : state) {
    fs::path dir = fs::temp_directory_path() / ("probity_ingest_bench_" + std::to_string(getpid()));
    fs::remove_all(dir);
    auto cluster = bus::EmbeddedCluster::Start({.create_topics = false});
    Check(cluster.status(), "embedded bus");
    for (const auto& t : bus::kTopics) {
      int parts = t.name == bus::kClaimsTopic ? kInputPartitions : t.partitions;
      Check((*cluster)->CreateTopic(std::string(t.name), parts), "create topic");
    }
    bus::ClientConfig cfg{(*cluster)->bootstrap_servers(), {}};
    std::vector<std::string> values = MakeClaims("bench", n);

    BusRates bus_rates = MeasureBus(**cluster, cfg, values);

    // 2. Pre-produce, then time ingest from Start() until the log holds N.
    {
      auto producer = bus::Producer::Create(cfg);
      Check(producer.status(), "producer");
      ProduceAll(**producer, bus::kClaimsTopic, values);
    }
    auto kp = note::GenerateKey("probity.bench/log");
    Check(kp.status(), "keygen");
    auto signer = note::Signer::FromSignerKey(kp->signer_key);
    Check(signer.status(), "signer");
    auto store = logstore::LogStore::Open(dir.string(), {});
    Check(store.status(), "open store");
    SystemClock clock;
    prometheus::Registry registry;
    IngestOptions opts;
    opts.checkpoint_origin = "probity.bench/log";
    auto service_ptr =
        std::make_unique<IngestService>(opts, cfg, store->get(), &clock, &registry, &*signer);
    IngestService& service = *service_ptr;
    std::atomic<bool> stop{false};
    auto t0 = Clock::now();
    Check(service.Start(), "ingest start");
    Status run_status;
    std::thread runner([&] { run_status = service.Run(&stop); });
    while (service.stats().log_size < n) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (Seconds(t0, Clock::now()) > 300) {
        std::fprintf(stderr, "ingest_bench: ingest did not reach %zu entries in 300 s\n", n);
        std::exit(1);
      }
    }
    const double ingest_s = Seconds(t0, Clock::now());
    while (service.stats().log_published < n && Seconds(t0, Clock::now()) < 300) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    const double published_s = Seconds(t0, Clock::now());
    state.SetIterationTime(ingest_s);

    // 3. Latency at a steady rate, ingest still running.
    const double latency_rate = g_latency_rate > 0 ? g_latency_rate : 0.25 * n / ingest_s;
    std::vector<std::string> lvalues = MakeClaims("lat", g_latency_n);
    std::unordered_map<std::string, Clock::time_point> produced_at;
    produced_at.reserve(g_latency_n);
    std::vector<std::pair<Clock::time_point, uint64_t>> sizes;  // (when, log size) samples
    sizes.reserve(1 << 20);
    std::atomic<bool> sampling{true};
    std::thread sampler([&] {
      while (sampling) {
        sizes.emplace_back(Clock::now(), service.stats().log_size);
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
    });
    {
      auto producer = bus::Producer::Create(cfg);
      Check(producer.status(), "producer");
      auto start = Clock::now();
      char id[64];
      for (size_t i = 0; i < lvalues.size(); ++i) {
        auto due = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(i / latency_rate));
        if (Clock::now() < due) std::this_thread::sleep_until(due);
        std::snprintf(id, sizeof(id), "lat-%09zu", i);
        produced_at.emplace(id, Clock::now());
        Check((*producer)->Produce(bus::kClaimsTopic, static_cast<int32_t>(i % kInputPartitions),
                                   "A81001", lvalues[i]),
              "produce");
        if (i % 256 == 0) (*producer)->Poll(0);
      }
      Check((*producer)->Flush(60000), "flush");
    }
    auto lat_deadline = Clock::now() + std::chrono::seconds(120);
    while (service.stats().log_size < n + g_latency_n && Clock::now() < lat_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    sampling = false;
    sampler.join();
    stop = true;
    runner.join();
    Check(run_status, "ingest run");

    std::vector<double> lat_ms;
    lat_ms.reserve(g_latency_n);
    // Where the slow ones were: produce time (s after the first) of every event above 100 ms, by
    // 0.25 s bucket, so a stall shows as one bucket and a queue as a ramp.
    std::map<int, int> slow_at;
    Clock::time_point first_produced = Clock::time_point::max();
    for (const auto& [id, t] : produced_at) first_produced = std::min(first_produced, t);
    Check((*store)->Scan(
              n, n + g_latency_n,
              [&](const logstore::Entry& e) -> Status {
                v1::LogRecord r;
                r.ParseFromString(e.record_bytes);
                auto it = produced_at.find(r.event_id());
                if (it == produced_at.end()) return Internal("unexpected entry " + r.event_id());
                // First sample whose size covers this index.
                auto s = std::lower_bound(sizes.begin(), sizes.end(), e.index + 1,
                                          [](const auto& a, uint64_t v) { return a.second < v; });
                if (s == sizes.end()) return Internal("entry appended after sampling stopped");
                lat_ms.push_back(
                    std::chrono::duration<double, std::milli>(s->first - it->second).count());
                if (lat_ms.back() > 100)
                  ++slow_at[static_cast<int>(4 * Seconds(first_produced, it->second))];
                return Status::Ok();
              }),
          "scan latency entries");
    std::sort(lat_ms.begin(), lat_ms.end());
    auto pct = [&](double q) {
      return lat_ms.empty()
                 ? -1.0
                 : lat_ms[std::min(lat_ms.size() - 1, static_cast<size_t>(q * lat_ms.size()))];
    };

    auto verify = (*store)->Verify();
    Check(verify.status(), "verify");
    if (verify->entries_checked != n + g_latency_n) {
      std::fprintf(stderr, "ingest_bench: verified %llu entries, expected %zu\n",
                   static_cast<unsigned long long>(verify->entries_checked), n + g_latency_n);
      std::exit(1);
    }

    const double rate = n / ingest_s;
    if (!slow_at.empty()) {
      std::printf("events over 100 ms, by produce time:");
      for (const auto& [q, count] : slow_at) std::printf(" %.2fs:%d", q / 4.0, count);
      std::printf("\n");
    }
    state.counters["events_per_s"] = rate;
    state.counters["published_per_s"] = n / published_s;
    state.counters["bus_produce_per_s"] = bus_rates.produce_per_s;
    state.counters["bus_consume_per_s"] = bus_rates.consume_per_s;
    state.counters["bus_pipe_per_s"] = bus_rates.pipe_per_s;
    state.counters["ratio_to_bus_pipe"] = rate / bus_rates.pipe_per_s;
    state.counters["p50_ms"] = pct(0.50);
    state.counters["p99_ms"] = pct(0.99);
    state.counters["lat_n"] = static_cast<double>(lat_ms.size());
    state.counters["lat_rate_per_s"] = latency_rate;
    std::printf(
        "ingest: %zu events in %.2f s = %.0f events/s (all published: %.0f/s); bus alone: produce "
        "%.0f/s, consume %.0f/s, consume+republish %.0f/s (fastest of %.0f, %.0f, %.0f); ingest / "
        "bus "
        "pipe = %.2f\n"
        "latency at %.0f events/s (%zu events): p50 %.1f ms, p99 %.1f ms, max %.1f ms; log "
        "verified "
        "(%llu entries)\n",
        n, ingest_s, rate, n / published_s, bus_rates.produce_per_s, bus_rates.consume_per_s,
        bus_rates.pipe_per_s, bus_rates.pipe_runs[0], bus_rates.pipe_runs[1],
        bus_rates.pipe_runs[2], rate / bus_rates.pipe_per_s, latency_rate, lat_ms.size(), pct(0.5),
        pct(0.99), lat_ms.empty() ? -1.0 : lat_ms.back(),
        static_cast<unsigned long long>(verify->entries_checked));
    service_ptr.reset();
    store->reset();
    fs::remove_all(dir);
  }
}

}  // namespace
}  // namespace probity::ingest

int main(int argc, char** argv) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--n=", 0) == 0) {
      probity::ingest::g_n = std::stoul(a.substr(4));
    } else if (a.rfind("--latency_n=", 0) == 0) {
      probity::ingest::g_latency_n = std::stoul(a.substr(12));
    } else if (a.rfind("--latency_rate=", 0) == 0) {
      probity::ingest::g_latency_rate = std::stod(a.substr(15));
    } else {
      rest.push_back(argv[i]);
    }
  }
  int rc = static_cast<int>(rest.size());
  benchmark::RegisterBenchmark("BM_IngestEndToEnd", probity::ingest::BM_IngestEndToEnd)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&rc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
