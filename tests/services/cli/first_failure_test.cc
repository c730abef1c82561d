#include "services/cli/first_failure.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace probity::cli {
namespace {

TEST(FirstFailure, OkChangesNothing) {
  std::atomic<bool> stop{false};
  FirstFailure f(&stop);
  f.Record("rules", Status::Ok());
  EXPECT_TRUE(f.status().ok());
  EXPECT_FALSE(stop.load());
}

TEST(FirstFailure, KeepsTheFirstErrorNamedAfterItsTargetAndStopsTheRest) {
  std::atomic<bool> stop{false};
  FirstFailure f(&stop);
  f.Record("alerts", Unavailable("alertmanager refused"));
  EXPECT_TRUE(stop.load());
  f.Record("ingest", DataLoss("later"));
  f.Record("rules", Status::Ok());
  EXPECT_EQ(f.status().code(), Code::kUnavailable);
  EXPECT_EQ(f.status().message(), "alerts: alertmanager refused");
}

TEST(FirstFailure, ExactlyOneOfConcurrentFailuresIsKept) {
  std::atomic<bool> stop{false};
  FirstFailure f(&stop);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&f, i] { f.Record("t" + std::to_string(i), Internal("failed")); });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(stop.load());
  EXPECT_EQ(f.status().code(), Code::kInternal);
  EXPECT_EQ(f.status().message().substr(f.status().message().find(':')), ": failed");
}

}  // namespace
}  // namespace probity::cli
