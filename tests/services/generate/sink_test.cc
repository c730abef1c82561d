#include "services/generate/sink.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "services/generate/record_format.h"

namespace probity::generate {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/probity_gen_" + name;
}

v1::Envelope Claim(int i) {
  v1::Envelope e;
  e.set_event_id("gen-1-" + std::to_string(i));
  e.set_kind(v1::EVENT_KIND_CLAIM);
  e.set_schema_version(1);
  e.set_practice_code("A81001");
  e.mutable_occurred_at()->set_seconds(1648771200 + i);
  e.mutable_claim()->set_claim_id("CLM-" + std::to_string(i));
  e.mutable_claim()->set_amount_pence(100 * i);
  return e;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

TEST(Crc32, KnownVector) { EXPECT_EQ(record_format::Crc32("123456789", 9), 0xCBF43926u); }

TEST(FileSink, RoundTrip) {
  const std::string path = TempPath("roundtrip.bin");
  {
    auto sink = FileSink::Create(path);
    ASSERT_TRUE(sink.ok());
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE((*sink)->Emit(i % 2 ? "probity.claims.v1" : "t", "A81001", Claim(i)).ok());
    }
    ASSERT_TRUE((*sink)->Close().ok());
  }
  VectorSink out;
  ASSERT_TRUE(ReplayFile(path, &out).ok());
  ASSERT_EQ(out.records().size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(out.records()[i].topic, i % 2 ? "probity.claims.v1" : "t");
    EXPECT_EQ(out.records()[i].key, "A81001");
    EXPECT_EQ(out.records()[i].envelope.SerializeAsString(), Claim(i).SerializeAsString());
  }
}

TEST(FileSink, EmptyFileHasOnlyMagic) {
  const std::string path = TempPath("empty.bin");
  auto sink = FileSink::Create(path);
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_EQ(ReadAll(path), std::string(record_format::kMagic));
  VectorSink out;
  EXPECT_TRUE(ReplayFile(path, &out).ok());
  EXPECT_TRUE(out.records().empty());
}

TEST(FileReader, TruncatedRecordIsDataLoss) {
  const std::string path = TempPath("trunc.bin");
  {
    auto sink = FileSink::Create(path);
    // Same-sized records, so the first ends half way.
    ASSERT_TRUE((*sink)->Emit("t", "k", Claim(2)).ok());
    ASSERT_TRUE((*sink)->Emit("t", "k", Claim(3)).ok());
    ASSERT_TRUE((*sink)->Close().ok());
  }
  const std::string bytes = ReadAll(path);
  // Every cut inside the second record is detected; the first record still reads.
  const size_t first_end = (bytes.size() - 8) / 2 + 8;
  for (size_t cut = first_end + 1; cut < bytes.size(); ++cut) {
    WriteAll(path, bytes.substr(0, cut));
    auto reader = FileReader::Open(path);
    ASSERT_TRUE(reader.ok());
    Record r;
    auto first = (*reader)->Next(&r);
    ASSERT_TRUE(first.ok() && *first) << cut;
    auto second = (*reader)->Next(&r);
    ASSERT_FALSE(second.ok()) << cut;
    EXPECT_EQ(second.status().code(), Code::kDataLoss);
  }
}

TEST(FileReader, FlippedByteIsDataLoss) {
  const std::string path = TempPath("flip.bin");
  {
    auto sink = FileSink::Create(path);
    ASSERT_TRUE((*sink)->Emit("t", "k", Claim(1)).ok());
    ASSERT_TRUE((*sink)->Close().ok());
  }
  std::string bytes = ReadAll(path);
  for (size_t i = 8; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x01;
    WriteAll(path, bad);
    VectorSink out;
    Status st = ReplayFile(path, &out);
    EXPECT_FALSE(st.ok()) << "byte " << i;
  }
}

TEST(FileReader, BadMagic) {
  const std::string path = TempPath("magic.bin");
  WriteAll(path, "NOTMAGIC");
  auto reader = FileReader::Open(path);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), Code::kDataLoss);
  EXPECT_EQ(FileReader::Open(TempPath("absent.bin")).status().code(), Code::kIoError);
}

class FakeSleeper : public Sleeper {
 public:
  explicit FakeSleeper(ManualClock* clock) : clock_(clock) {}
  void SleepFor(Micros d) override {
    total_ += d;
    clock_->Advance(d);
  }
  Micros total() const { return total_; }

 private:
  ManualClock* clock_;
  Micros total_ = 0;
};

TEST(RateLimitedSink, PacesToRate) {
  ManualClock clock(1'000'000);
  FakeSleeper sleeper(&clock);
  NullSink inner;
  RateLimitedSink sink(&inner, 100.0, &clock, &sleeper);  // one event per 10 ms
  for (int i = 0; i < 101; ++i) ASSERT_TRUE(sink.Emit("t", "k", Claim(i)).ok());
  EXPECT_EQ(inner.count(), 101);
  EXPECT_EQ(clock.NowMicros() - 1'000'000, 1'000'000);  // 100 intervals of 10 ms
  EXPECT_EQ(sleeper.total(), 1'000'000);
}

TEST(RateLimitedSink, DoesNotSleepWhenBehindSchedule) {
  ManualClock clock(0);
  FakeSleeper sleeper(&clock);
  NullSink inner;
  RateLimitedSink sink(&inner, 10.0, &clock, &sleeper);
  ASSERT_TRUE(sink.Emit("t", "k", Claim(0)).ok());
  clock.Advance(5'000'000);  // the inner sink was slow
  for (int i = 1; i <= 20; ++i) ASSERT_TRUE(sink.Emit("t", "k", Claim(i)).ok());
  // Events 1..50 were due by t=5s; only from event 50 on would it sleep.
  EXPECT_EQ(sleeper.total(), 0);
}

TEST(RateLimitedSink, ZeroRateNeverSleeps) {
  ManualClock clock(0);
  FakeSleeper sleeper(&clock);
  NullSink inner;
  RateLimitedSink sink(&inner, 0, &clock, &sleeper);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(sink.Emit("t", "k", Claim(i)).ok());
  EXPECT_EQ(sleeper.total(), 0);
  EXPECT_EQ(inner.count(), 1000);
}

}  // namespace
}  // namespace probity::generate
