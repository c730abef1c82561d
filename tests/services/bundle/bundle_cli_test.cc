// `probity dispute bundle` and `probity verify-bundle` through the command line's composition
// root (cli::Main, in process): a dispute from a flag in a data directory to a verified bundle,
// and every bad fixture refused with a non-zero exit status.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "services/cli/app.h"
#include "tests/services/bundle/fixtures.h"

namespace probity::bundle {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class BundleCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bundle_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data" / "keys");
    writer_ = testing::FixtureStore((dir_ / "data" / "log").string());
    writer_.reset();  // closes the store: the command opens it read-only
    std::ofstream(dir_ / "data" / "keys" / "probity.pub") << testing::kLogVerifier << "\n";
    std::ofstream(dir_ / "policy.json") << codec::ToJson(testing::FixturePolicy()) << "\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), "probity");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::atomic<bool> stop{false};
    SystemClock clock;
    return cli::Main(static_cast<int>(argv.size()), argv.data(), {&stop, &clock});
  }
  std::string FlagId() {
    auto store = logstore::LogStore::Open((dir_ / "data" / "log").string(), {.read_only = true});
    EXPECT_TRUE(store.ok());
    return testing::FixtureFlagId(**store);
  }
  std::string P(const std::string& name) { return (dir_ / name).string(); }

  fs::path dir_;
  std::unique_ptr<testing::StoreWriter> writer_;
};

TEST_F(BundleCliTest, FromFlagToVerifiedBundle) {
  const std::string id = FlagId();
  // With the log's own key (no witnesses): the policy it embeds is written beside it.
  ASSERT_EQ(Run({"dispute", "bundle", id, "--store", P("data"), "--out", P("b.json"),
                 "--policy-out", P("own.json")}),
            cli::kExitOk);
  EXPECT_EQ(Run({"verify-bundle", P("b.json"), "--policy", P("own.json")}), cli::kExitOk);
  // With a policy naming witnesses and a quorum, and a consistency proof from size 3.
  ASSERT_EQ(Run({"dispute", "bundle", id, "--store", P("data"), "--out", P("w.json"), "--policy",
                 P("policy.json"), "--since-size", "3"}),
            cli::kExitOk);
  ::testing::internal::CaptureStdout();
  const int code = Run({"verify-bundle", P("w.json"), "--policy", P("policy.json"), "--json"});
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(code, cli::kExitOk);
  v1::BundleVerification v;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out.substr(0, out.find('\n')), &v).ok())
      << out;
  EXPECT_TRUE(v.ok() && v.reproduced() && v.consistency_verified());
  EXPECT_EQ(v.cosignatures(), 2u);
  // The bundle is the library's, byte for byte.
  EXPECT_EQ(Slurp(P("w.json")), Slurp(fs::path(PROBITY_BUNDLE_FIXTURES) / "good.json"));
  // A bundle verified under the other policy is refused (the policies differ).
  EXPECT_NE(Run({"verify-bundle", P("w.json"), "--policy", P("own.json")}), cli::kExitOk);
}

TEST_F(BundleCliTest, EveryBadFixtureIsRefused) {
  const fs::path fixtures = PROBITY_BUNDLE_FIXTURES;
  int refused = 0;
  for (const auto& entry : fs::directory_iterator(fixtures)) {
    const std::string name = entry.path().filename().string();
    if (name == "policy.json") continue;
    const int code = Run(
        {"verify-bundle", entry.path().string(), "--policy", (fixtures / "policy.json").string()});
    if (name == "good.json") {
      EXPECT_EQ(code, cli::kExitOk);
    } else {
      EXPECT_NE(code, cli::kExitOk) << name;
      ++refused;
    }
  }
  EXPECT_EQ(refused, 15);
}

TEST_F(BundleCliTest, Refusals) {
  EXPECT_EQ(Run({"dispute", "bundle", "nosuch", "--store", P("data")}), cli::kExitFailure);
  EXPECT_EQ(Run({"dispute", "bundle", FlagId(), "--store", P("nodata")}), cli::kExitFailure);
  EXPECT_EQ(Run({"verify-bundle", P("missing.json"), "--policy", P("policy.json")}),
            cli::kExitFailure);
  EXPECT_EQ(Run({"verify-bundle", P("policy.json")}), cli::kExitUsage);  // no --policy
}

}  // namespace
}  // namespace probity::bundle
