// Benchmarks of the audit log store (common/logstore). Not a test: tools/bench/run builds and runs
// it with the other *_bench targets and writes a report; docs/performance.md keeps the figures
// with their bounds.
//
// What it measures, in this order, in one process:
//  1. A store of --big_entries entries (default 10,000,000) built by Sequencer::Append in batches
//     of 1,000, cached under --data_dir so that later runs reuse it. While building it samples
//     the resident set every million entries and records the peak RSS (getrusage) at the end:
//     the sequencer keeps O(log n) state, so the samples must stay flat.
//  2. RawRocksDbBatchedWrite: the floor of what RocksDB itself costs here, a plain WriteBatch of
//     1,000 Puts (8-byte key, 200-byte value) into one column family of a fresh DB on disk.
//  3. SequencerAppend: the same number of batches of 1,000 records with 200-byte payloads through
//     Sequencer::Append (event-id lookup, entries, indexes, tree tiles, offsets: one WriteBatch per
//     batch) into a fresh store; counter ratio_vs_raw = its rate / the raw rate of step 2.
//  3b. ReplaySequencerBatches: the WriteBatches a Sequencer writes for those same records, captured
//     untimed and then written again into a fresh store: RocksDB's own cost for exactly these
//     keys and bytes, the floor under step 3 for this schema.
//  4. InclusionProof / ConsistencyProof at the big store's size: per-call latency, median and p99.
//  5. Verify: LogStore::Verify over the whole big store, entries per second.
// A summary table of every figure against its target is printed at the end.
//
// Flags (besides Google Benchmark's own):
//   --data_dir=DIR        where stores are created (default: <build dir>/bench_data)
//   --big_entries=N       size of the cached store for proofs and verify (default 10000000)
//   --append_batches=N    batches of 1,000 for steps 2 and 3 (default 2000, i.e. 2M entries)
//   --proof_samples=N     proofs timed per kind (default 20000)
#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/logstore/keys.h"
#include "common/logstore/sequencer.h"
#include "common/logstore/store.h"
#include "common/merkle/proof.h"

#ifndef PROBITY_BENCH_DATA_DIR
#define PROBITY_BENCH_DATA_DIR "bench_data"
#endif

namespace probity::logstore {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr size_t kBatch = 1000;
constexpr size_t kValueSize = 200;

struct Flags {
  std::string data_dir = PROBITY_BENCH_DATA_DIR;
  uint64_t big_entries = 10'000'000;
  uint64_t append_batches = 2000;
  uint64_t proof_samples = 20000;
};
Flags g_flags;

// Figures gathered by the benchmarks for the summary (0 = not measured).
struct Figures {
  double raw_per_s = 0;
  double append_per_s = 0;
  double replay_per_s = 0;          // the sequencer's own batches, replayed (step 3b)
  uint64_t replay_batch_bytes = 0;  // average WriteBatch size
  uint64_t record_bytes = 0;        // serialized LogRecord size of the bench records
  double big_build_s = 0;
  bool big_build_resumed = false;
  bool big_reused = false;
  double big_build_per_s = 0;
  long peak_rss_kb = 0;
  std::vector<std::pair<uint64_t, long>> rss_samples;  // (entries, VmRSS kB)
  double incl_median_us = 0, incl_p99_us = 0;
  double cons_median_us = 0, cons_p99_us = 0;
  double verify_per_s = 0;
  double verify_s = 0;
};
Figures g_fig;

uint64_t SplitMix(uint64_t* s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// `n` pseudo-random bytes from `seed` (incompressible, like the worst case for LZ4).
void RandomBytes(uint64_t seed, size_t n, std::string* out) {
  out->resize(n);
  uint64_t s = seed * 0x2545f4914f6cdd1dULL + 1;
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = SplitMix(&s);
    std::memcpy(out->data() + i, &v, std::min<size_t>(8, n - i));
  }
}

// Record number i of a synthetic feed: a 200-byte payload and the metadata ingest sets.
v1::LogRecord MakeRecord(uint64_t i) {
  v1::LogRecord r;
  RandomBytes(i, kValueSize, r.mutable_payload());
  r.set_content_type(v1::CONTENT_TYPE_PROTOBUF);
  r.set_topic("probity.claims.v1");
  r.set_partition(0);
  r.set_offset(static_cast<int64_t>(i));
  r.mutable_received_at()->set_seconds(1700000000 + static_cast<int64_t>(i / 1000));
  uint64_t s = i ^ 0xabcdef;
  char id[40];
  uint64_t a = SplitMix(&s), b = SplitMix(&s);
  std::snprintf(id, sizeof(id),
                "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64, a >> 32,
                (a >> 16) & 0xffff, a & 0xffff, b >> 48, b & uint64_t{0xffffffffffff});
  r.set_event_id(id);
  r.set_kind(static_cast<v1::EventKind>(1 + i % 4));
  char ods[8];
  std::snprintf(ods, sizeof(ods), "A%05" PRIu64, (i * 7919) % 7000 + 81000);
  r.set_practice_code(ods);
  r.mutable_occurred_at()->set_seconds(1650000000 + static_cast<int64_t>(i % 31536000));
  return r;
}

std::vector<v1::LogRecord> MakeBatch(uint64_t first) {
  std::vector<v1::LogRecord> recs;
  recs.reserve(kBatch);
  for (uint64_t i = 0; i < kBatch; ++i) recs.push_back(MakeRecord(first + i));
  return recs;
}

long CurrentRssKb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

long PeakRssKb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

[[noreturn]] void Die(const std::string& what, const Status& st) {
  std::fprintf(stderr, "logstore_bench: %s: %s\n", what.c_str(), st.ToString().c_str());
  std::exit(1);
}

// ---------------------------------------------------------------------------------------------
// 1. The big store: built once, cached. A marker file beside it records how it was built.

// Named by the format version too: a store of an older format is not reused.
fs::path BigDir() {
  return fs::path(g_flags.data_dir) /
         (std::string(keys::kFormatVersion) + "_" + std::to_string(g_flags.big_entries));
}
fs::path BigMarker() { return BigDir().string() + ".built"; }

void LoadMarker() {
  std::ifstream f(BigMarker());
  std::string key;
  while (f >> key) {
    if (key == "build_seconds")
      f >> g_fig.big_build_s;
    else if (key == "resumed")
      f >> g_fig.big_build_resumed;
    else if (key == "peak_rss_kb")
      f >> g_fig.peak_rss_kb;
    else if (key == "rss") {
      uint64_t n;
      long kb;
      f >> n >> kb;
      g_fig.rss_samples.emplace_back(n, kb);
    }
  }
  if (g_fig.big_build_s > 0) {
    g_fig.big_build_per_s = static_cast<double>(g_flags.big_entries) / g_fig.big_build_s;
  }
}

void EnsureBigStore() {
  const uint64_t n = g_flags.big_entries;
  if (fs::exists(BigMarker())) {
    auto store = LogStore::Open(BigDir().string(), {.read_only = true});
    if (store.ok() && *(*store)->TreeSize() == n) {
      g_fig.big_reused = true;
      LoadMarker();
      std::printf("reusing the %" PRIu64 "-entry store at %s (built in %.1f s)\n", n,
                  BigDir().c_str(), g_fig.big_build_s);
      return;
    }
    fs::remove(BigMarker());
  }
  fs::create_directories(g_flags.data_dir);
  auto store = LogStore::Open(BigDir().string(), {});
  if (!store.ok()) Die("open " + BigDir().string(), store.status());
  auto seq = Sequencer::Create(store->get());
  if (!seq.ok()) Die("sequencer", seq.status());
  const uint64_t start = (*seq)->size();
  if (start > 0) g_fig.big_build_resumed = true;
  std::printf("building a %" PRIu64 "-entry store at %s from %" PRIu64
              " (batches of %zu; reused by later runs)\n",
              n, BigDir().c_str(), start, kBatch);
  std::fflush(stdout);
  std::vector<std::pair<uint64_t, long>> rss;
  double append_s = 0;
  for (uint64_t i = start; i < n;) {
    std::vector<v1::LogRecord> recs = MakeBatch(i);
    if (n - i < kBatch) recs.resize(n - i);
    i += recs.size();
    auto t0 = Clock::now();
    auto r = (*seq)->Append(&recs, {{{"probity.claims.v1", 0}, static_cast<int64_t>(i)}}, {});
    append_s += std::chrono::duration<double>(Clock::now() - t0).count();
    if (!r.ok()) Die("append", r.status());
    if (i % 1'000'000 == 0 || i == n) {
      rss.emplace_back(i, CurrentRssKb());
      std::printf("  %8" PRIu64 " entries  %6.1f s  VmRSS %ld MB\n", i, append_s,
                  rss.back().second / 1024);
      std::fflush(stdout);
    }
  }
  g_fig.big_build_s = append_s;
  g_fig.big_build_per_s = static_cast<double>(n - start) / append_s;
  g_fig.peak_rss_kb = PeakRssKb();
  g_fig.rss_samples = rss;
  std::ofstream m(BigMarker());
  m << "build_seconds " << append_s << "\nresumed " << g_fig.big_build_resumed << "\npeak_rss_kb "
    << g_fig.peak_rss_kb << "\n";
  for (auto [k, kb] : rss) m << "rss " << k << " " << kb << "\n";
}

// ---------------------------------------------------------------------------------------------
// 2. Raw RocksDB: one column family, the entries column family's options.

void BM_RawRocksDbBatchedWrite(benchmark::State& state) {
  fs::path dir = fs::path(g_flags.data_dir) / "tmp_raw";
  fs::remove_all(dir);
  rocksdb::Options o;
  o.create_if_missing = true;
  o.max_background_jobs = 2;
  o.write_buffer_size = 64 << 20;
  o.compression = rocksdb::kLZ4Compression;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status rs = rocksdb::DB::Open(o, dir.string(), &raw);
  if (!rs.ok()) {
    state.SkipWithError(rs.ToString().c_str());
    return;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  std::vector<std::string> values(kBatch);
  uint64_t next = 0;
  double secs = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (size_t j = 0; j < kBatch; ++j) RandomBytes(next + j, kValueSize, &values[j]);
    state.ResumeTiming();
    auto t0 = Clock::now();
    rocksdb::WriteBatch batch(kBatch * (kValueSize + 16) + 64);
    for (size_t j = 0; j < kBatch; ++j) {
      std::string key = keys::Be64(next++);
      batch.Put(key, values[j]);
    }
    rs = db->Write(rocksdb::WriteOptions(), &batch);
    secs += std::chrono::duration<double>(Clock::now() - t0).count();
    if (!rs.ok()) {
      state.SkipWithError(rs.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(next));
  g_fig.raw_per_s = static_cast<double>(next) / secs;
  db->Close();
  db.reset();
  fs::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// 3. Sequencer::Append into a fresh store.

// A new, empty store under the data dir (any earlier one of that name is removed first); nullptr,
// with the benchmark marked as failed, when it cannot be opened.
std::unique_ptr<LogStore> FreshStore(const char* name, benchmark::State& state) {
  const fs::path dir = fs::path(g_flags.data_dir) / name;
  fs::remove_all(dir);
  auto store = LogStore::Open(dir.string(), {});
  if (!store.ok()) {
    state.SkipWithError(store.status().ToString().c_str());
    return nullptr;
  }
  return std::move(store).value();
}

void RemoveStore(std::unique_ptr<LogStore> store) {
  const std::string path = store->path();
  store.reset();
  fs::remove_all(path);
}

void BM_SequencerAppend(benchmark::State& state) {
  std::unique_ptr<LogStore> store = FreshStore("tmp_append", state);
  if (!store) return;
  auto seq = Sequencer::Create(store.get());
  uint64_t next = 0;
  double secs = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<v1::LogRecord> recs = MakeBatch(next);
    next += kBatch;
    OffsetMap offsets = {{{"probity.claims.v1", 0}, static_cast<int64_t>(next)}};
    state.ResumeTiming();
    auto t0 = Clock::now();
    auto r = (*seq)->Append(&recs, offsets, {});
    secs += std::chrono::duration<double>(Clock::now() - t0).count();
    if (!r.ok() || r->appended != kBatch) {
      state.SkipWithError(r.ok() ? "not every record appended" : r.status().ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(next));
  g_fig.append_per_s = static_cast<double>(next) / secs;
  g_fig.record_bytes = MakeRecord(0).ByteSizeLong();
  if (g_fig.raw_per_s > 0) state.counters["ratio_vs_raw"] = g_fig.append_per_s / g_fig.raw_per_s;
  seq->reset();
  RemoveStore(std::move(store));
}

// ---------------------------------------------------------------------------------------------
// 3b. The same WriteBatches, replayed: what RocksDB alone needs to write exactly the bytes and keys
// Sequencer::Append writes (entries, idx_event, idx_practice, idx_kind groups, tiles, tree meta,
// offsets), with none of the sequencer's work (serializing, hashing, the event-id lookup). This
// is the floor for Append with this schema and these RocksDB options on this machine.

void BM_ReplaySequencerBatches(benchmark::State& state) {
  // Capture (not timed): the batches a Sequencer writes for the same records as step 3.
  std::vector<std::string> reps;
  {
    std::unique_ptr<LogStore> store = FreshStore("tmp_capture", state);
    if (!store) return;
    auto seq = Sequencer::Create(store.get());
    (*seq)->SetBatchObserver([&](const rocksdb::WriteBatch& b) { reps.push_back(b.Data()); });
    uint64_t next = 0;
    for (uint64_t b = 0; b < g_flags.append_batches; ++b) {
      std::vector<v1::LogRecord> recs = MakeBatch(next);
      next += kBatch;
      auto r = (*seq)->Append(&recs, {{{"probity.claims.v1", 0}, static_cast<int64_t>(next)}}, {});
      if (!r.ok()) {
        state.SkipWithError(r.status().ToString().c_str());
        return;
      }
    }
    seq->reset();
    RemoveStore(std::move(store));
  }
  // Replay into a fresh store: same column families, same options.
  std::unique_ptr<LogStore> store = FreshStore("tmp_replay", state);
  if (!store) return;
  size_t i = 0;
  double secs = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    rocksdb::WriteBatch batch(reps[i % reps.size()]);
    state.ResumeTiming();
    auto t0 = Clock::now();
    rocksdb::Status rs = store->db()->Write(store->write_options(), &batch);
    secs += std::chrono::duration<double>(Clock::now() - t0).count();
    bytes += reps[i % reps.size()].size();
    ++i;
    if (!rs.ok()) {
      state.SkipWithError(rs.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(i * kBatch));
  g_fig.replay_per_s = static_cast<double>(i * kBatch) / secs;
  g_fig.replay_batch_bytes = i > 0 ? bytes / i : 0;
  if (g_fig.append_per_s > 0)
    state.counters["append_vs_replay"] = g_fig.append_per_s / g_fig.replay_per_s;
  RemoveStore(std::move(store));
}

// ---------------------------------------------------------------------------------------------
// 4, 5. Proofs and Verify on the big store, opened read-only as the api and the CLI do.

LogStore* BigStore() {
  static std::unique_ptr<LogStore> store = [] {
    auto s = LogStore::Open(BigDir().string(), {.read_only = true});
    if (!s.ok()) Die("open big store", s.status());
    return std::move(s).value();
  }();
  return store.get();
}

void ReportLatency(benchmark::State& state, std::vector<double>& us, double* median, double* p99) {
  *median = Percentile(us, 0.5);
  *p99 = Percentile(us, 0.99);
  state.counters["median_us"] = *median;
  state.counters["p99_us"] = *p99;
  state.SetItemsProcessed(static_cast<int64_t>(us.size()));
}

void BM_InclusionProof(benchmark::State& state) {
  LogStore* store = BigStore();
  const uint64_t n = g_flags.big_entries;
  const merkle::Hash root = *store->Root(n);
  std::mt19937_64 rng(1);
  std::vector<double> us;
  us.reserve(g_flags.proof_samples);
  for (auto _ : state) {
    const uint64_t index = rng() % n;
    auto t0 = Clock::now();
    auto proof = store->InclusionProof(index, n);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    if (!proof.ok()) {
      state.SkipWithError(proof.status().ToString().c_str());
      break;
    }
    if (us.size() <= 100) {  // spot-check that what is timed is a correct proof
      state.PauseTiming();
      auto e = store->Get(index);
      Status ok = merkle::VerifyInclusion(index, n, e->leaf_hash, *proof, root);
      if (!ok.ok()) state.SkipWithError(ok.ToString().c_str());
      state.ResumeTiming();
    }
  }
  ReportLatency(state, us, &g_fig.incl_median_us, &g_fig.incl_p99_us);
}

void BM_ConsistencyProof(benchmark::State& state) {
  LogStore* store = BigStore();
  const uint64_t n = g_flags.big_entries;
  const merkle::Hash root = *store->Root(n);
  std::mt19937_64 rng(2);
  std::vector<double> us;
  us.reserve(g_flags.proof_samples);
  for (auto _ : state) {
    const uint64_t m = 1 + rng() % (n - 1);
    auto t0 = Clock::now();
    auto proof = store->ConsistencyProof(m, n);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    if (!proof.ok()) {
      state.SkipWithError(proof.status().ToString().c_str());
      break;
    }
    if (us.size() <= 100) {
      state.PauseTiming();
      Status ok = merkle::VerifyConsistency(m, n, *proof, *store->Root(m), root);
      if (!ok.ok()) state.SkipWithError(ok.ToString().c_str());
      state.ResumeTiming();
    }
  }
  ReportLatency(state, us, &g_fig.cons_median_us, &g_fig.cons_p99_us);
}

void BM_Verify(benchmark::State& state) {
  LogStore* store = BigStore();
  for (auto _ : state) {
    auto t0 = Clock::now();
    auto report = store->Verify();
    g_fig.verify_s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!report.ok()) {
      state.SkipWithError(report.status().ToString().c_str());
      break;
    }
    g_fig.verify_per_s = static_cast<double>(report->entries_checked) / g_fig.verify_s;
    state.SetItemsProcessed(static_cast<int64_t>(report->entries_checked));
  }
}

// ---------------------------------------------------------------------------------------------

void PrintSummary() {
  auto row = [](const char* what, const std::string& figure, const char* target, const char* ok) {
    std::printf("| %-44s | %-30s | %-18s | %-4s |\n", what, figure.c_str(), target, ok);
  };
  auto fmt = [](const char* f, auto... a) {
    char b[128];
    std::snprintf(b, sizeof(b), f, a...);
    return std::string(b);
  };
  auto mark = [](bool ok) { return ok ? "met" : "MISS"; };
  std::printf("\nSUMMARY (logstore_bench, %" PRIu64 "-entry store, batches of %zu)\n",
              g_flags.big_entries, kBatch);
  row("figure", "measured", "target", "");
  std::printf("|%s|%s|%s|%s|\n", std::string(46, '-').c_str(), std::string(32, '-').c_str(),
              std::string(20, '-').c_str(), std::string(6, '-').c_str());
  if (g_fig.raw_per_s > 0) {
    row("raw RocksDB WriteBatch, 200 B values", fmt("%.0f /s", g_fig.raw_per_s), "(reference)", "");
  }
  if (g_fig.append_per_s > 0) {
    row("Sequencer::Append, 200 B payloads",
        fmt("%.0f /s (record %" PRIu64 " B)", g_fig.append_per_s, g_fig.record_bytes),
        ">= 500000 /s", mark(g_fig.append_per_s >= 500000));
    if (g_fig.raw_per_s > 0) {
      row("  ratio append / raw", fmt("%.2f", g_fig.append_per_s / g_fig.raw_per_s), "", "");
    }
  }
  if (g_fig.replay_per_s > 0) {
    row("  RocksDB writing the same batches",
        fmt("%.0f /s (%" PRIu64 " kB/batch)", g_fig.replay_per_s, g_fig.replay_batch_bytes / 1024),
        "(floor)", "");
    if (g_fig.append_per_s > 0) {
      row("  ratio append / same batches", fmt("%.2f", g_fig.append_per_s / g_fig.replay_per_s), "",
          "");
    }
  }
  row("build of the big store (appends/s)",
      g_fig.big_build_per_s > 0
          ? fmt("%.0f /s, %.1f s%s%s", g_fig.big_build_per_s, g_fig.big_build_s,
                g_fig.big_build_resumed ? " (resumed)" : "", g_fig.big_reused ? " (cached)" : "")
          : std::string("n/a"),
      ">= 500000 /s", g_fig.big_build_per_s > 0 ? mark(g_fig.big_build_per_s >= 500000) : "");
  if (g_fig.incl_median_us > 0) {
    row("inclusion proof latency median / p99",
        fmt("%.1f / %.1f us", g_fig.incl_median_us, g_fig.incl_p99_us), "median < 100 us",
        mark(g_fig.incl_median_us < 100));
  }
  if (g_fig.cons_median_us > 0) {
    row("consistency proof latency median / p99",
        fmt("%.1f / %.1f us", g_fig.cons_median_us, g_fig.cons_p99_us), "median < 100 us",
        mark(g_fig.cons_median_us < 100));
  }
  if (g_fig.verify_per_s > 0) {
    row("LogStore::Verify", fmt("%.0f entries/s (%.1f s)", g_fig.verify_per_s, g_fig.verify_s),
        ">= 1000000 /s", mark(g_fig.verify_per_s >= 1e6));
  }
  row("peak RSS after building the big store", fmt("%ld MB", g_fig.peak_rss_kb / 1024), "flat in n",
      "");
  std::string samples;
  for (auto [n, kb] : g_fig.rss_samples) {
    samples += fmt("%" PRIu64 "M:%ldMB ", n / 1000000, kb / 1024);
  }
  std::printf("VmRSS while building: %s\n", samples.c_str());
}

bool ParseFlag(const char* arg, const char* name, std::string* out) {
  std::string prefix = std::string("--") + name + "=";
  if (std::strncmp(arg, prefix.c_str(), prefix.size()) != 0) return false;
  *out = arg + prefix.size();
  return true;
}

}  // namespace
}  // namespace probity::logstore

int main(int argc, char** argv) {
  using namespace probity::logstore;
  benchmark::Initialize(&argc, argv);
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string v;
    if (ParseFlag(argv[i], "data_dir", &v)) {
      g_flags.data_dir = v;
    } else if (ParseFlag(argv[i], "big_entries", &v)) {
      g_flags.big_entries = std::stoull(v);
    } else if (ParseFlag(argv[i], "append_batches", &v)) {
      g_flags.append_batches = std::stoull(v);
    } else if (ParseFlag(argv[i], "proof_samples", &v)) {
      g_flags.proof_samples = std::stoull(v);
    } else {
      rest.push_back(argv[i]);
    }
  }
  int rest_argc = static_cast<int>(rest.size());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 1;
  if (g_flags.big_entries < 2) g_flags.big_entries = 2;

  EnsureBigStore();
  const auto batches = static_cast<benchmark::IterationCount>(g_flags.append_batches);
  const auto samples = static_cast<benchmark::IterationCount>(g_flags.proof_samples);
  benchmark::RegisterBenchmark("RawRocksDbBatchedWrite/batch:1000/value:200",
                               BM_RawRocksDbBatchedWrite)
      ->Iterations(batches)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("SequencerAppend/batch:1000/payload:200", BM_SequencerAppend)
      ->Iterations(batches)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("ReplaySequencerBatches/batch:1000/payload:200",
                               BM_ReplaySequencerBatches)
      ->Iterations(batches)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
  const std::string at = "/size:" + std::to_string(g_flags.big_entries);
  benchmark::RegisterBenchmark(("InclusionProof" + at).c_str(), BM_InclusionProof)
      ->Iterations(samples)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark(("ConsistencyProof" + at).c_str(), BM_ConsistencyProof)
      ->Iterations(samples)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark(("Verify" + at).c_str(), BM_Verify)
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  PrintSummary();
  return 0;
}
