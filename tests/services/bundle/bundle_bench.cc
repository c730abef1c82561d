// Dispute bundles with 1,000 evidence entries: built from a store of ~101,000 entries, and
// verified (issue 13's targets: each under 200 ms). The flag is a QOF annual total over 1,000
// indicators of one practice, a replayed rule, so verifying includes the rules engine re-deriving
// the flag from all 1,000 entries. Benchmark, not a test (tools/bench/run runs it).
#include <benchmark/benchmark.h>

#include <filesystem>

#include "services/bundle/bundle.h"
#include "tests/integration/test_events.h"
#include "tests/services/bundle/test_store.h"

namespace probity::bundle {
namespace {

namespace fs = std::filesystem;

constexpr int kEvidence = 1000;
constexpr int kFiller = 100000;

constexpr char kRules[] =
    "name: bench\nversion: \"1\"\nrules:\n"
    "  - id: qof-over-maximum\n    version: 1\n    kind: qof_points_over_maximum\n"
    "    severity: critical\n    description: QOF points over the year's maximum.\n"
    "    params: {annual_maximum: 999, tolerance: 0.001}\n";

struct Fixture {
  fs::path dir;
  std::unique_ptr<testing::StoreWriter> writer;
  std::string flag_id;
  v1::VerifierPolicy policy = testing::TestPolicy(3, 2);
  v1::DisputeBundle bundle;
  std::string file;

  Fixture() {
    dir = fs::temp_directory_path() / ("bundle_bench_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    auto rs = rules::LoadRuleSet(kRules);
    writer = std::make_unique<testing::StoreWriter>(dir.string(), *rs, 2);
    const int64_t t0 = 1681000000;  // 2023-04-09, after the year claimed for
    writer->PublishRuleSet(t0 - 86400);
    // 100 filler claims (other practices' global sum) after each QOF claim of B82001.
    for (int i = 0; i < kEvidence; ++i) {
      v1::Envelope q =
          probity::testing::Claim("qof-" + std::to_string(i), "B82001", 20000, t0 + i * 60);
      auto* c = q.mutable_claim();
      c->set_stream(v1::PAYMENT_STREAM_QOF_ACHIEVEMENT);
      c->set_indicator_code("IND" + std::to_string(i));
      c->set_points_claimed(1);
      writer->Add("probity.claims.v1", "B82001", q);
      for (int j = 0; j < kFiller / kEvidence; ++j) {
        const int n = i * (kFiller / kEvidence) + j;
        v1::Envelope g = probity::testing::Claim("gsum-" + std::to_string(n),
                                                 "A8" + std::to_string(1000 + n % 500), 100000 + n,
                                                 t0 + i * 60 + j);
        writer->Add("probity.claims.v1", g.practice_code(), g);
      }
    }
    writer->Checkpoint();
    auto flags = writer->store()->FindByKind(v1::EVENT_KIND_FLAG, 0, 10);
    if (!flags.ok() || flags->size() != 1) std::abort();
    v1::LogRecord r;
    r.ParseFromString(writer->store()->Get(flags->at(0))->record_bytes);
    flag_id = r.event_id();
    auto b = Build(*writer->store(), flag_id, {.policy = policy, .since_size = std::nullopt});
    if (!b.ok() || b->evidence_size() != kEvidence) std::abort();
    bundle = *b;
    file = ToFile(bundle);
    if (!VerifyFile(file, policy).ok()) std::abort();
  }
  ~Fixture() {
    writer.reset();
    fs::remove_all(dir);
  }
};

Fixture& F() {
  static Fixture* f = new Fixture();
  return *f;
}

void Report(benchmark::State& state) {
  state.counters["evidence"] = F().bundle.evidence_size();
  state.counters["tree_size"] = static_cast<double>(F().bundle.checkpoint().tree_size());
  state.counters["file_bytes"] = static_cast<double>(F().file.size());
}

// Build: find the flag, rule set and register entry, read 1,000 evidence entries and prove each
// against the latest checkpoint (RocksDB reads of tiles), open the checkpoint under the policy.
void BM_Build1000(benchmark::State& state) {
  auto& f = F();
  for (auto _ : state) {
    auto b = Build(*f.writer->store(), f.flag_id, {.policy = f.policy, .since_size = std::nullopt});
    if (!b.ok()) state.SkipWithError(b.status().ToString().c_str());
    benchmark::DoNotOptimize(b);
  }
  Report(state);
}
BENCHMARK(BM_Build1000)->Unit(benchmark::kMillisecond);

// Build and print the file (what `probity dispute bundle` does).
void BM_BuildFile1000(benchmark::State& state) {
  auto& f = F();
  for (auto _ : state) {
    auto b = Build(*f.writer->store(), f.flag_id, {.policy = f.policy, .since_size = std::nullopt});
    std::string file = ToFile(*b);
    benchmark::DoNotOptimize(file);
  }
  Report(state);
}
BENCHMARK(BM_BuildFile1000)->Unit(benchmark::kMillisecond);

// Verify the parsed bundle: hash 1,003 leaves, check 1,003 inclusion proofs, 3 signatures, the
// quorum, and replay the 1,000 entries through the rules engine.
void BM_Verify1000(benchmark::State& state) {
  auto& f = F();
  for (auto _ : state) {
    auto v = Verify(f.bundle, f.policy);
    if (!v.ok() || !v->reproduced()) state.SkipWithError("not verified");
    benchmark::DoNotOptimize(v);
  }
  Report(state);
}
BENCHMARK(BM_Verify1000)->Unit(benchmark::kMillisecond);

// Verify the file (what `probity verify-bundle` does): parse the JSON, check it is canonical,
// then Verify.
void BM_VerifyFile1000(benchmark::State& state) {
  auto& f = F();
  for (auto _ : state) {
    auto v = VerifyFile(f.file, f.policy);
    if (!v.ok()) state.SkipWithError(v.status().ToString().c_str());
    benchmark::DoNotOptimize(v);
  }
  Report(state);
}
BENCHMARK(BM_VerifyFile1000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace probity::bundle

BENCHMARK_MAIN();
