// The `probity` command line as an operator meets it: the built binary is run as a process, and
// its exit status and messages are checked (docs/operations.md, "Exit status").
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/services/cli/probity_process.h"

namespace {

namespace fs = std::filesystem;

using Result = probity::testing::ProcessResult;

class CommandLine : public testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(testing::TempDir()) / "probity_cli_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Runs `probity ARGS...` with stdin closed; returns its exit status, stdout and stderr.
  Result Run(const std::vector<std::string>& args) {
    return probity::testing::RunProcess(PROBITY_BIN, args, dir_);
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

constexpr int kOk = 0, kFailure = 1, kUsage = 2;

using Args = std::vector<std::string>;
std::string Join(const Args& args) {
  std::string s = "probity";
  for (const std::string& a : args) s += " " + a;
  return s;
}

TEST_F(CommandLine, HelpExitsZeroAndListsTheExitStatuses) {
  Result r = Run({"--help"});
  EXPECT_EQ(r.code, kOk) << r.err;
  EXPECT_NE(r.out.find("Exit status"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2  usage"), std::string::npos) << r.out;
  for (const Args& args : std::vector<Args>{Args{"log", "--help"},
                                            {"log", "proof", "inclusion", "--help"},
                                            {"rules", "backtest", "--help"},
                                            {"score", "offline", "--help"},
                                            {"up", "--help"},
                                            {"log", "get", "--help"}}) {
    Result sub = Run(args);
    EXPECT_EQ(sub.code, kOk) << Join(args) << ": " << sub.err;
    EXPECT_NE(sub.out.find("Usage"), std::string::npos) << sub.out;
  }
}

TEST_F(CommandLine, UnknownCommandExitsTwoNamingIt) {
  for (const Args& args : std::vector<Args>{Args{"nosuch", "--help"}, {"nosuch"}}) {
    Result r = Run(args);
    EXPECT_EQ(r.code, kUsage) << Join(args);
    EXPECT_NE(r.err.find("unknown command 'nosuch'"), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("Usage"), std::string::npos) << "printed the help: " << r.out;
  }
}

TEST_F(CommandLine, UnknownSubcommandExitsTwoNamingItAndItsCommand) {
  struct Case {
    Args args;
    std::string message;
  };
  for (const Case& c : {Case{{"log", "nosuch", "--help"}, "probity log: unknown command 'nosuch'"},
                        Case{{"log", "nosuch"}, "probity log: unknown command 'nosuch'"},
                        Case{{"log", "proof", "nosuch"}, "probity log proof: unknown command"},
                        Case{{"rules", "nosuch", "--help"}, "probity rules: unknown command"},
                        Case{{"score", "nosuch"}, "probity score: unknown command 'nosuch'"}}) {
    Result r = Run(c.args);
    EXPECT_EQ(r.code, kUsage) << c.message;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
}

TEST_F(CommandLine, UsageErrorsExitTwo) {
  for (const Args& args : std::vector<Args>{Args{},
                                            {"log"},
                                            {"log", "list", "--bogus"},
                                            {"log", "list", "--limit", "many"},
                                            {"log", "list", "surplus"},
                                            {"log", "get"},
                                            {"log", "proof", "inclusion"},
                                            {"alerts"},
                                            {"score"},
                                            {"score", "--truth", "t.jsonl", "offline"},
                                            {"up", "--port", "1", "--bootstrap-servers", "h:1"},
                                            {"ingest", "--max-batch", "0"},
                                            {"rules", "--kafka-property", "no-equals-sign"}}) {
    Result r = Run(args);
    EXPECT_EQ(r.code, kUsage) << Join(args) << ": " << r.err;
    EXPECT_FALSE(r.err.empty());
  }
  Result r = Run({"rules", "--kafka-property", "no-equals-sign"});
  EXPECT_NE(r.err.find("expected KEY=VALUE"), std::string::npos) << r.err;
}

// Every command that takes a date refuses one that does not exist, with the same message, before
// it does anything else.
TEST_F(CommandLine, EveryCommandRefusesADayThatDoesNotExist) {
  const std::string data = Path("data");
  for (const Args& args : std::vector<Args>{
           Args{"log", "list", "--data-dir", data, "--practice", "A81001", "--occurred-from",
                "2023-02-30"},
           {"log", "list", "--data-dir", data, "--practice", "A81001", "--occurred-to", "2023-2-3"},
           {"rules", "backtest", "--data-dir", data, "--rules", "any.yaml", "--from", "2023-02-30"},
           {"rules", "backtest", "--data-dir", data, "--rules", "any.yaml", "--to", "2023-13-01"},
           {"generate", "--out", Path("feed"), "--truth", Path("truth"), "--from", "2023-02-30"},
           {"generate", "--out", Path("feed"), "--truth", Path("truth"), "--to", "2023-04-31"},
           {"score", "offline", "--from", "2022-02-29"},
           {"score", "offline", "--to", "2023-02-30x"},
       }) {
    Result r = Run(args);
    EXPECT_EQ(r.code, kFailure) << Join(args) << ": " << r.err;
    EXPECT_NE(r.err.find("is not a date (YYYY-MM-DD)"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(Path("feed")));   // refused before writing anything
  EXPECT_FALSE(fs::exists(Path("truth")));  // ... either file
  EXPECT_FALSE(fs::exists(data));
}

TEST_F(CommandLine, GenerateAcceptsARealRange) {
  Result r = Run({"generate", "--out", Path("feed"), "--truth", Path("truth.jsonl"), "--from",
                  "2024-02-28", "--to", "2024-03-01", "--scale", "0.002", "--anomalies", "0"});
  EXPECT_EQ(r.code, kOk) << r.err;
  EXPECT_TRUE(fs::exists(Path("feed")));
}

// --kafka-property is an option of every bus client; the value goes to librdkafka, which names
// what it refuses (rather than the command line saying "unknown option").
TEST_F(CommandLine, EveryBusClientPassesKafkaPropertiesToLibrdkafka) {
  const std::string bad = "no.such.property=1";
  Result keygen = Run({"keygen", "--out-dir", Path("keys")});
  ASSERT_EQ(keygen.code, kOk) << keygen.err;
  for (const Args& args : std::vector<Args>{
           Args{"rules", "--data-dir", Path("rules"), "--http-port", "0"},
           {"alerts", "--alertmanager-url", "http://127.0.0.1:9", "--data-dir", Path("alerts")},
           {"generate", "--truth", Path("truth"), "--scale", "0.002", "--to", "2022-04-02"},
           {"ingest", "--data-dir", Path("ingest"), "--signing-key", Path("keys/probity.key"),
            "--http-port", "0"},
           {"up", "--port", "0", "--http-port", "0", "--data-dir", Path("up")},
       }) {
    Args with_property = args;
    with_property.insert(with_property.end(), {"--kafka-property", bad});
    Result r = Run(with_property);
    const std::string cmd = Join(with_property);
    EXPECT_EQ(r.code, kFailure) << cmd << ": " << r.err;
    EXPECT_NE(r.err.find("kafka property no.such.property=1"), std::string::npos)
        << cmd << ": " << r.err;
    EXPECT_NE(r.err.find("No such configuration property"), std::string::npos)
        << cmd << ": " << r.err;
  }
}

// `probity up` runs several targets; one that fails stops it with that error and a non-zero exit.
TEST_F(CommandLine, UpStopsWithTheErrorOfAFailingTarget) {
  fs::create_directories(Path("up"));
  std::ofstream(Path("up/alerts")) << "a file where the alerts state directory should be\n";
  Result r = Run({"up", "--port", "0", "--http-port", "0", "--data-dir", Path("up"),
                  "--alertmanager-url", "http://127.0.0.1:9"});
  EXPECT_EQ(r.code, kFailure) << r.out << r.err;
  EXPECT_NE(r.err.find("probity up: alerts: "), std::string::npos) << r.err;
}

// The log's key rotated as docs/operations.md says, on `probity up`: without --rotate-log-key the
// new key is refused; with it, up's own followers (rules, payments, tiles) go on verifying the
// checkpoints the old key signed, and `log verify` checks every note with a file of both keys.
TEST_F(CommandLine, UpFollowsItsLogAcrossAKeyRotation) {
  const std::string data = Path("up");
  // SIGTERM after a few seconds: up stops cleanly (timeout's own exit status is 124).
  auto up_for = [&](const std::string& seconds, Args extra) {
    Args args = {"-s",     "TERM", seconds,       PROBITY_BIN, "up",         "--demo",
                 "--port", "0",    "--http-port", "0",         "--data-dir", data};
    args.insert(args.end(), extra.begin(), extra.end());
    return probity::testing::RunProcess("/usr/bin/timeout", args, dir_);
  };
  Result first = up_for("8", {});
  ASSERT_EQ(first.code, 124) << first.err;
  ASSERT_NE(first.out.find("stopped cleanly"), std::string::npos) << first.out << first.err;
  const std::string old_pub = Path("up/keys/probity.pub");
  ASSERT_EQ(Run({"keygen", "--name", "probity.example/log", "--out-dir", Path("new")}).code, kOk);

  Result refused = up_for("30", {"--signing-key", Path("new/probity.key")});
  EXPECT_EQ(refused.code, kFailure) << refused.err;
  EXPECT_NE(refused.err.find("--rotate-log-key"), std::string::npos) << refused.err;

  Result rotated = up_for("8", {"--signing-key", Path("new/probity.key"), "--rotate-log-key"});
  EXPECT_EQ(rotated.code, 124) << rotated.err;
  EXPECT_NE(rotated.err.find("the log's key is now"), std::string::npos) << rotated.err;
  EXPECT_NE(rotated.out.find("stopped cleanly"), std::string::npos) << rotated.out << rotated.err;
  EXPECT_EQ((rotated.out + rotated.err).find("evidence"), std::string::npos) << rotated.err;

  std::ofstream(Path("both.pub")) << probity::testing::Slurp(Path("new/probity.pub"))
                                  << probity::testing::Slurp(old_pub);
  Result verify = Run({"log", "verify", "--data-dir", data, "--log-key", Path("both.pub")});
  EXPECT_EQ(verify.code, kOk) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("checked with probity.example/log+"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find(", probity.example/log+"), std::string::npos) << verify.out;
}

// A --config file goes through the same validation as the command line.
TEST_F(CommandLine, ConfigFileValuesAreValidatedLikeFlags) {
  std::ofstream(Path("probity.toml")) << "[generate]\nfrom = \"2023-02-30\"\n"
                                         "[log.list]\npractice = \"A81001\"\n"
                                         "occurred-from = \"2023-02-30\"\n";
  Result r = Run({"--config", Path("probity.toml"), "log", "list", "--data-dir", Path("data")});
  EXPECT_EQ(r.code, kFailure) << r.err;
  EXPECT_NE(r.err.find("probity log list: --occurred-from '2023-02-30' is not a date"),
            std::string::npos)
      << r.err;
}

}  // namespace
