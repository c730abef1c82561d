// The replica follows a live log written by a real ingest from a generated feed (every kind of
// event of the national generator, a handful of practices over a month, conflicting
// resubmissions), is killed once part way and restarted, and then equals the primary byte for
// byte. A few seconds; the long kill-and-restart run is replica_kill_test (label slow).
#include <gtest/gtest.h>

#include "services/generate/generator.h"
#include "services/generate/reference.h"
#include "tests/services/replica/replica_fixture.h"

namespace probity::replica::testing {
namespace {

using ReplicaTest = ReplicaFixture;

TEST_F(ReplicaTest, FollowsALiveLogAndAfterAKillEqualsThePrimaryByteForByte) {
  auto reference = generate::LoadReference(generate::DefaultReferenceCsvPath());
  ASSERT_TRUE(reference.ok()) << reference.status().ToString();
  generate::GeneratorParams p;
  p.practice_fraction = 0.002;
  p.volume_fraction = 0.05;
  p.end = p.start + 31LL * 86400 * 1000000;
  p.end_of_data = true;
  p.seed = 7;
  auto gen = generate::Generator::Create(*reference, p);
  ASSERT_TRUE(gen.ok()) << gen.status().ToString();
  generate::VectorSink feed;
  ASSERT_TRUE((*gen)->Run(&feed).ok());
  const auto& records = feed.records();
  ASSERT_GT(records.size(), 1000u);
  ASSERT_LT(records.size(), 20000u);
  const uint64_t expected = records.size() + (records.size() + 399) / 400;

  const auto start = Clock::now();
  std::jthread producer([&] {  // joined on any early return too
    // In a dozen bursts, so that the log grows through several checkpoints while followed.
    for (size_t i = 0; i < records.size(); ++i) {
      Produce(records[i].topic, records[i].key, records[i].envelope, i % 400 == 0);
      if (i % (records.size() / 12) == 0) {
        EXPECT_TRUE(stack_.producer->Flush(30000).ok());
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
      }
    }
    EXPECT_TRUE(stack_.producer->Flush(30000).ok());
  });
  const auto deadline = start + std::chrono::seconds(120);

  // First life: follows the live log until it holds part of it, then is killed (abandoned with
  // only its atomic writes).
  uint64_t killed_at = 0;
  {
    auto life = StartLife(/*max_batch=*/300);
    ASSERT_NE(life, nullptr);
    ASSERT_TRUE(RunRounds(life.get(), deadline, [&] { return CopySize(*life) >= expected / 3; }));
    killed_at = CopySize(*life);
  }
  ASSERT_GE(killed_at, expected / 3) << "the replica did not follow the live log";
  // Second life: restarts from what the first one wrote, never behind it.
  auto life = StartLife(/*max_batch=*/300);
  ASSERT_NE(life, nullptr);
  EXPECT_GE(life->runner->stats().next_index, killed_at);
  ASSERT_TRUE(RunRounds(life.get(), deadline, [&] { return PrimarySize() >= expected; }));
  producer.join();
  ASSERT_EQ(PrimarySize(), expected);
  stack_.StopIngest();  // drains, publishes everything and signs a final checkpoint
  ASSERT_NO_FATAL_FAILURE(Finish(life.get(), deadline));
  life.reset();
  std::printf("replica: %zu generated events, killed at %llu, equal after %.1f s\n", records.size(),
              static_cast<unsigned long long>(killed_at),
              std::chrono::duration<double>(Clock::now() - start).count());
  ExpectEqualToPrimary(expected);
}

}  // namespace
}  // namespace probity::replica::testing
