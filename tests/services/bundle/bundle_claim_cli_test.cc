// `probity dispute bundle --claim` and `probity verify-bundle` through cli::Main, in process: a
// claim's bundle from a data directory, verified; a changed byte and the argument errors refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "services/cli/app.h"
#include "tests/services/bundle/claim_fixtures.h"

namespace probity::bundle {
namespace {

namespace fs = std::filesystem;

class BundleClaimCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bundle_claim_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data" / "keys");
    testing::ClaimFixtureStore((dir_ / "data" / "log").string()).reset();  // closed: read-only
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
  std::string P(const std::string& name) { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(BundleClaimCliTest, FromClaimToVerifiedBundle) {
  ASSERT_EQ(Run({"dispute", "bundle", "--claim", "C-ld-3", "--store", P("data"), "--out",
                 P("c.json"), "--policy", P("policy.json")}),
            cli::kExitOk);
  EXPECT_EQ(Run({"verify-bundle", P("c.json"), "--policy", P("policy.json")}), cli::kExitOk);
  // With the practice named: the same file.
  ASSERT_EQ(Run({"dispute", "bundle", "--claim", "C-ld-3", "--practice", "A81001", "--store",
                 P("data"), "--out", P("p.json"), "--policy", P("policy.json")}),
            cli::kExitOk);
  std::ifstream a(P("c.json")), b(P("p.json"));
  std::stringstream sa, sb;
  sa << a.rdbuf();
  sb << b.rdbuf();
  EXPECT_EQ(sa.str(), sb.str());
  // One changed amount digit in an instruction's leaf (base64): refused as data that does not
  // verify.
  std::string text = sa.str();
  const size_t at = text.find("\"instructions\":[{\"index\":\"");
  ASSERT_NE(at, std::string::npos);
  const size_t leaf = text.find("\"leaf\":\"", at) + 20;
  text[leaf] = text[leaf] == 'A' ? 'B' : 'A';
  std::ofstream(P("bad.json"), std::ios::binary) << text;
  EXPECT_EQ(Run({"verify-bundle", P("bad.json"), "--policy", P("policy.json")}),
            cli::kExitDataLoss);
  // Exactly one of FLAG_ID and --claim; an unknown claim.
  EXPECT_EQ(Run({"dispute", "bundle", "--store", P("data")}), cli::kExitUsage);
  EXPECT_EQ(Run({"dispute", "bundle", "abc", "--claim", "C-ld-3", "--store", P("data")}),
            cli::kExitUsage);
  EXPECT_EQ(Run({"dispute", "bundle", "--claim", "nosuch", "--store", P("data")}),
            cli::kExitFailure);
}

}  // namespace
}  // namespace probity::bundle
