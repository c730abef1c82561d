// Benchmarks of input decoding and validation (common/codec). Not a test: tools/bench/run builds
// and runs it with the other *_bench targets and writes a report.
//
// What it measures: codec::Decode of one realistic claim envelope (about 200 bytes as binary
// protobuf, every field a cqrs claim carries set) on probity.claims.v1, per call, as
//   DecodeBinaryClaim      binary protobuf, accepted
//   DecodeJsonClaim        the same envelope in the protobuf JSON mapping, accepted
//   DecodeBinaryRejected*  binary protobuf, rejected: an unknown field inside the claim
//                          (UNKNOWN_FIELD), an enum number outside its enum (UNKNOWN_ENUM_VALUE)
//                          and a domain rule (AMOUNT_MISMATCH, found last of the claim checks)
//   ParseOnlyBinaryClaim   Envelope::ParseFromArray alone: the floor for the binary path
// Each reports items_per_second = events decoded per second (Google Benchmark's CPU-time rate;
// real time is also printed). Decode's result is checked once before timing, so a figure is
// never for a path that took the wrong branch.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <variant>

#include "common/bus/topics.h"
#include "common/codec/codec.h"

namespace probity::codec {
namespace {

namespace v1 = ::probity::v1;

constexpr Micros kNow = 1717200000LL * 1000000;  // 2024-06-01T00:00:00Z

v1::Envelope RealisticClaim() {
  v1::Envelope e;
  e.set_event_id("0f8fad5b-d9cb-469f-a165-70867728950e");
  e.set_kind(v1::EVENT_KIND_CLAIM);
  e.set_schema_version(1);
  e.set_practice_code("A81001");
  e.mutable_occurred_at()->set_seconds(1714555800);  // 2024-05-01T09:30:00Z
  e.mutable_occurred_at()->set_nanos(125000000);
  e.mutable_recorded_at()->set_seconds(1714555860);
  e.mutable_recorded_at()->set_nanos(250000000);
  e.set_source_system("cqrs");
  v1::Claim* c = e.mutable_claim();
  c->set_claim_id("CQRS-2024-05-A81001-000127");
  c->set_stream(v1::PAYMENT_STREAM_ITEM_OF_SERVICE);
  c->set_service_code("FLU65");
  c->mutable_period_start()->set_seconds(1711929600);  // 2024-04-01
  c->mutable_period_end()->set_seconds(1714521600);    // 2024-05-01
  c->set_quantity(120);
  c->set_unit_price_pence(1061);
  c->set_amount_pence(127320);
  c->set_eligible_cohort(900);
  c->set_patient_ref("p-9c1185a5c5e9fc54612808977ee8f548b2258d31");
  c->set_status(v1::CLAIM_STATUS_SUBMITTED);
  return e;
}

std::string Bin(const v1::Envelope& e) { return e.SerializeAsString(); }

// Exits if Decode does not give the expected outcome ("" = accepted, else the reason code).
void Expect(const std::string& value, std::optional<std::string_view> header,
            const std::string& code) {
  auto r = Decode(bus::kClaimsTopic, value, header, Policy(), kNow);
  std::string got = std::holds_alternative<Decoded>(r) ? "" : std::get<Rejection>(r).reason_code;
  if (got != code) {
    std::fprintf(stderr, "codec_bench: expected '%s', got '%s'%s%s\n", code.c_str(), got.c_str(),
                 got.empty() ? "" : ": ",
                 got.empty() ? "" : std::get<Rejection>(r).message.c_str());
    std::exit(1);
  }
}

void RunDecode(benchmark::State& state, const std::string& value,
               std::optional<std::string_view> header, const std::string& code) {
  Expect(value, header, code);
  for (auto _ : state) {
    auto r = Decode(bus::kClaimsTopic, value, header, Policy(), kNow);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * value.size()));
  state.counters["value_bytes"] = static_cast<double>(value.size());
}

void BM_DecodeBinaryClaim(benchmark::State& state) {
  RunDecode(state, Bin(RealisticClaim()), std::nullopt, "");
}
BENCHMARK(BM_DecodeBinaryClaim);

void BM_DecodeJsonClaim(benchmark::State& state) {
  std::string json = ToJson(RealisticClaim());
  RunDecode(state, json, "application/json", "");
}
BENCHMARK(BM_DecodeJsonClaim);

void BM_DecodeBinaryRejectedUnknownField(benchmark::State& state) {
  // Field 20 (varint 5) appended inside the claim.
  v1::Envelope e = RealisticClaim();
  std::string claim = e.claim().SerializeAsString() + std::string("\xa0\x01\x05", 3);
  e.clear_claim();
  std::string value = Bin(e) + "\x52" + static_cast<char>(claim.size()) + claim;
  RunDecode(state, value, std::nullopt, "UNKNOWN_FIELD");
}
BENCHMARK(BM_DecodeBinaryRejectedUnknownField);

void BM_DecodeBinaryRejectedUnknownEnum(benchmark::State& state) {
  v1::Envelope e = RealisticClaim();
  e.mutable_claim()->set_status(static_cast<v1::ClaimStatus>(9));
  RunDecode(state, Bin(e), std::nullopt, "UNKNOWN_ENUM_VALUE");
}
BENCHMARK(BM_DecodeBinaryRejectedUnknownEnum);

void BM_DecodeBinaryRejectedAmountMismatch(benchmark::State& state) {
  v1::Envelope e = RealisticClaim();
  e.mutable_claim()->set_amount_pence(127441);
  RunDecode(state, Bin(e), std::nullopt, "AMOUNT_MISMATCH");
}
BENCHMARK(BM_DecodeBinaryRejectedAmountMismatch);

void BM_ParseOnlyBinaryClaim(benchmark::State& state) {
  std::string value = Bin(RealisticClaim());
  for (auto _ : state) {
    v1::Envelope e;
    bool ok = e.ParseFromArray(value.data(), static_cast<int>(value.size()));
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["value_bytes"] = static_cast<double>(value.size());
}
BENCHMARK(BM_ParseOnlyBinaryClaim);

}  // namespace
}  // namespace probity::codec

BENCHMARK_MAIN();
