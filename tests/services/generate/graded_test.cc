// The graded scenario (GeneratorParams::graded) and END_OF_DATA (issue #16).
#include <gtest/gtest.h>

#include <map>

#include "common/bus/topics.h"
#include "services/generate/generator.h"
#include "services/generate/reference.h"
#include "services/generate/rule_kinds.h"
#include "services/generate/sink.h"

namespace probity::generate {
namespace {

const std::vector<PracticeRecord>& Reference() {
  static const auto* ref = [] {
    auto r = LoadReference(DefaultReferenceCsvPath());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return new std::vector<PracticeRecord>(r.ok() ? *r : std::vector<PracticeRecord>{});
  }();
  return *ref;
}

TEST(GradedTest, EndOfDataIsTheLastEventOfAFiniteFeed) {
  GeneratorParams p;
  p.practice_fraction = 0.003;
  p.volume_fraction = 0.05;
  p.end = MicrosFromCivil(2022, 7, 1);
  p.end_of_data = true;
  auto gen = Generator::Create(Reference(), p);
  ASSERT_TRUE(gen.ok());
  VectorSink sink;
  ASSERT_TRUE((*gen)->Run(&sink).ok());
  const auto& recs = sink.records();
  ASSERT_FALSE(recs.empty());
  int eods = 0;
  for (const auto& r : recs) eods += r.envelope.kind() == v1::EVENT_KIND_END_OF_DATA;
  EXPECT_EQ(eods, 1);
  const auto& last = recs.back();
  EXPECT_EQ(last.topic, bus::kControlTopic);
  EXPECT_EQ(last.envelope.kind(), v1::EVENT_KIND_END_OF_DATA);
  EXPECT_TRUE(last.envelope.practice_code().empty());
  EXPECT_EQ(last.envelope.end_of_data().data_complete_until().seconds() * kMicrosPerSecond, p.end);
  for (const auto& r : recs) {
    EXPECT_LE(r.envelope.occurred_at().seconds(), last.envelope.occurred_at().seconds());
  }
  // Off by default: the stream without it is the same stream, one event shorter.
  p.end_of_data = false;
  auto plain = Generator::Create(Reference(), p);
  VectorSink plain_sink;
  ASSERT_TRUE((*plain)->Run(&plain_sink).ok());
  EXPECT_EQ(plain_sink.records().size() + 1, recs.size());
}

TEST(GradedTest, MagnitudesPatternsAndUndetectableReasons) {
  GeneratorParams p;
  p.practice_fraction = 0.2;
  p.volume_fraction = 0.05;
  p.anomaly_share = 0.3;
  p.graded = true;
  auto gen = Generator::Create(Reference(), p);
  ASSERT_TRUE(gen.ok());
  std::map<std::string, std::set<double>> magnitudes;
  std::map<std::string, std::set<std::string>> patterns;
  int list_below_threshold = 0, list_detectable = 0, small_payment = 0;
  for (const auto& t : (*gen)->truth()) {
    EXPECT_GT(t.magnitude, 0) << t.rule_kind;
    magnitudes[t.rule_kind].insert(t.magnitude);
    patterns[t.rule_kind].insert(t.pattern);
    if (t.rule_kind == kListInflation) {
      if (t.magnitude <= 1.10) {
        // At or below the rule's 10% threshold: recorded as undetectable by design.
        EXPECT_FALSE(t.undetectable.empty()) << t.detail;
        ++list_below_threshold;
      } else if (t.undetectable.empty()) {
        ++list_detectable;
      }
    }
    if (t.rule_kind == kPaymentPerPatientOutlier &&
        t.undetectable.find("1,000-patient minimum") != std::string::npos) {
      ++small_payment;
    }
  }
  EXPECT_GE(magnitudes[std::string(kPaymentPerPatientOutlier)].size(), 4u);
  EXPECT_EQ(patterns[std::string(kPaymentPerPatientOutlier)],
            (std::set<std::string>{"stream", "total"}));
  EXPECT_GE(magnitudes[std::string(kReferralRateOutlier)].size(), 4u);
  EXPECT_EQ(patterns[std::string(kContactRateOutlier)],
            (std::set<std::string>{"home_visit", "out_of_hours"}));
  EXPECT_GE(list_below_threshold, 1);
  EXPECT_GE(list_detectable, 1);
  (void)small_payment;  // depends on the draw; the reason's wording is checked when present
  // The graded plan is deterministic.
  auto again = Generator::Create(Reference(), p);
  EXPECT_EQ((*again)->truth(), (*gen)->truth());
}

}  // namespace
}  // namespace probity::generate
