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
  size_t total = 0, reproduced_total = 0;
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
    reproduced_total += reproduced;
  }
  std::printf("%zu flags in a store of %llu entries\n", total,
              static_cast<unsigned long long>(*reader().TreeSize()));
  EXPECT_GE(by_kind.size(), 6u);
  EXPECT_GT(reproduced_total, 0u);
}

// Calls fn(message, field, index) for every string, bytes and integer value in `m` and the
// messages below it (index -1 for a singular field).
template <typename Fn>
void ForEachValue(google::protobuf::Message* m, const Fn& fn) {
  using FD = google::protobuf::FieldDescriptor;
  const auto* refl = m->GetReflection();
  std::vector<const FD*> fields;
  refl->ListFields(*m, &fields);
  for (const FD* f : fields) {
    const int n = f->is_repeated() ? refl->FieldSize(*m, f) : 1;
    for (int i = 0; i < n; ++i) {
      const int at = f->is_repeated() ? i : -1;
      if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
        ForEachValue(at < 0 ? refl->MutableMessage(m, f) : refl->MutableRepeatedMessage(m, f, at),
                     fn);
      } else {
        fn(m, f, at);
      }
    }
  }
}

// Changes every byte of every string and bytes value of the bundle (leaf bytes, proof hashes,
// signed notes, policy keys, names, ids) one at a time, and every integer (indices, sizes,
// version, quorum, enum values) by one: each changed bundle is refused. What the JSON file adds
// around these values is swept byte by byte on the fixture (bundle_fixtures_test).
void ExpectEveryChangeRefused(const v1::DisputeBundle& good, const v1::VerifierPolicy& policy) {
  using FD = google::protobuf::FieldDescriptor;
  ASSERT_TRUE(Verify(good, policy).ok());
  size_t changes = 0, refused = 0, bytes = 0;
  v1::DisputeBundle b = good;
  ForEachValue(&b, [&](google::protobuf::Message* m, const FD* f, int at) {
    const auto* refl = m->GetReflection();
    auto judge = [&](const std::string& what) {
      ++changes;
      if (!Verify(b, policy).ok()) {
        ++refused;
      } else {
        ADD_FAILURE() << "accepted with " << f->full_name() << "[" << at << "] " << what;
      }
    };
    switch (f->cpp_type()) {
      case FD::CPPTYPE_STRING: {
        const std::string orig =
            at < 0 ? refl->GetString(*m, f) : refl->GetRepeatedString(*m, f, at);
        bytes += orig.size();
        for (size_t i = 0; i < orig.size(); ++i) {
          std::string bad = orig;
          bad[i] = static_cast<char>(bad[i] ^ 0x01);
          at < 0 ? refl->SetString(m, f, bad) : refl->SetRepeatedString(m, f, at, bad);
          judge("byte " + std::to_string(i) + " changed");
        }
        at < 0 ? refl->SetString(m, f, orig) : refl->SetRepeatedString(m, f, at, orig);
        break;
      }
      case FD::CPPTYPE_UINT64: {
        const uint64_t orig = at < 0 ? refl->GetUInt64(*m, f) : refl->GetRepeatedUInt64(*m, f, at);
        at < 0 ? refl->SetUInt64(m, f, orig + 1) : refl->SetRepeatedUInt64(m, f, at, orig + 1);
        judge("+1");
        at < 0 ? refl->SetUInt64(m, f, orig) : refl->SetRepeatedUInt64(m, f, at, orig);
        break;
      }
      case FD::CPPTYPE_UINT32: {
        const uint32_t orig = refl->GetUInt32(*m, f);
        refl->SetUInt32(m, f, orig + 1);
        judge("+1");
        refl->SetUInt32(m, f, orig);
        break;
      }
      case FD::CPPTYPE_ENUM: {
        const int orig = refl->GetEnumValue(*m, f);
        refl->SetEnumValue(m, f, orig + 1);
        judge("+1");
        refl->SetEnumValue(m, f, orig);
        break;
      }
      default:
        ADD_FAILURE() << "no change defined for " << f->full_name();
    }
  });
  std::printf("%zu of %zu changes refused (%zu bytes of strings and hashes, every integer)\n",
              refused, changes, bytes);
  EXPECT_EQ(refused, changes);
  EXPECT_GT(changes, 1000u);
}

TEST_F(DemoStoreTest, AnyChangedByteOfABundleIsRefused) {
  const auto by_kind = FlagsByKind();
  const v1::VerifierPolicy policy = TestPolicy(3, 2);
  auto cps = reader().Checkpoints();
  ASSERT_TRUE(cps.ok());
  ASSERT_GE(cps->size(), 3u);
  // A replayed rule (a duplicate claim) and a peer comparison (payment per patient), each with a
  // consistency proof from the first checkpoint.
  for (const char* kind : {"duplicate_item_of_service", "payment_per_patient_outlier"}) {
    SCOPED_TRACE(kind);
    ASSERT_TRUE(by_kind.count(kind));
    auto b = Build(reader(), by_kind.at(kind).front(),
                   {.policy = policy, .since_size = cps->front().tree_size()});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    ASSERT_TRUE(b->has_consistency());
    ExpectEveryChangeRefused(*b, policy);
  }
}

TEST_F(DemoStoreTest, AnyChangedByteOfThePolicyIsRefused) {
  const auto by_kind = FlagsByKind();
  const v1::VerifierPolicy policy = TestPolicy(3, 2);
  auto b = Build(reader(), by_kind.at("duplicate_item_of_service").front(),
                 {.policy = policy, .since_size = std::nullopt});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const std::string file = ToFile(*b);
  const std::string text = codec::ToJson(policy);
  ASSERT_TRUE(VerifyFile(file, *ParsePolicy(text)).ok());
  size_t refused = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    std::string bad = text;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    auto p = ParsePolicy(bad);
    if (!p.ok() || !VerifyFile(file, *p).ok()) {
      ++refused;
    } else {
      ADD_FAILURE() << "policy accepted with byte " << i << " changed: " << bad;
    }
  }
  std::printf("%zu of %zu policy byte flips refused\n", refused, text.size());
  EXPECT_EQ(refused, text.size());
}

}  // namespace
}  // namespace probity::bundle
