// The replica against a real sequencer: ingest on the embedded bus (tests/integration/
// ingest_stack.h) writes the primary log and publishes probity.log.v1 and probity.checkpoints.v1;
// a replica follows both through the follower runtime, in "lives" that end without a save (what a
// kill leaves: only the replica's atomic writes), and in the end must hold the primary's log byte
// for byte (replica::CompareStores, the same proofs, and a store that verifies by itself).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/bus/topics.h"
#include "common/follow/checkpoint_source.h"
#include "common/follow/entry_source.h"
#include "common/follow/runtime.h"
#include "common/logstore/store.h"
#include "common/note/note.h"
#include "services/replica/compare.h"
#include "services/replica/replica.h"
#include "tests/integration/ingest_stack.h"

namespace probity::replica::testing {

using Clock = std::chrono::steady_clock;

class ReplicaFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ingest::IngestOptions o;
    o.checkpoint_interval_ms = 100;
    ASSERT_NO_FATAL_FAILURE(stack_.Start("probity_replica", o));
    verifier_.emplace(*note::Verifier::FromVerifierKey(stack_.signer->verifier_key()));
  }
  void TearDown() override { stack_.Stop(); }

  // One life of the replica: fresh bus readers (the topic, the checkpoints, and the primary's
  // store for what the embedded bus's ~5 MB retention took, verified all the same, as a replica
  // at another site would read another replica) and a runner restored from what the last life
  // wrote.
  struct Life {
    std::unique_ptr<follow::LogTopicSource> topic;
    std::unique_ptr<follow::CheckpointTopicSource> checkpoints;
    std::unique_ptr<follow::CatchUpSource> entries;
    std::unique_ptr<ReplicaRunner> runner;
    int rounds = 0;
    int retries = 0;
  };
  std::unique_ptr<Life> StartLife(size_t max_batch) {
    auto life = std::make_unique<Life>();
    auto topic = follow::LogTopicSource::Create(stack_.cfg);
    auto checkpoints = follow::CheckpointTopicSource::Create(stack_.cfg);
    EXPECT_TRUE(topic.ok() && checkpoints.ok());
    if (!topic.ok() || !checkpoints.ok()) return nullptr;
    life->topic = std::move(topic).value();
    life->checkpoints = std::move(checkpoints).value();
    life->entries =
        std::make_unique<follow::CatchUpSource>(life->topic.get(), (stack_.dir / "log").string());
    life->runner = std::make_unique<ReplicaRunner>(
        ReplicaOptions{.data_dir = (stack_.dir / "replica").string(),
                       .origin = verifier_->name(),
                       .log_keys = {*verifier_},
                       .max_batch = max_batch},
        life->entries.get(), life->checkpoints.get(), &stack_.clock);
    Status st = life->runner->Start();
    EXPECT_TRUE(st.ok()) << st.ToString();
    return st.ok() ? std::move(life) : nullptr;
  }

  // Runs rounds until `done()` or `until`, retrying what Run() would retry (the topic moved
  // under the reader, say). False, with a test failure, on anything else.
  bool RunRounds(Life* life, Clock::time_point until, const std::function<bool()>& done) {
    while (Clock::now() < until && !done()) {
      StatusOr<size_t> n = life->runner->RunOnce();
      ++life->rounds;
      if (!n.ok()) {
        if (!follow::Runtime::Retriable(n.status())) {
          ADD_FAILURE() << n.status().ToString();
          return false;
        }
        ++life->retries;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      } else if (*n == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    return true;
  }

  uint64_t PrimarySize() const { return *stack_.store->TreeSize(); }
  uint64_t CopySize(const Life& life) const { return *life.runner->store()->TreeSize(); }
  // Whether the copy holds the primary's every entry and its latest checkpoint.
  bool CopyComplete(const Life& life) const {
    auto latest = stack_.store->LatestCheckpoint();
    auto mine = life.runner->store()->LatestCheckpoint();
    return latest.ok() && *latest && mine.ok() && *mine && CopySize(life) == PrimarySize() &&
           (*mine)->tree_size() == (*latest)->tree_size();
  }

  // After StopIngest: runs `life` until the copy is complete (or `until`), then saves.
  void Finish(Life* life, Clock::time_point until) {
    ASSERT_TRUE(RunRounds(life, until, [&] { return CopyComplete(*life); }));
    ASSERT_TRUE(CopyComplete(*life)) << "copy " << CopySize(*life) << " of " << PrimarySize();
    ASSERT_TRUE(life->runner->Save().ok());
  }

  // The copy (opened again, read-only) equals the primary byte for byte; `expected_size` entries.
  void ExpectEqualToPrimary(uint64_t expected_size) {
    auto copy =
        logstore::LogStore::Open((stack_.dir / "replica" / "log").string(), {.read_only = true});
    ASSERT_TRUE(copy.ok()) << copy.status().ToString();
    const logstore::LogStore& a = *stack_.store;
    const logstore::LogStore& b = **copy;
    const uint64_t size = *a.TreeSize();
    ASSERT_EQ(size, expected_size);
    auto c = CompareStores(a, b);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    for (const std::string& d : c->differences) ADD_FAILURE() << d;
    EXPECT_EQ(c->tree_size, size);
    EXPECT_EQ(c->entries, size);
    EXPECT_GT(c->tiles, 0u);
    EXPECT_GE(c->checkpoints, 3u);
    EXPECT_EQ(c->checkpoints, c->primary_checkpoints);
    EXPECT_EQ(*b.Root(size), *a.Root(size));
    // The same proofs, against the final tree and from every stored checkpoint.
    for (uint64_t i : {uint64_t{0}, size / 3, size / 2, size - 1}) {
      EXPECT_EQ(*b.InclusionProof(i, size), *a.InclusionProof(i, size)) << i;
    }
    for (const v1::CheckpointRecord& cp : *a.Checkpoints()) {
      if (cp.tree_size() > 0 && cp.tree_size() < size) {
        EXPECT_EQ(*b.ConsistencyProof(cp.tree_size(), size),
                  *a.ConsistencyProof(cp.tree_size(), size));
      }
    }
    // And it verifies as a store by itself, its notes with the log's key.
    auto report = b.Verify(nullptr, {*verifier_});
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->entries_checked, size);
    EXPECT_EQ(report->notes_checked, c->checkpoints);
    std::printf("replica: %llu entries, %llu tiles, %llu checkpoints equal\n",
                static_cast<unsigned long long>(c->entries),
                static_cast<unsigned long long>(c->tiles),
                static_cast<unsigned long long>(c->checkpoints));
  }

  // Produces `e` to its topic (a claim's practice picks the key), and when `resend`, again with
  // other bytes: a conflicting resubmission, which the log keeps, marked.
  void Produce(std::string_view topic, std::string_view key, v1::Envelope e, bool resend) {
    ASSERT_TRUE(stack_.producer->Produce(topic, -1, key, e.SerializeAsString()).ok());
    if (resend) {
      e.set_source_system("test-resent");
      ASSERT_TRUE(stack_.producer->Produce(topic, -1, key, e.SerializeAsString()).ok());
    }
  }

  probity::testing::IngestStack stack_;
  std::optional<note::Verifier> verifier_;
};

}  // namespace probity::replica::testing
