// Benchmarks of the api (issue #13 targets, docs/api.md "Performance"):
//  - BM_TrailStream100k: a practice-year trail of 100,000 entries, each with its inclusion proof
//    against one checkpoint, streamed as JSON lines over HTTP (target < 1 s), beside
//  - BM_StoreScanAndProof100k: the store's own rate for the same work (index scan, entry reads,
//    one proof per entry), the bound the api can approach, printed again beside the trail's rate
//    (store_bound_entries_per_s); the trail's CPU is split into the api's and the client's;
//  - BM_EntryReadsWrk: single entries with proofs over HTTP keep-alive, measured by wrk (Debian's
//    package) with 64 connections (target >= 5,000/s on the 2-core machine). Every read is
//    recorded on probity.access.v1 of an embedded bus and answered only after the bus confirmed
//    it, as in production.
// The log (100,000 entries of one practice and 20,000 of others, one signed checkpoint) is built
// once in a temporary directory and flushed to sorted tables, as a log a year old is.
#include <benchmark/benchmark.h>
#include <httplib.h>
#include <rocksdb/db.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>

#include "common/bus/embedded_cluster.h"
#include "common/bus/topics.h"
#include "common/crypto/sha256.h"
#include "common/follow/checkpoint_source.h"
#include "common/follow/runtime.h"
#include "common/logstore/sequencer.h"
#include "common/logstore/store.h"
#include "common/note/checkpoint.h"
#include "common/note/note.h"
#include "common/time/proto_time.h"
#include "services/api/api.h"

namespace probity::api {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kTrail = 100'000;
constexpr uint64_t kOthers = 20'000;
constexpr Micros kYearStart = 1680307200LL * 1000000;  // 2023-04-01
constexpr Micros kYear = 365LL * 86400 * 1000000;

v1::LogRecord Record(uint64_t i, const std::string& practice, Micros at) {
  v1::Envelope e;
  e.set_event_id(practice + "-claim-" + std::to_string(i));
  e.set_kind(v1::EVENT_KIND_CLAIM);
  e.set_schema_version(1);
  e.set_practice_code(practice);
  SetTimestamp(e.mutable_occurred_at(), at);
  e.set_source_system("cqrs");
  auto* c = e.mutable_claim();
  c->set_claim_id("c-" + std::to_string(i));
  c->set_stream(v1::PAYMENT_STREAM_ITEM_OF_SERVICE);
  c->set_service_code("FLU65");
  c->set_quantity(1);
  c->set_unit_price_pence(1000);
  c->set_amount_pence(1000);
  c->set_patient_ref("p-" + std::to_string(i % 5000));
  v1::LogRecord r;
  r.set_payload(e.SerializeAsString());
  r.set_content_type(v1::CONTENT_TYPE_PROTOBUF);
  r.set_topic(std::string(bus::kClaimsTopic));
  r.set_offset(static_cast<int64_t>(i));
  SetTimestamp(r.mutable_received_at(), at);
  r.set_event_id(e.event_id());
  r.set_kind(e.kind());
  r.set_practice_code(practice);
  *r.mutable_occurred_at() = e.occurred_at();
  return r;
}

// Instant confirmation, for the benchmarks that measure the store and streaming alone.
class NoBus final : public ConfirmedPublisher {
 public:
  Status Publish(std::string_view, std::string_view, std::string_view, int) override {
    return Status::Ok();
  }
};

struct World {
  fs::path dir;
  std::unique_ptr<logstore::LogStore> store;
  uint64_t size = 0;
  std::unique_ptr<bus::EmbeddedCluster> cluster;
  std::unique_ptr<bus::KafkaBus> kafka;
  std::unique_ptr<ConfirmingBusPublisher> publisher;
  std::unique_ptr<AccessControl> access;
  std::unique_ptr<follow::StoreSource> source;
  std::unique_ptr<View> view;
  std::unique_ptr<follow::BusPublisher> follow_publisher;
  std::unique_ptr<follow::Runtime> runtime;
  std::unique_ptr<IdempotencyStore> idem;
  SystemClock clock;
  std::unique_ptr<ApiServer> server;
  NoBus no_bus;
  std::unique_ptr<ApiServer> server_no_bus;
  std::string token = "bench-token";

  World() {
    dir = fs::temp_directory_path() / ("probity-api-bench-" + std::to_string(getpid()));
    fs::remove_all(dir);
    store = std::move(logstore::LogStore::Open((dir / "log").string(), {}).value());
    auto seq = std::move(logstore::Sequencer::Create(store.get()).value());
    uint64_t i = 0, mine = 0;
    while (mine < kTrail) {
      std::vector<v1::LogRecord> batch;
      for (int k = 0; k < 1000; ++k, ++i) {
        // One entry in six belongs to another practice, interleaved as a real log would be.
        if (i % 6 == 5 && i / 6 < kOthers) {
          batch.push_back(Record(i, "B82002", kYearStart + (i * 7919) % kYear));
        } else {
          batch.push_back(Record(i, "A81001", kYearStart + (mine++ * kYear) / kTrail));
          if (mine == kTrail) break;
        }
      }
      if (!seq->Append(&batch, {}, {}).ok()) std::abort();
    }
    size = seq->size();
    auto kp = note::GenerateKey("probity.bench/log").value();
    auto signer = note::Signer::FromSignerKey(kp.signer_key).value();
    note::Checkpoint c{"probity.bench/log", size, seq->root(), {}};
    v1::CheckpointRecord cp;
    cp.set_tree_size(size);
    cp.set_root_hash(std::string(merkle::AsBytes(seq->root())));
    cp.set_signed_note(note::SignCheckpoint(c, signer).value());
    if (!seq->AddCheckpoint(cp).ok()) std::abort();
    // A practice-year log has long been flushed from the memtables to sorted tables: flush, so
    // that reads see the store as it is in service rather than just after a bulk load.
    rocksdb::FlushOptions fo;
    if (!store->db()
             ->Flush(fo, {store->entries(), store->tiles(), store->event_index(),
                          store->practice_index(), store->kind_index()})
             .ok()) {
      std::abort();
    }

    cluster = std::move(bus::EmbeddedCluster::Start({}).value());
    // The api's producer settings (services/cli/api_commands.cc).
    bus::ClientConfig cfg{cluster->bootstrap_servers(),
                          {{"linger.ms", "1"}, {"socket.nagle.disable", "true"}}};
    kafka = std::make_unique<bus::KafkaBus>(cfg);
    publisher = std::move(ConfirmingBusPublisher::Create(kafka.get()).value());
    v1::ApiAccessConfig config;
    auto* p = config.add_principals();
    p->set_name("bench-auditor");
    p->set_role(v1::API_ROLE_AUDITOR);
    p->set_token_sha256_hex(crypto::Sha256Hex(token));
    access = std::make_unique<AccessControl>(AccessControl::FromConfig(config).value());
    source = std::make_unique<follow::StoreSource>(store.get());
    view = std::make_unique<View>();
    follow_publisher = std::move(follow::BusPublisher::Create(kafka.get()).value());
    follow::Runtime::Options ro;
    ro.data_dir = (dir / "follow").string();
    fs::create_directories(ro.data_dir);
    runtime = std::make_unique<follow::Runtime>(ro, view.get(), source.get(), nullptr,
                                                follow_publisher.get(), &clock);
    if (!runtime->Start().ok()) std::abort();
    while (runtime->RunOnce().value() > 0) {
    }
    idem = std::move(IdempotencyStore::Open((dir / "idem").string()).value());
    ApiOptions o;
    o.rate_per_second = 1e9;
    o.rate_burst = 1e9;
    o.threads = 64;
    o.instance_id = "bench";
    const logstore::LogStore* s = store.get();
    server = std::make_unique<ApiServer>(
        o, access.get(),
        [s] {
          return std::shared_ptr<const logstore::LogReader>(s, [](const logstore::LogReader*) {});
        },
        view.get(), publisher.get(), idem.get(), &clock);
    if (!server->Start().ok()) std::abort();
    // The same api with access records confirmed at once: what HTTP, the store and the proofs
    // cost without the bus round trip (for comparison only; the api never runs so).
    server_no_bus = std::make_unique<ApiServer>(
        o, access.get(),
        [s] {
          return std::shared_ptr<const logstore::LogReader>(s, [](const logstore::LogReader*) {});
        },
        view.get(), &no_bus, idem.get(), &clock);
    if (!server_no_bus->Start().ok()) std::abort();
  }
  ~World() {
    server_no_bus.reset();
    server.reset();
    runtime.reset();
    publisher.reset();
    cluster.reset();
    store.reset();
    fs::remove_all(dir);
  }
};

// CPU seconds this process (the api's threads, the store, the embedded bus) has used so far: on a
// machine shared with other work, the figure that does not depend on what else runs.
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// CPU seconds the calling thread has used so far (the trail's client, apart from the api).
double ThreadCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The store's own rate for a trail's work (BM_StoreScanAndProof100k, its best iteration),
// printed beside the trail's as its bound; 0 until that benchmark ran.
double store_bound_entries_per_s = 0;

World& TheWorld() {
  static World* w = new World();
  return *w;
}

void BM_StoreScanAndProof100k(benchmark::State& state) {
  World& w = TheWorld();
  for (auto _ : state) {
    const double cpu0 = ProcessCpuSeconds();
    const auto start = std::chrono::steady_clock::now();
    uint64_t n = 0;
    // The store's best path for the work: the index scan, then runs of 16,384 entries read
    // together (GetMany) with their proofs computed together (InclusionProofs), as the api does.
    auto idx = w.store->FindByPractice("A81001", INT64_MIN / 2, INT64_MAX / 2, 2 * kTrail).value();
    for (size_t at = 0; at < idx.size(); at += 16384) {
      const std::vector<uint64_t> run(idx.begin() + at,
                                      idx.begin() + std::min(idx.size(), at + 16384));
      auto entries = w.store->GetMany(run).value();
      for (const auto& e : entries) {
        v1::LogRecord r;
        r.ParseFromString(e.record_bytes);
        benchmark::DoNotOptimize(r);
      }
      benchmark::DoNotOptimize(w.store->InclusionProofs(run, w.size).value());
      n += entries.size();
    }
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(s);
    state.counters["entries"] = n;
    state.counters["entries_per_s"] = n / s;
    state.counters["cpu_s"] = ProcessCpuSeconds() - cpu0;
    store_bound_entries_per_s = std::max(store_bound_entries_per_s, n / s);
  }
}
BENCHMARK(BM_StoreScanAndProof100k)->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);

void BM_TrailStream100k(benchmark::State& state) {
  World& w = TheWorld();
  for (auto _ : state) {
    httplib::Client cli("127.0.0.1", w.server->port());
    cli.set_read_timeout(120);
    uint64_t bytes = 0, lines = 0;
    const double cpu0 = ProcessCpuSeconds();
    const double client0 = ThreadCpuSeconds();
    const auto start = std::chrono::steady_clock::now();
    auto res = cli.Get("/v1/practices/A81001/trail",
                       {{"Authorization", "Bearer " + w.token}, {"Accept", "application/x-ndjson"}},
                       [&](const char* data, size_t len) {
                         bytes += len;
                         for (size_t i = 0; i < len; ++i) lines += data[i] == '\n';
                         return true;
                       });
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!res || res->status != 200 || lines != kTrail + 2) {
      state.SkipWithError("the trail did not stream whole");
      return;
    }
    state.SetIterationTime(s);
    state.counters["entries"] = lines - 2;
    state.counters["entries_per_s"] = (lines - 2) / s;
    state.counters["MB"] = bytes / 1e6;
    const double client = ThreadCpuSeconds() - client0;
    state.counters["cpu_s"] = ProcessCpuSeconds() - cpu0;  // server and client together
    state.counters["client_cpu_s"] = client;               // the client's thread alone
    state.counters["api_cpu_s"] = ProcessCpuSeconds() - cpu0 - client;
    // The bound, beside it: the store's own index scan, entry reads and proofs for this work.
    state.counters["store_bound_entries_per_s"] = store_bound_entries_per_s;
  }
}
BENCHMARK(BM_TrailStream100k)->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);

void BM_EntryReadsWrk(benchmark::State& state) {
  World& w = TheWorld();
  const fs::path script = w.dir / "entries.lua";
  std::ofstream(script) << "math.randomseed(13)\n"
                        << "request = function()\n"
                        << "  return wrk.format('GET', '/v1/entries/' .. math.random(0, "
                        << (w.size - 1) << "))\nend\n";
  for (auto _ : state) {
    ApiServer* server = state.range(0) == 0 ? w.server.get() : w.server_no_bus.get();
    const std::string cmd = "wrk -t2 -c64 -d10s --latency -s " + script.string() +
                            " -H 'Authorization: Bearer " + w.token +
                            "' http://127.0.0.1:" + std::to_string(server->port()) + " 2>&1";
    const double cpu0 = ProcessCpuSeconds();
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
    if (pclose(p) != 0) {
      state.SkipWithError(("wrk failed (apt-get install wrk): " + out).c_str());
      return;
    }
    std::smatch m;
    if (!std::regex_search(out, m, std::regex(R"(Requests/sec:\s+([0-9.]+))"))) {
      state.SkipWithError(("no Requests/sec in wrk's output: " + out).c_str());
      return;
    }
    const double rps = std::stod(m[1]);
    double non2xx = 0;
    if (std::regex_search(out, m, std::regex(R"(Non-2xx or 3xx responses:\s+([0-9]+))"))) {
      non2xx = std::stod(m[1]);
    }
    std::smatch p50, p99;
    state.SetIterationTime(10);
    state.counters["reads_per_s"] = rps;
    // The api's (and the embedded bus's) CPU per read; wrk's own CPU is not counted.
    state.counters["api_cpu_us_per_read"] = (ProcessCpuSeconds() - cpu0) * 1e6 / (rps * 10);
    state.counters["non_2xx"] = non2xx;
    if (std::regex_search(out, p50, std::regex(R"(50%\s+([0-9.]+)ms)"))) {
      state.counters["p50_ms"] = std::stod(p50[1]);
    }
    if (std::regex_search(out, p99, std::regex(R"(99%\s+([0-9.]+)ms)"))) {
      state.counters["p99_ms"] = std::stod(p99[1]);
    }
  }
}
// Arg 0: every read's access record confirmed by the embedded bus (as in service); arg 1: the
// record confirmed at once (the bound without the bus).
BENCHMARK(BM_EntryReadsWrk)
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kSecond);

}  // namespace
}  // namespace probity::api

BENCHMARK_MAIN();
