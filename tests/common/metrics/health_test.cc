#include "common/metrics/health.h"

#include <gtest/gtest.h>

namespace probity::metrics {
namespace {

constexpr Micros kSecond = 1'000'000;

v1::HealthReport Judged(const ProgressWatch& w, std::vector<v1::StuckPublication> stuck = {}) {
  v1::HealthReport r;
  for (auto& s : stuck) *r.add_stuck() = s;
  w.Judge(&r);
  return r;
}

TEST(ProgressWatch, QuietWithNoWorkPendingStaysReady) {
  ManualClock clock(kSecond);
  ProgressWatch w("ingest", &clock, {60 * kSecond, 120 * kSecond});
  EXPECT_FALSE(Judged(w).ready());  // not observed yet: starting
  w.Observe({1, 2}, /*pending=*/false);
  for (int i = 0; i < 10; ++i) {
    clock.Advance(30 * kSecond);
    w.Observe({1, 2}, false);
  }
  v1::HealthReport r = Judged(w);
  EXPECT_TRUE(r.ready()) << r.DebugString();
  EXPECT_TRUE(r.live());
  EXPECT_EQ(r.target(), "ingest");
}

TEST(ProgressWatch, PendingWorkWithoutProgressIsNotReadyUntilItMoves) {
  ManualClock clock(kSecond);
  ProgressWatch w("ingest", &clock, {60 * kSecond, 120 * kSecond});
  w.Observe({1}, false);
  clock.Advance(10 * kSecond);
  w.Observe({1}, true);  // work appears
  clock.Advance(59 * kSecond);
  w.Observe({1}, true);
  EXPECT_TRUE(Judged(w).ready());
  clock.Advance(2 * kSecond);
  w.Observe({1}, true);
  v1::HealthReport r = Judged(w);
  EXPECT_FALSE(r.ready());
  ASSERT_EQ(r.not_ready_reasons_size(), 1);
  EXPECT_NE(r.not_ready_reasons(0).find("nothing has moved for 61.0 s"), std::string::npos);
  w.Observe({2}, true);  // progress
  EXPECT_TRUE(Judged(w).ready());
}

TEST(ProgressWatch, PermanentStuckPublicationIsNotReadyAtOnce) {
  ManualClock clock(kSecond);
  ProgressWatch w("ingest", &clock);
  w.Observe({1}, false);
  v1::StuckPublication s;
  s.set_topic("probity.deadletter.v1");
  s.set_sequence(7);
  s.set_error("Message size too large");
  s.set_permanent(false);
  EXPECT_TRUE(Judged(w, {s}).ready());  // transient: judged by progress
  s.set_permanent(true);
  v1::HealthReport r = Judged(w, {s});
  EXPECT_FALSE(r.ready());
  EXPECT_EQ(r.not_ready_reasons(0),
            "publication of probity.deadletter.v1 #7 refused: Message size too large");
  ASSERT_EQ(r.stuck_size(), 1);
}

TEST(ProgressWatch, LoopThatStopsTurningIsNotLive) {
  ManualClock clock(kSecond);
  ProgressWatch w("rules", &clock, {60 * kSecond, 120 * kSecond});
  w.Observe({1}, false);
  clock.Advance(121 * kSecond);
  v1::HealthReport r = Judged(w);
  EXPECT_FALSE(r.live());
  EXPECT_FALSE(r.ready());
}

TEST(ProgressWatch, BlockerMakesItNotReady) {
  ManualClock clock(kSecond);
  ProgressWatch w("rules", &clock);
  w.Observe({1}, false);
  w.SetBlocker("index 5 is no longer on probity.log.v1");
  EXPECT_FALSE(Judged(w).ready());
  w.SetBlocker("");
  EXPECT_TRUE(Judged(w).ready());
}

}  // namespace
}  // namespace probity::metrics
