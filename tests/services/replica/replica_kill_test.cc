// The long run (label slow): 30,000 claims (REPLICA_TEST_EVENTS) with conflicting resubmissions,
// more than the embedded bus keeps of probity.log.v1 (~5 MB), so lives catch up from the
// primary's store; the replica is killed (abandoned without a save) at random moments and
// restarted throughout, and in the end equals the primary byte for byte.
//
// Bounded by progress and time, not by a number of lives: a life ends after a random time or a
// random number of entries copied, whichever comes first, but not before it copied something
// when there is something to copy; the test fails if the copy does not grow for kStallSeconds
// while the primary is ahead, or if the whole run passes kDeadlineSeconds.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "tests/integration/test_events.h"
#include "tests/services/replica/replica_fixture.h"

namespace probity::replica::testing {
namespace {

constexpr int kStallSeconds = 90;
constexpr int kDeadlineSeconds = 900;

using ReplicaKillTest = ReplicaFixture;

TEST_F(ReplicaKillTest, KilledAtRandomMomentsAndRestartedEqualsThePrimaryByteForByte) {
  const int events = getenv("REPLICA_TEST_EVENTS") ? atoi(getenv("REPLICA_TEST_EVENTS")) : 30000;
  const uint64_t expected = events + (events + 499) / 500;
  const bool trace = getenv("REPLICA_TEST_TRACE") != nullptr;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(kDeadlineSeconds);
  std::jthread producer([&] {  // joined on any early return too
    for (int i = 0; i < events; ++i) {
      std::string practice = "A8" + std::to_string(1000 + i % 40);
      Produce(bus::kClaimsTopic, practice,
              probity::testing::Claim("claim-" + std::to_string(i), practice, 1000 + i,
                                      1656633600 + i % 86400),
              i % 500 == 0);
    }
    EXPECT_TRUE(stack_.producer->Flush(60000).ok());
  });
  std::mt19937 rng(12345);
  uint64_t saved = 0;  // what the last life left
  auto progress_at = Clock::now();
  int lives = 0, retries = 0;
  bool ingest_stopped = false;
  std::unique_ptr<Life> life;
  for (;; ++lives) {
    life = StartLife(std::uniform_int_distribution<size_t>(50, 2000)(rng));
    ASSERT_NE(life, nullptr);
    // Never a rollback: the copy restarts where the last life's atomic writes left it.
    ASSERT_GE(life->runner->stats().next_index, saved);
    const uint64_t from = CopySize(*life);
    const auto until = Clock::now() + std::chrono::milliseconds(
                                          std::uniform_int_distribution<int>(100, 1000)(rng));
    const uint64_t target = from + std::uniform_int_distribution<uint64_t>(1, 1500)(rng);
    // Until the life's time is up, or it copied its share; and not before it copied something,
    // unless there is nothing to copy.
    ASSERT_TRUE(RunRounds(life.get(), deadline, [&] {
      const uint64_t n = CopySize(*life);
      if (n >= target) return true;
      if (Clock::now() < until) return false;
      return n > from || CopyComplete(*life) ||
             Clock::now() - progress_at > std::chrono::seconds(kStallSeconds);
    }));
    retries += life->retries;
    const uint64_t n = CopySize(*life);
    if (n > saved || CopyComplete(*life)) progress_at = Clock::now();
    saved = n;
    if (trace) {
      std::fprintf(stderr, "life %d: %d rounds, copy %llu, primary %llu\n", lives, life->rounds,
                   static_cast<unsigned long long>(n),
                   static_cast<unsigned long long>(PrimarySize()));
    }
    ASSERT_LT(Clock::now(), deadline)
        << "copy " << n << " of " << PrimarySize() << " after " << lives + 1 << " lives";
    ASSERT_LT(Clock::now() - progress_at, std::chrono::seconds(kStallSeconds))
        << "the copy stayed at " << n << " (primary " << PrimarySize() << ")";
    if (!ingest_stopped && PrimarySize() >= expected) {
      producer.join();
      stack_.StopIngest();  // drains, publishes everything and signs a final checkpoint
      ingest_stopped = true;
    }
    // At least 10 kills, some of them (when the copy is quick) of a replica that has the whole
    // log: a restart then must neither roll back nor write anything.
    if (ingest_stopped && CopySize(*life) == PrimarySize() && lives >= 10) break;
    life.reset();  // killed: nothing saved but the atomic writes already made
  }
  ASSERT_NO_FATAL_FAILURE(Finish(life.get(), deadline));
  life.reset();
  EXPECT_GE(lives, 10);
  std::printf("replica: %d lives, %d retried rounds, %.1f s\n", lives + 1, retries,
              std::chrono::duration<double>(Clock::now() - start).count());
  ExpectEqualToPrimary(expected);
}

}  // namespace
}  // namespace probity::replica::testing
