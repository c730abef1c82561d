#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "common/bus/embedded_cluster.h"
#include "common/bus/kafka.h"
#include "common/bus/topics.h"
#include "tests/common/free_port.h"

namespace probity::bus {
namespace {

std::vector<Message> ReadN(Consumer& c, size_t n) {
  std::vector<Message> got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
    EXPECT_TRUE(c.Poll(1000, 100, &got).ok());
  }
  return got;
}

TEST(EmbeddedClusterTest, ProducesAndConsumesWithHeadersThroughFixedPort) {
  EmbeddedClusterOptions opts;
  opts.bootstrap_port = probity::testing::FreeLoopbackPort();
  auto cluster = EmbeddedCluster::Start(opts);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  EXPECT_EQ((*cluster)->bootstrap_servers(), "127.0.0.1:" + std::to_string(opts.bootstrap_port));

  ClientConfig cfg{(*cluster)->bootstrap_servers(), {}};
  int delivered = 0;
  auto producer = Producer::Create(cfg, [&](const DeliveryReport& r) {
    EXPECT_TRUE(r.status.ok()) << r.status.ToString();
    ++delivered;
  });
  ASSERT_TRUE(producer.ok());
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE((*producer)
                    ->Produce(kClaimsTopic, 2, "A81001", "value-" + std::to_string(i),
                              {{"content-type", "application/json"}}, i)
                    .ok());
  }
  ASSERT_TRUE((*producer)->Flush(10000).ok());
  EXPECT_EQ(delivered, 100);

  auto consumer = Consumer::Create(cfg);
  ASSERT_TRUE(consumer.ok());
  auto parts = (*consumer)->PartitionCount(std::string(kClaimsTopic), 5000);
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  EXPECT_EQ(*parts, 4);
  ASSERT_TRUE((*consumer)->Assign({{std::string(kClaimsTopic), 2, 10}}).ok());
  auto got = ReadN(**consumer, 90);
  ASSERT_EQ(got.size(), 90u);
  EXPECT_EQ(got.front().offset, 10);
  EXPECT_EQ(got.front().value, "value-10");
  EXPECT_EQ(got.front().key, "A81001");
  EXPECT_EQ(got.front().Header("content-type").value_or(""), "application/json");
  EXPECT_EQ(got.back().value, "value-99");
}

TEST(EmbeddedClusterTest, SecondBusOnSamePortFailsClearly) {
  EmbeddedClusterOptions opts;
  opts.bootstrap_port = probity::testing::FreeLoopbackPort();
  auto first = EmbeddedCluster::Start(opts);
  ASSERT_TRUE(first.ok());
  auto second = EmbeddedCluster::Start(opts);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find(std::to_string(opts.bootstrap_port)), std::string::npos);
}

// An outside client sees the topics: kcat -L against the fixed bootstrap port.
TEST(EmbeddedClusterTest, KcatListsTopics) {
  if (std::system("command -v kcat >/dev/null 2>&1") != 0) GTEST_SKIP() << "kcat not installed";
  EmbeddedClusterOptions opts;
  opts.bootstrap_port = probity::testing::FreeLoopbackPort();
  auto cluster = EmbeddedCluster::Start(opts);
  ASSERT_TRUE(cluster.ok());
  const std::string kcat =
      "kcat -b 127.0.0.1:" + std::to_string(opts.bootstrap_port) + " -L -m 10 2>&1";
  FILE* p = popen(kcat.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << out;
  for (const TopicSpec& t : kTopics) {
    EXPECT_NE(out.find("topic \"" + std::string(t.name) + "\" with " +
                       std::to_string(t.partitions) + " partitions"),
              std::string::npos)
        << t.name << "\n"
        << out;
  }
}

}  // namespace
}  // namespace probity::bus
