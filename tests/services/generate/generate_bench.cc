// Events per second generated into a null sink (no serialisation) and into a serialising sink.
#include <benchmark/benchmark.h>

#include "services/generate/generator.h"

namespace probity::generate {
namespace {

const std::vector<PracticeRecord>& Reference() {
  static const auto* ref =
      new std::vector<PracticeRecord>(*LoadReference(DefaultReferenceCsvPath()));
  return *ref;
}

// Serialises each envelope, as any real sink must.
class SerializingSink final : public Sink {
 public:
  Status Emit(std::string_view, std::string_view, const v1::Envelope& e) override {
    e.SerializeToString(&buf_);
    bytes_ += buf_.size();
    return Status::Ok();
  }
  int64_t bytes_ = 0;
  std::string buf_;
};

template <typename S>
void BM_Generate(benchmark::State& state) {
  GeneratorParams p;
  p.practice_fraction = static_cast<double>(state.range(0)) / 1000.0;
  p.end = p.start + 28 * kMicrosPerDay;
  auto gen = Generator::Create(Reference(), p);
  if (!gen.ok()) {
    state.SkipWithError(gen.status().ToString().c_str());
    return;
  }
  int64_t events = 0;
  for (auto _ : state) {
    S sink;
    if (!(*gen)->Run(&sink).ok()) state.SkipWithError("run failed");
    events += (*gen)->stats().events;
  }
  state.counters["events/s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["events/run"] = static_cast<double>((*gen)->stats().events);
}

BENCHMARK_TEMPLATE(BM_Generate, NullSink)->Arg(10)->Arg(50)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_Generate, SerializingSink)->Arg(50)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace probity::generate
