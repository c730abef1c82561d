#include "common/note/key_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace probity::note {
namespace {

namespace fs = std::filesystem;

class KeyFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "note_keys_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  static mode_t Mode(const fs::path& p) {
    struct stat sb;
    EXPECT_EQ(::stat(p.c_str(), &sb), 0);
    return sb.st_mode & 0777;
  }

  std::string dir_;
};

TEST_F(KeyFilesTest, WritesBothFilesWithModes) {
  auto kp = GenerateKey("probity.example/log");
  ASSERT_TRUE(kp.ok());
  ASSERT_TRUE(WriteKeyFiles(*kp, dir_).ok());
  EXPECT_EQ(Read(fs::path(dir_) / "probity.key"), kp->signer_key + "\n");
  EXPECT_EQ(Read(fs::path(dir_) / "probity.pub"), kp->verifier_key + "\n");
  EXPECT_EQ(Mode(fs::path(dir_) / "probity.key"), 0600u);
  EXPECT_EQ(Mode(fs::path(dir_) / "probity.pub"), 0644u);  // exact, whatever the umask
}

TEST_F(KeyFilesTest, RefusesToOverwrite) {
  auto kp = GenerateKey("probity.example/log");
  auto kp2 = GenerateKey("probity.example/log");
  ASSERT_TRUE(kp.ok() && kp2.ok());
  ASSERT_TRUE(WriteKeyFiles(*kp, dir_).ok());
  Status st = WriteKeyFiles(*kp2, dir_);
  EXPECT_EQ(st.code(), Code::kAlreadyExists);
  EXPECT_EQ(Read(fs::path(dir_) / "probity.key"), kp->signer_key + "\n");
  EXPECT_EQ(Read(fs::path(dir_) / "probity.pub"), kp->verifier_key + "\n");

  // Only the public file present: still refuses, and creates no key file.
  fs::remove(fs::path(dir_) / "probity.key");
  st = WriteKeyFiles(*kp2, dir_);
  EXPECT_EQ(st.code(), Code::kAlreadyExists);
  EXPECT_FALSE(fs::exists(fs::path(dir_) / "probity.key"));
}

TEST_F(KeyFilesTest, RejectsMismatchedPair) {
  auto kp = GenerateKey("a.example");
  auto kp2 = GenerateKey("a.example");
  ASSERT_TRUE(kp.ok() && kp2.ok());
  KeyPair mixed{kp->signer_key, kp2->verifier_key};
  EXPECT_EQ(WriteKeyFiles(mixed, dir_).code(), Code::kInvalidArgument);
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(KeyFilesTest, MissingDirIsIoError) {
  auto kp = GenerateKey("a.example");
  ASSERT_TRUE(kp.ok());
  EXPECT_EQ(WriteKeyFiles(*kp, dir_ + "/nope").code(), Code::kIoError);
}

// After a rotation a log's key file lists its keys, newest first: all are read, blank lines and
// CRLF tolerated; a key of another log, or an empty file, is refused by name.
TEST_F(KeyFilesTest, ReadsEveryKeyOfOneLogAndRefusesAnotherLogs) {
  auto a = GenerateKey("probity.test/log");
  auto b = GenerateKey("probity.test/log");
  auto other = GenerateKey("probity.other/log");
  ASSERT_TRUE(a.ok() && b.ok() && other.ok());
  const fs::path both = fs::path(dir_) / "both.pub";
  std::ofstream(both) << b->verifier_key << "\r\n\n" << a->verifier_key << "\n";
  auto keys = LoadVerifierKeys(both.string());
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].key_hash(), Verifier::FromVerifierKey(b->verifier_key)->key_hash());
  EXPECT_EQ((*keys)[1].key_hash(), Verifier::FromVerifierKey(a->verifier_key)->key_hash());
  // The key text itself, as on a command line.
  ASSERT_EQ(LoadVerifierKeys(a->verifier_key)->size(), 1u);

  const fs::path mixed = fs::path(dir_) / "mixed.pub";
  std::ofstream(mixed) << a->verifier_key << "\n" << other->verifier_key << "\n";
  auto refused = LoadVerifierKeys(mixed.string());
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("probity.other/log"), std::string::npos);

  const fs::path empty = fs::path(dir_) / "empty.pub";
  std::ofstream(empty) << "\n";
  EXPECT_EQ(LoadVerifierKeys(empty.string()).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace probity::note
