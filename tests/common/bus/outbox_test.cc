#include "common/bus/outbox.h"

#include <gtest/gtest.h>

namespace probity::bus {
namespace {

TEST(PublicationStream, ConfirmsOnlyAContiguousPrefix) {
  ManualClock clock(1'000'000);
  PublicationStream s("t", 5, &clock);
  EXPECT_EQ(s.next(), 5u);
  std::vector<uint64_t> tags;
  for (uint64_t i = 5; i < 9; ++i) {
    tags.push_back(s.Tag(i));
    s.Sent(i);
  }
  EXPECT_EQ(s.next(), 9u);
  s.Delivered(tags[1], Status::Ok());  // 6 before 5
  EXPECT_EQ(s.confirmed(), 5u);
  s.Delivered(tags[0], Status::Ok());
  EXPECT_EQ(s.confirmed(), 7u);
  s.Delivered(tags[3], Status::Ok());
  EXPECT_EQ(s.confirmed(), 7u);
  s.Delivered(tags[2], Status::Ok());
  EXPECT_EQ(s.confirmed(), 9u);
  EXPECT_FALSE(s.stuck());
}

TEST(PublicationStream, ARefusedRecordPausesRetriesWithBackoffAndIsNeverSkipped) {
  ManualClock clock(1'000'000);
  PublicationStream s("probity.deadletter.v1", 0, &clock, {1'000'000, 8'000'000});
  std::vector<uint64_t> tags;
  for (uint64_t i = 0; i < 4; ++i) {
    tags.push_back(s.Tag(i));
    s.Sent(i);
  }
  s.Delivered(tags[0], Status::Ok());
  s.Delivered(tags[1], FailedPrecondition("Message size too large"));
  s.Delivered(tags[2], Status::Ok());  // a later one delivered: must not count
  EXPECT_EQ(s.confirmed(), 1u);
  EXPECT_TRUE(s.paused());
  auto stuck = s.stuck();
  ASSERT_TRUE(stuck);
  EXPECT_EQ(stuck->sequence(), 1u);
  EXPECT_TRUE(stuck->permanent());
  EXPECT_EQ(stuck->topic(), "probity.deadletter.v1");
  EXPECT_EQ(stuck->error(), "Message size too large");

  EXPECT_FALSE(s.RetryDue());  // backoff 1 s not over
  clock.Advance(1'000'000);
  EXPECT_TRUE(s.RetryDue());
  EXPECT_EQ(s.next(), 1u);  // rewound to the confirmed prefix
  // A late report of the old send is ignored.
  s.Delivered(tags[3], Status::Ok());
  EXPECT_EQ(s.confirmed(), 1u);

  // Refused again: backoff doubles.
  uint64_t t = s.Tag(1);
  s.Sent(1);
  s.Delivered(t, FailedPrecondition("Message size too large"));
  EXPECT_EQ(s.stuck()->attempts(), 2u);
  clock.Advance(1'500'000);
  EXPECT_FALSE(s.RetryDue());
  clock.Advance(500'000);
  ASSERT_TRUE(s.RetryDue());

  // The cause is fixed: everything from 1 goes through, and the stream is no longer stuck.
  for (uint64_t i = 1; i < 4; ++i) {
    uint64_t tag = s.Tag(i);
    s.Sent(i);
    s.Delivered(tag, Status::Ok());
  }
  EXPECT_EQ(s.confirmed(), 4u);
  EXPECT_FALSE(s.stuck());
  EXPECT_FALSE(s.paused());
  EXPECT_EQ(s.failures(), 2u);
}

TEST(PublicationStream, SendFailureIsTransientUnlessFailedPrecondition) {
  ManualClock clock(0);
  PublicationStream s("t", 0, &clock);
  s.SendFailed(0, Unavailable("broker down"));
  ASSERT_TRUE(s.stuck());
  EXPECT_FALSE(s.stuck()->permanent());
  EXPECT_TRUE(s.paused());
  EXPECT_EQ(s.next(), 0u);
}

}  // namespace
}  // namespace probity::bus
