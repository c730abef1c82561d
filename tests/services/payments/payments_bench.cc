// Benchmarks (not tests): the payments follower on the follower runtime following a log of claims
// (target >= 10,000 claims/s), with the runtime's own rate beside it (the same log, a follower
// that does nothing); and the year's national export (target < 10 s), from instructions in
// memory and end to end from a log on disk.
//
//   cmake -DPROBITY_BENCH=ON ... && ninja payments_bench && build/.../payments_bench
#include <benchmark/benchmark.h>

#include <filesystem>
#include <map>

#include "common/follow/bus_publisher.h"
#include "common/follow/runtime.h"
#include "common/logstore/sequencer.h"
#include "common/logstore/store.h"
#include "common/merkle/hasher.h"
#include "services/payments/export.h"
#include "services/payments/payments.h"
#include "services/payments/policy.h"
#include "tests/common/follow/fake_log.h"
#include "tests/services/payments/test_log.h"

namespace probity::payments::testing {
namespace {

constexpr char kPolicy[] = R"(name: bench
version: "1"
approve_after_days: 7
holds:
  - rule: ios-duplicate
    scope: claim
  - rule: list-inflation
    scope: practice_stream
    streams: [GLOBAL_SUM]
)";

// The record ingest would log for `env` (received when it occurred).
v1::LogRecord ToRecord(const v1::Envelope& env) {
  v1::LogRecord r;
  r.set_payload(env.SerializeAsString());
  r.set_content_type(v1::CONTENT_TYPE_PROTOBUF);
  r.set_event_id(env.event_id());
  r.set_kind(env.kind());
  r.set_practice_code(env.practice_code());
  *r.mutable_occurred_at() = env.occurred_at();
  *r.mutable_received_at() = env.occurred_at();
  return r;
}

logstore::Entry ToEntry(uint64_t index, const v1::Envelope& env) {
  logstore::Entry e;
  e.index = index;
  e.record_bytes = ToRecord(env).SerializeAsString();
  e.leaf_hash = merkle::HashLeaf(e.record_bytes);
  return e;
}

// A year of claims from 1,000 practices, one in 50 flagged by a claim rule (half of those flags
// upheld, half dismissed), one practice-level flag in 500 claims. Returns (entries, claims).
const std::vector<logstore::Entry>& ClaimLog(int claims) {
  static std::map<int, std::vector<logstore::Entry>> cache;
  auto& out = cache[claims];
  if (!out.empty()) return out;
  HoldPolicy policy = *ParseHoldPolicy(kPolicy);
  out.push_back(ToEntry(0, MakeHoldPolicyEnvelope(policy, kT0 * 1000000)));
  const int64_t step = 365 * kDay / claims;
  for (int i = 0; i < claims; ++i) {
    const std::string practice = "A" + std::to_string(80000 + i % 1000);
    const int64_t t = kT0 + i * step;
    out.push_back(ToEntry(out.size(), ClaimEnv("C" + std::to_string(i), practice, 100 + i % 5000, t,
                                               i % 3 ? v1::PAYMENT_STREAM_ITEM_OF_SERVICE
                                                     : v1::PAYMENT_STREAM_GLOBAL_SUM)));
    if (i % 50 == 0) {
      const std::string f = "f" + std::to_string(i);
      out.push_back(
          ToEntry(out.size(), FlagEnv(f, practice, "ios-duplicate", "duplicate_item_of_service",
                                      "C" + std::to_string(i), t)));
      out.push_back(ToEntry(
          out.size(),
          DecisionEnv("d" + f, f, practice,
                      i % 100 ? v1::DECISION_OUTCOME_DISMISS : v1::DECISION_OUTCOME_UPHOLD, t)));
    }
    if (i % 500 == 250) {
      out.push_back(ToEntry(out.size(), FlagEnv("li" + std::to_string(i), practice,
                                                "list-inflation", "list_inflation", "", t)));
    }
  }
  return out;
}

class NothingFollower final : public follow::Follower {
 public:
  std::string_view name() const override { return "nothing"; }
  StatusOr<uint64_t> Restore() override { return uint64_t{0}; }
  Status Apply(const follow::Event& e, follow::Publisher*) override {
    benchmark::DoNotOptimize(e.envelope->kind());
    return Status::Ok();
  }
  Status Save(uint64_t) override { return Status::Ok(); }
};

// Runs `f` over the log on the runtime (leaf hashes checked, tree integrated, outputs published
// to an in-memory producer and confirmed, saves every 2 s as `probity payments` does).
void RunOnRuntime(const std::vector<logstore::Entry>& entries, follow::Follower* f,
                  benchmark::State& state) {
  follow::testing::FakeProducer producer;
  follow::BusPublisher publisher(&producer);
  producer.publisher = &publisher;
  follow::testing::VectorEntrySource source(&entries);
  ManualClock clock(kT0 * 1000000);
  const std::string dir = std::filesystem::temp_directory_path() / "payments_bench_runtime";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  follow::Runtime rt(
      {.data_dir = dir, .origin = "", .log_keys = {}, .max_batch = 10000, .save_every = 2'000'000},
      f, &source, nullptr, &publisher, &clock);
  if (!rt.Start().ok()) state.SkipWithError("start failed");
  while (rt.stats().next_index < entries.size()) {
    auto n = rt.RunOnce();
    if (!n.ok()) {
      state.SkipWithError(n.status().ToString().c_str());
      return;
    }
  }
  if (!rt.Save().ok()) state.SkipWithError("save failed");
}

void BM_RuntimeAlone(benchmark::State& state) {
  const auto& entries = ClaimLog(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    NothingFollower f;
    RunOnRuntime(entries, &f, state);
  }
  state.counters["entries/s"] = benchmark::Counter(
      static_cast<double>(entries.size()) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["claims/s"] = benchmark::Counter(
      static_cast<double>(state.range(0)) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RuntimeAlone)->Arg(200000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PaymentsOnRuntime(benchmark::State& state) {
  const auto& entries = ClaimLog(static_cast<int>(state.range(0)));
  uint64_t instructions = 0;
  for (auto _ : state) {
    PaymentsFollower f({}, std::nullopt);
    RunOnRuntime(entries, &f, state);
    instructions = f.stats().instructions;
  }
  state.counters["entries/s"] = benchmark::Counter(
      static_cast<double>(entries.size()) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["claims/s"] = benchmark::Counter(
      static_cast<double>(state.range(0)) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["instructions/s"] = benchmark::Counter(
      static_cast<double>(instructions) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["instructions"] = static_cast<double>(instructions);
}
BENCHMARK(BM_PaymentsOnRuntime)->Arg(200000)->Unit(benchmark::kMillisecond)->UseRealTime();

// The year's national export: ~6,500 practices x ~12 streams x 12 months of claims, an APPROVE
// each (plus holds and releases), over twelve monthly payment runs, written as one file pair.
// Instruction i of that year, logged at index 3i (claims and flags between).
LoggedInstruction YearInstruction(int i) {
  LoggedInstruction li;
  li.index = static_cast<uint64_t>(i) * 3;
  li.practice_code = "A" + std::to_string(80000 + i % 6500);
  auto& x = li.instruction;
  x.set_instruction_id(crypto::Sha256Hex(std::to_string(i)));
  x.set_claim_id("CLM-" + li.practice_code + "-" + std::to_string(i));
  x.set_action(i % 40 == 0   ? v1::PAYMENT_ACTION_HOLD
               : i % 40 == 1 ? v1::PAYMENT_ACTION_RELEASE
                             : v1::PAYMENT_ACTION_APPROVE);
  x.set_amount_pence(100000 + i % 99999);
  x.set_reason("approve: no flag on the claim 7 days after it (log time)");
  x.set_stream(v1::PAYMENT_STREAM_GLOBAL_SUM);
  x.set_paycode("GSUM");
  x.set_payment_date("2023-" + std::string(i % 12 < 9 ? "0" : "") + std::to_string(1 + i % 12) +
                     "-01");
  x.set_policy_version("probity-holds@2026.1");
  x.set_icb_code("QHM");
  x.set_flag_id(i % 40 < 2 ? crypto::Sha256Hex("f" + std::to_string(i)) : "");
  return li;
}

// The export built from instructions already in memory (the payments follower's own path).
void BM_NationalYearExport(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::vector<LoggedInstruction> in;
  in.reserve(n);
  for (int i = 0; i < n; ++i) in.push_back(YearInstruction(i));
  uint64_t rows = 0;
  for (auto _ : state) {
    Export e = BuildExport(in, "2023-12-01", "2023-01-01", static_cast<uint64_t>(n) * 3);
    rows = e.variation.rows + e.holds.rows;
    benchmark::DoNotOptimize(e.variation.sha256_hex);
  }
  state.counters["rows"] = static_cast<double>(rows);
}
BENCHMARK(BM_NationalYearExport)->Arg(1000000)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same year end to end from the log, as `probity payments export` and the api's export
// endpoint run it: a RocksDB store on disk (built once, not timed) holding the n instructions
// among 2n other entries; timed: finding the instructions by the kind index, reading and parsing
// each entry, and writing both files.
void BM_NationalYearExportFromLog(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::string dir = std::filesystem::temp_directory_path() / "payments_bench_export_log";
  std::filesystem::remove_all(dir);
  auto store = logstore::LogStore::Open(dir, {});
  if (!store.ok()) return state.SkipWithError(store.status().ToString().c_str());
  auto seq = logstore::Sequencer::Create(store->get());
  if (!seq.ok()) return state.SkipWithError(seq.status().ToString().c_str());
  std::vector<v1::LogRecord> batch;
  for (int i = 0; i < n; ++i) {
    const LoggedInstruction li = YearInstruction(i);
    const int64_t t = kT0 + i;
    batch.push_back(ToRecord(ClaimEnv(li.instruction.claim_id(), li.practice_code, 100, t,
                                      v1::PAYMENT_STREAM_GLOBAL_SUM)));
    batch.push_back(ToRecord(ClaimEnv(li.instruction.claim_id() + "-b", li.practice_code, 100, t,
                                      v1::PAYMENT_STREAM_ITEM_OF_SERVICE)));
    v1::Envelope env;
    env.set_event_id("pi-" + li.instruction.instruction_id());
    env.set_kind(v1::EVENT_KIND_PAYMENT_INSTRUCTION);
    env.set_schema_version(1);
    env.set_practice_code(li.practice_code);
    env.mutable_occurred_at()->set_seconds(t);
    *env.mutable_payment_instruction() = li.instruction;
    batch.push_back(ToRecord(env));
    if (batch.size() >= 3000 || i + 1 == n) {
      auto r = (*seq)->Append(&batch, {{{"probity.claims.v1", 0}, static_cast<int64_t>(i)}}, {});
      if (!r.ok()) return state.SkipWithError(r.status().ToString().c_str());
      batch.clear();
    }
  }
  uint64_t rows = 0;
  for (auto _ : state) {
    auto e = ExportFromLog(**store, "2023-12-01", "2023-01-01", 0);
    if (!e.ok()) return state.SkipWithError(e.status().ToString().c_str());
    rows = e->variation.rows + e->holds.rows;
    benchmark::DoNotOptimize(e->variation.sha256_hex);
  }
  state.counters["rows"] = static_cast<double>(rows);
  state.counters["log_entries"] = static_cast<double>(*(*store)->TreeSize());
  store->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_NationalYearExportFromLog)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace
}  // namespace probity::payments::testing

BENCHMARK_MAIN();
