// The durable per-destination outbox: ordering, the retry schedule on a manual clock (days of
// backoff in milliseconds), 410, giving up, slow-down, restarts, coalescing, and independence of
// destinations when each runs on its own thread.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "common/deliver/outbox.h"
#include "common/time/proto_time.h"

namespace probity::deliver {
namespace {

namespace fs = std::filesystem;
constexpr Micros kMinute = 60 * kSecond;
constexpr Micros kHour = 60 * kMinute;
constexpr Micros kDay = 24 * kHour;

// A destination the test scripts: it answers `status` (until `refuse_until`, then 200) and
// records every attempt.
class FakeTransport final : public Transport {
 public:
  Outcome Send(const std::vector<const v1::OutboxItem*>& items, Micros now) override {
    std::lock_guard<std::mutex> l(mu);
    attempts.push_back(now);
    if (block_ms) std::this_thread::sleep_for(std::chrono::milliseconds(block_ms));
    const bool refuse = refuse_next > 0 || now < refuse_until;
    if (refuse_next > 0) --refuse_next;
    if (refuse) return Outcome::FromHttpStatus(status, "refused", retry_after);
    for (const auto* i : items) {
      ++received[i->id()];
      order.push_back(i->id());
      bodies.push_back(i->body());
    }
    return Outcome::FromHttpStatus(200, "ok");
  }
  std::mutex mu;
  int status = 503;
  int refuse_next = 0;
  Micros refuse_until = 0;
  Micros retry_after = 0;
  int block_ms = 0;
  std::vector<Micros> attempts;
  std::map<std::string, int> received;
  std::vector<std::string> order, bodies;
};

class DeliveryOutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("outbox_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override {
    box_.reset();
    fs::remove_all(dir_);
  }
  void Open(RetryPolicy policy = {}, size_t max_batch = 1) {
    box_.reset();
    std::vector<DestinationConfig> d;
    d.push_back({.name = "a", .transport = &a_, .policy = policy, .max_batch = max_batch});
    d.push_back({.name = "b", .transport = &b_, .policy = policy, .max_batch = max_batch});
    auto o = Outbox::Open({.path = dir_.string(), .seed = 7}, std::move(d), &clock_);
    ASSERT_TRUE(o.ok()) << o.status().ToString();
    box_ = std::move(o).value();
  }
  // Runs destination d until it has nothing due, moving the clock to each retry as it goes,
  // until `until`. Returns the number of steps.
  int Drive(size_t d, Micros until) {
    int steps = 0;
    while (clock_.NowMicros() <= until && steps < 10000) {
      auto next = box_->DeliverDue(d, clock_.NowMicros());
      EXPECT_TRUE(next.ok()) << next.status().ToString();
      ++steps;
      if (!next.ok() || *next == kNever) break;
      if (*next > clock_.NowMicros()) clock_.Set(std::min(*next, until + 1));
    }
    return steps;
  }
  std::vector<NewItem> Items(size_t d, int from, int n) {
    std::vector<NewItem> v;
    for (int i = from; i < from + n; ++i) {
      v.push_back(
          {.destination = d, .id = "msg_" + std::to_string(i), .body = "b" + std::to_string(i)});
    }
    return v;
  }

  fs::path dir_;
  ManualClock clock_{1'700'000'000 * kSecond};
  FakeTransport a_, b_;
  std::unique_ptr<Outbox> box_;
};

TEST_F(DeliveryOutboxTest, DeliversInOrderAndKeepsTheCursorWithTheItems) {
  Open();
  ASSERT_TRUE(box_->Enqueue(Items(0, 0, 3), 10).ok());
  EXPECT_EQ(box_->source_next(), 10u);
  EXPECT_EQ(box_->status(0).queued(), 3u);
  Drive(0, clock_.NowMicros());
  EXPECT_EQ(a_.order, (std::vector<std::string>{"msg_0", "msg_1", "msg_2"}));
  EXPECT_EQ(a_.bodies[2], "b2");
  EXPECT_TRUE(b_.attempts.empty());
  EXPECT_EQ(box_->status(0).queued(), 0u);
  EXPECT_EQ(box_->status(0).delivered(), 3u);
  Open();
  EXPECT_EQ(box_->source_next(), 10u);
  EXPECT_EQ(box_->status(0).queued(), 0u);
  EXPECT_EQ(box_->status(0).delivered(), 3u);
}

TEST_F(DeliveryOutboxTest, BackoffIsExponentialWithBoundedJitterOnTheInjectedClock) {
  RetryPolicy p;  // 5 s x4, capped at 12 h, +-20 %
  Open(p);
  a_.refuse_until = INT64_MAX;
  const Micros t0 = clock_.NowMicros();
  ASSERT_TRUE(box_->Enqueue(Items(0, 0, 1), 1).ok());
  Drive(0, t0 + 10 * kDay);
  ASSERT_GE(a_.attempts.size(), 10u);
  for (size_t i = 1; i < a_.attempts.size(); ++i) {
    const double ideal =
        std::min(5.0 * kSecond * std::pow(4.0, static_cast<double>(i - 1)), 12.0 * kHour);
    const double gap = static_cast<double>(a_.attempts[i] - a_.attempts[i - 1]);
    EXPECT_GE(gap, 0.8 * ideal - 1) << "attempt " << i;
    EXPECT_LE(gap, 1.2 * ideal + 1) << "attempt " << i;
  }
  // Never given up (give_up_after 0): still queued, with every failure counted on the item.
  EXPECT_EQ(box_->status(0).queued(), 1u);
  EXPECT_EQ(box_->status(0).consecutive_failures(), a_.attempts.size());
}

TEST_F(DeliveryOutboxTest, RefusalsForARequestAMinuteAndAnHourEachEndInExactlyOneDelivery) {
  Open();
  int next_id = 0;
  for (Micros outage : {Micros{0}, kMinute, kHour}) {
    a_.refuse_next = 1;  // one request, then (for the longer outages) a time window
    a_.refuse_until = clock_.NowMicros() + outage;
    ASSERT_TRUE(box_->Enqueue(Items(0, next_id, 5), next_id + 5).ok());
    next_id += 5;
    Drive(0, clock_.NowMicros() + 2 * kDay);
    EXPECT_EQ(box_->status(0).queued(), 0u) << "outage " << outage;
  }
  ASSERT_EQ(a_.received.size(), 15u);
  for (const auto& [id, n] : a_.received) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(box_->status(0).failed(), 0u);
}

TEST_F(DeliveryOutboxTest, GoneDisablesTheDestinationAndRecordsEveryItemAsFailed) {
  Open();
  a_.status = 410;
  a_.refuse_until = INT64_MAX;
  ASSERT_TRUE(box_->Enqueue(Items(0, 0, 3), 3).ok());
  ASSERT_TRUE(box_->Enqueue(Items(1, 0, 2), 4).ok());
  Drive(0, clock_.NowMicros() + kDay);
  Drive(1, clock_.NowMicros());
  EXPECT_EQ(a_.attempts.size(), 1u);  // one 410 is enough
  EXPECT_TRUE(box_->status(0).disabled());
  EXPECT_EQ(box_->status(0).failed(), 3u);
  EXPECT_EQ(b_.received.size(), 2u);  // the other destination is unaffected
  // Later items for it are recorded as failed at once, and it stays disabled across a restart.
  ASSERT_TRUE(box_->Enqueue(Items(0, 3, 1), 5).ok());
  Open();
  EXPECT_TRUE(box_->status(0).disabled());
  EXPECT_EQ(box_->status(0).failed(), 4u);
  auto failed = box_->Failed();
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(failed->size(), 4u);
  EXPECT_EQ((*failed)[0].item().id(), "msg_0");
  EXPECT_NE((*failed)[0].reason().find("410"), std::string::npos) << (*failed)[0].reason();
  EXPECT_EQ((*failed)[3].item().id(), "msg_3");
  EXPECT_EQ(a_.attempts.size(), 1u);
  // The operator enables it again (with the target stopped): new items go through; the failed
  // records stay.
  box_.reset();
  ASSERT_TRUE(Outbox::Enable(dir_.string(), "a").ok());
  EXPECT_EQ(Outbox::Enable(dir_.string(), "nosuch").code(), Code::kNotFound);
  Open();
  EXPECT_FALSE(box_->status(0).disabled());
  a_.refuse_until = 0;
  ASSERT_TRUE(box_->Enqueue(Items(0, 4, 1), 6).ok());
  Drive(0, clock_.NowMicros());
  EXPECT_EQ(a_.received.count("msg_4"), 1u);
  EXPECT_EQ(box_->status(0).failed(), 4u);
}

TEST_F(DeliveryOutboxTest, AnItemFailingForThreeDaysIsGivenUpRecordedAndTheNextOneProceeds) {
  Open(WebhookRetryPolicy());
  a_.status = 500;
  a_.refuse_until = clock_.NowMicros() + 4 * kDay;
  ASSERT_TRUE(box_->Enqueue(Items(0, 0, 1), 1).ok());
  Drive(0, clock_.NowMicros() + 3 * kDay + 13 * kHour);  // past 3 days and one more retry
  EXPECT_EQ(box_->status(0).failed(), 1u);
  EXPECT_EQ(box_->status(0).queued(), 0u);
  const size_t attempts = a_.attempts.size();
  EXPECT_GE(attempts, 8u);
  EXPECT_LE(attempts, 14u);
  a_.refuse_until = 0;
  ASSERT_TRUE(box_->Enqueue(Items(0, 1, 1), 2).ok());
  Drive(0, clock_.NowMicros() + kDay);
  EXPECT_EQ(a_.received.count("msg_1"), 1u);
  auto failed = box_->Failed();
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_EQ((*failed)[0].item().attempts(), attempts);
  EXPECT_NE((*failed)[0].reason().find("gave up"), std::string::npos);
}

TEST_F(DeliveryOutboxTest, SlowDownWaitsAtLeastAMinuteAndRetryAfterIsHonoured) {
  Open();
  a_.status = 429;
  a_.refuse_next = 1;
  ASSERT_TRUE(box_->Enqueue(Items(0, 0, 1), 1).ok());
  Drive(0, clock_.NowMicros() + kDay);
  ASSERT_EQ(a_.attempts.size(), 2u);
  EXPECT_GE(a_.attempts[1] - a_.attempts[0], kMinute);
  a_.status = 503;
  a_.refuse_next = 1;
  a_.retry_after = 2 * kHour;
  ASSERT_TRUE(box_->Enqueue(Items(0, 1, 1), 2).ok());
  Drive(0, clock_.NowMicros() + kDay);
  ASSERT_EQ(a_.attempts.size(), 4u);
  EXPECT_GE(a_.attempts[3] - a_.attempts[2], 2 * kHour);
  EXPECT_EQ(a_.received.size(), 2u);
}

TEST_F(DeliveryOutboxTest, ARestartMidRetryKeepsTheQueueTheAttemptsAndTheSchedule) {
  Open();
  a_.refuse_until = INT64_MAX;
  ASSERT_TRUE(box_->Enqueue(Items(0, 0, 2), 2).ok());
  Drive(0, clock_.NowMicros() + 10 * kMinute);
  const size_t before = a_.attempts.size();
  ASSERT_GE(before, 3u);
  Open();  // the process died and came back
  EXPECT_EQ(box_->status(0).queued(), 2u);
  EXPECT_EQ(box_->status(0).consecutive_failures(), before);
  // The next attempt is not earlier than scheduled before the restart.
  auto next = box_->DeliverDue(0, clock_.NowMicros());
  ASSERT_TRUE(next.ok());
  EXPECT_GT(*next, clock_.NowMicros());
  EXPECT_EQ(a_.attempts.size(), before);
  a_.refuse_until = 0;
  Drive(0, clock_.NowMicros() + kDay);
  EXPECT_EQ(a_.received, (std::map<std::string, int>{{"msg_0", 1}, {"msg_1", 1}}));
}

TEST_F(DeliveryOutboxTest, ALaterItemWithTheSameKeyReplacesAQueuedOne) {
  Open({}, /*max_batch=*/10);
  a_.refuse_until = INT64_MAX;
  ASSERT_TRUE(
      box_->Enqueue({{.destination = 0, .id = "f1", .body = "firing", .coalesce_key = "f1"},
                     {.destination = 0, .id = "f2", .body = "firing", .coalesce_key = "f2"}},
                    2)
          .ok());
  Drive(0, clock_.NowMicros() + kMinute);
  ASSERT_TRUE(
      box_->Enqueue({{.destination = 0, .id = "f1", .body = "resolved", .coalesce_key = "f1"}}, 3)
          .ok());
  EXPECT_EQ(box_->status(0).queued(), 2u);
  a_.refuse_until = 0;
  Drive(0, clock_.NowMicros() + kDay);
  EXPECT_EQ(a_.order, (std::vector<std::string>{"f2", "f1"}));
  EXPECT_EQ(a_.bodies, (std::vector<std::string>{"firing", "resolved"}));
  // Delivered: the key is free again, so the next item with it queues afresh.
  ASSERT_TRUE(
      box_->Enqueue({{.destination = 0, .id = "f1", .body = "again", .coalesce_key = "f1"}}, 4)
          .ok());
  EXPECT_EQ(box_->status(0).queued(), 1u);
}

TEST_F(DeliveryOutboxTest, ADeadDestinationNeverHoldsUpAnotherOnTheirOwnThreads) {
  Open();
  a_.block_ms = 300;  // every attempt hangs, then fails
  a_.refuse_until = INT64_MAX;
  box_->Start();
  ASSERT_TRUE(box_->Enqueue(Items(0, 0, 5), 5).ok());
  std::vector<NewItem> both = Items(1, 0, 50);
  ASSERT_TRUE(box_->Enqueue(both, 6).ok());
  const auto start = std::chrono::steady_clock::now();
  while (box_->status(1).queued() > 0 &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto took = std::chrono::steady_clock::now() - start;
  box_->Stop();
  EXPECT_EQ(box_->status(1).queued(), 0u);
  EXPECT_LT(took, std::chrono::milliseconds(1000));
  EXPECT_EQ(b_.received.size(), 50u);
  EXPECT_EQ(box_->status(0).queued(), 5u);
  EXPECT_TRUE(box_->thread_status().ok());
}

}  // namespace
}  // namespace probity::deliver
