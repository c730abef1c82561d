#include "services/cli/demo.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

#include "services/cli/kafka_sink.h"
#include "services/generate/generator.h"
#include "services/generate/reference.h"
#include "services/generate/truth.h"

namespace probity::cli {
namespace {

struct FeedState {
  std::atomic<int64_t> produced{0};
  std::atomic<int64_t> days_done{0};
  std::atomic<int64_t> days_total{0};
  std::atomic<bool> done{false};
  Status status;
};

// Stops the generator when the demo is asked to stop.
class StoppableSink final : public generate::Sink {
 public:
  StoppableSink(generate::Sink* inner, const std::atomic<bool>& stop)
      : inner_(inner), stop_(stop) {}
  Status Emit(std::string_view topic, std::string_view key, const v1::Envelope& env) override {
    if (stop_.load()) return Unavailable("stopped");
    return inner_->Emit(topic, key, env);
  }

 private:
  generate::Sink* inner_;
  const std::atomic<bool>& stop_;
};

void PrintSummary(const ingest::IngestStats& s, const rules::RulesStats* r, const FeedState& feed,
                  double secs, const std::string& links, bool tty) {
  if (tty) std::printf("\033[2J\033[H");
  std::printf("probity up --demo   %.0f s   feed: %lld events, simulated day %lld/%lld%s\n", secs,
              static_cast<long long>(feed.produced.load()),
              static_cast<long long>(feed.days_done.load()),
              static_cast<long long>(feed.days_total.load()), feed.done ? " (done)" : "");
  std::printf("  events in   ");
  for (const auto& [k, v] : s.accepted_by_kind)
    std::printf(" %s=%llu", k.c_str(), static_cast<unsigned long long>(v));
  std::printf("\n  rejected     %llu", static_cast<unsigned long long>(s.rejected));
  for (const auto& [k, v] : s.rejected_by_reason)
    std::printf(" %s=%llu", k.c_str(), static_cast<unsigned long long>(v));
  std::printf("\n  duplicates   %llu dropped\n", static_cast<unsigned long long>(s.duplicates));
  std::printf("  log          %llu entries, %llu confirmed on probity.log.v1, consumer lag %lld\n",
              static_cast<unsigned long long>(s.log_size),
              static_cast<unsigned long long>(s.log_published), static_cast<long long>(s.lag));
  std::printf("  checkpoint   signed at tree size %llu\n",
              static_cast<unsigned long long>(s.checkpoint_size));
  if (r != nullptr) {
    probity::rules::RulesStats rs = *r;
    std::printf("  rules        evaluated to index %llu; %llu flags\n",
                static_cast<unsigned long long>(rs.next_index),
                static_cast<unsigned long long>(rs.flags));
    for (const auto& [k, v] : rs.flags_by_kind) {
      std::printf("               %-28s %llu\n", k.c_str(), static_cast<unsigned long long>(v));
    }
  }
  std::printf("%s", links.c_str());
  std::fflush(stdout);
}

}  // namespace

Status RunDemo(const bus::ClientConfig& bus, const DemoOptions& options,
               const ingest::IngestService& ingest, const rules::RulesRunner* rules,
               const std::string& links, const std::atomic<bool>& stop, const Clock* clock) {
  PROBITY_ASSIGN_OR_RETURN(auto producer, bus::Producer::Create(bus));
  FeedState feed;
  std::thread feeder([&] {
    KafkaSink kafka(producer.get());
    generate::RealSleeper sleeper;
    generate::RateLimitedSink paced(&kafka, options.events_per_second, clock, &sleeper);
    StoppableSink sink(&paced, stop);
    generate::GeneratorParams p;
    p.practice_fraction = options.practice_fraction;
    p.volume_fraction = options.volume_fraction;
    p.anomaly_share = options.anomaly_share;
    p.seed = options.seed;
    auto truth = generate::GenerateFromCsv(generate::DefaultReferenceCsvPath(), p, &sink,
                                           [&](const generate::Progress& pr) {
                                             feed.produced = pr.events_emitted;
                                             feed.days_done = pr.days_done;
                                             feed.days_total = pr.days_total;
                                           });
    if (!truth.ok()) {
      if (!stop.load()) feed.status = truth.status();
    } else if (!options.truth_file.empty()) {
      feed.status = generate::WriteTruthFile(options.truth_file, *truth);
    }
    Status flushed = producer->Flush(60000);
    if (feed.status.ok()) feed.status = flushed;
    feed.done = true;  // publishes feed.status to the loop below
  });
  auto start = std::chrono::steady_clock::now();
  bool tty = isatty(1);
  // A finished feed leaves the summary on screen until stopped; a failed one ends the demo.
  auto failed = [&] { return feed.done.load() && !feed.status.ok(); };
  while (!stop.load() && !failed()) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::optional<probity::rules::RulesStats> rs;
    if (rules != nullptr) rs = rules->stats();
    PrintSummary(ingest.stats(), rs ? &*rs : nullptr, feed, secs, links, tty);
    for (int i = 0; i < 20 && !stop.load() && !failed(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  feeder.join();
  return feed.status;
}

}  // namespace probity::cli
