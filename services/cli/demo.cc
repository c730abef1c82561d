#include "services/cli/demo.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "common/bus/topics.h"
#include "common/codec/codec.h"
#include "probity/v1/events.pb.h"

namespace probity::cli {
namespace {

void SetTime(google::protobuf::Timestamp* ts, int64_t seconds) { ts->set_seconds(seconds); }

// A small built-in stream: three real practices, their claims, one malformed message and one
// redelivery, in both encodings.
Status ProduceBuiltIn(bus::Producer& p) {
  const int64_t t0 = 1648771200;  // 2022-04-01
  const char* practices[] = {"A81001", "A81002", "A81004"};
  int n = 0;
  for (const char* code : practices) {
    v1::Envelope e;
    e.set_event_id(std::string("demo-practice-") + code);
    e.set_kind(v1::EVENT_KIND_PRACTICE_UPDATE);
    e.set_schema_version(1);
    e.set_practice_code(code);
    SetTime(e.mutable_occurred_at(), t0);
    e.set_source_system("register");
    auto* pu = e.mutable_practice_update();
    pu->set_list_size(8000 + 1000 * n);
    pu->set_weighted_list_size(8500.5 + 1000 * n);
    pu->set_icb_code("QHM");
    pu->set_sub_icb_code("16C");
    pu->set_contract_type(v1::CONTRACT_TYPE_GMS);
    pu->set_rurality(v1::RURALITY_URBAN);
    PROBITY_RETURN_IF_ERROR(p.Produce(bus::kPracticesTopic, -1, code, e.SerializeAsString()));
    for (int month = 0; month < 12; ++month) {
      v1::Envelope c;
      c.set_event_id(std::string("demo-gs-") + code + "-" + std::to_string(month));
      c.set_kind(v1::EVENT_KIND_CLAIM);
      c.set_schema_version(1);
      c.set_practice_code(code);
      SetTime(c.mutable_occurred_at(), t0 + (month + 1) * 30 * 86400);
      c.set_source_system("cqrs");
      auto* cl = c.mutable_claim();
      cl->set_claim_id(std::string("GS-") + code + "-" + std::to_string(month));
      cl->set_stream(v1::PAYMENT_STREAM_GLOBAL_SUM);
      cl->set_service_code("GSUM");
      SetTime(cl->mutable_period_start(), t0 + month * 30 * 86400);
      SetTime(cl->mutable_period_end(), t0 + (month + 1) * 30 * 86400);
      cl->set_quantity(1);
      cl->set_unit_price_pence(3650000 + 10000 * n);
      cl->set_amount_pence(3650000 + 10000 * n);
      cl->set_status(v1::CLAIM_STATUS_PAID);
      if (month % 2 == 0) {
        PROBITY_RETURN_IF_ERROR(p.Produce(bus::kClaimsTopic, -1, code, codec::ToJson(c),
                                          {{"content-type", "application/json"}}));
      } else {
        PROBITY_RETURN_IF_ERROR(p.Produce(bus::kClaimsTopic, -1, code, c.SerializeAsString()));
      }
      if (month == 3) {  // a redelivery: dropped by ingest as an exact duplicate
        PROBITY_RETURN_IF_ERROR(p.Produce(bus::kClaimsTopic, -1, code, c.SerializeAsString()));
      }
    }
    ++n;
  }
  // Malformed: a claim whose practice code is not an ODS code, and bytes that are not protobuf.
  // Both go to the dead-letter topic with their reasons.
  v1::Envelope bad;
  bad.set_event_id("demo-bad-ods");
  bad.set_kind(v1::EVENT_KIND_CLAIM);
  bad.set_schema_version(1);
  bad.set_practice_code("A8100");
  SetTime(bad.mutable_occurred_at(), t0 + 86400);
  bad.set_source_system("cqrs");
  bad.mutable_claim()->set_claim_id("BAD-1");
  bad.mutable_claim()->set_stream(v1::PAYMENT_STREAM_GLOBAL_SUM);
  PROBITY_RETURN_IF_ERROR(p.Produce(bus::kClaimsTopic, -1, "A8100", codec::ToJson(bad),
                                    {{"content-type", "application/json"}}));
  PROBITY_RETURN_IF_ERROR(p.Produce(bus::kClaimsTopic, -1, "X", "\xff\xfe not protobuf"));
  return p.Flush(10000);
}

void PrintSummary(const ingest::IngestStats& s, double secs, bool tty) {
  std::string kinds;
  for (const auto& [k, v] : s.accepted_by_kind) kinds += " " + k + "=" + std::to_string(v);
  std::string reasons;
  for (const auto& [k, v] : s.rejected_by_reason) reasons += " " + k + "=" + std::to_string(v);
  if (tty) std::printf("\033[2J\033[H");
  std::printf("probity up --demo  [%.0f s]\n", secs);
  std::printf("  events in:      %s\n", kinds.empty() ? " (none yet)" : kinds.c_str());
  std::printf("  rejected:        %llu%s\n", static_cast<unsigned long long>(s.rejected), reasons.c_str());
  std::printf("  duplicates:      %llu dropped\n", static_cast<unsigned long long>(s.duplicates));
  std::printf("  log size:        %llu entries (%llu confirmed on probity.log.v1)\n",
              static_cast<unsigned long long>(s.log_size),
              static_cast<unsigned long long>(s.log_published));
  std::printf("  checkpoint:      tree size %llu\n", static_cast<unsigned long long>(s.checkpoint_size));
  std::printf("  consumer lag:    %lld\n", static_cast<long long>(s.lag));
  std::fflush(stdout);
}

}  // namespace

Status RunDemoFeed(const bus::ClientConfig& bus, const ServeFlags& flags,
                   const ingest::IngestService& ingest, const std::atomic<bool>& stop) {
  PROBITY_ASSIGN_OR_RETURN(auto producer, bus::Producer::Create(bus));
  PROBITY_RETURN_IF_ERROR(ProduceBuiltIn(*producer));
  auto start = std::chrono::steady_clock::now();
  bool tty = isatty(1);
  while (!stop.load()) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    PrintSummary(ingest.stats(), secs, tty);
    for (int i = 0; i < 20 && !stop.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::Ok();
}

}  // namespace probity::cli
