// The background writer behind followers' saves: one write at a time, a failure reported once, at
// the next Start or Wait, and the write after a failure never started.
#include "common/follow/background_writer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

namespace probity::follow {
namespace {

TEST(BackgroundWriterTest, OneWriteAtATimeAndAFailureStopsTheNext) {
  BackgroundWriter w;
  std::atomic<int> running{0}, most{0}, done{0};
  auto write = [&] {
    most = std::max(most.load(), ++running);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    --running;
    ++done;
    return Status::Ok();
  };
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(w.Start(write).ok());
  ASSERT_TRUE(w.Wait().ok());
  EXPECT_EQ(done.load(), 3);
  EXPECT_EQ(most.load(), 1);  // Start waited for the write before it

  ASSERT_TRUE(w.Start([] { return DataLoss("the copy would differ"); }).ok());
  w.Join();  // finished; its status kept ...
  bool started = false;
  Status st = w.Start([&] {
    started = true;
    return Status::Ok();
  });
  EXPECT_EQ(st.code(), Code::kDataLoss) << st.ToString();  // ... for the next Start
  EXPECT_FALSE(started);
  EXPECT_TRUE(w.Wait().ok());  // reported once
}

TEST(BackgroundWriterTest, PollReportsAFinishedWriteWithoutWaitingForARunningOne) {
  BackgroundWriter w;
  EXPECT_TRUE(w.Poll().ok());  // none ran
  std::atomic<bool> release{false};
  ASSERT_TRUE(w.Start([&] {
                 while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
                 return IoError("disk full");
               }).ok());
  EXPECT_TRUE(w.Poll().ok());  // still running: returns at once, nothing to report yet
  release = true;
  Status st;
  for (int i = 0; i < 5000 && st.ok(); ++i) {
    st = w.Poll();
    if (st.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(st.code(), Code::kIoError) << st.ToString();
  EXPECT_TRUE(w.Wait().ok());  // reported once
}

}  // namespace
}  // namespace probity::follow
