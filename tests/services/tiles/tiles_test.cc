// Tile paths (c2sp.org/tlog-tiles) and what the tile server answers from a small store.
#include "services/tiles/tiles.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/logstore/sequencer.h"
#include "common/merkle/hasher.h"
#include "common/note/checkpoint.h"

namespace probity::tiles {
namespace {

namespace fs = std::filesystem;

TEST(TilePath, SpecExamplesAndRoundTrip) {
  auto p = ParseTilePath("0/x001/x234/067");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->index, 1234067u);
  EXPECT_EQ(p->width, 256u);
  p = ParseTilePath("1/000.p/17");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->level, 1u);
  EXPECT_EQ(p->width, 17u);
  for (uint64_t n : {0ull, 7ull, 999ull, 1000ull, 1234067ull, 18446744073709551615ull / 256}) {
    for (uint32_t w : {1u, 255u, 256u}) {
      TilePath t{3, n, w};
      auto back = ParseTilePath(FormatTilePath(t));
      ASSERT_TRUE(back.ok()) << FormatTilePath(t);
      EXPECT_EQ(back->index, n);
      EXPECT_EQ(back->width, w);
    }
  }
  for (const char* bad : {"", "0", "0/", "00/000", "64/000", "0/0", "0/00", "0/0000", "0/x000/001",
                          "0/001/002", "0/x1/002", "0/000.p/0", "0/000.p/256", "0/000.p/007",
                          "0/000.p/", "0/abc", "-1/000", "0/000.p/1/2"}) {
    EXPECT_FALSE(ParseTilePath(bad).ok()) << bad;
  }
}

class TileServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("probity_tiles_unit_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    store_ = std::move(logstore::LogStore::Open(dir_.string(), {})).value();
    auto seq = std::move(logstore::Sequencer::Create(store_.get())).value();
    auto kp = note::GenerateKey("probity.test/log");
    signer_.emplace(std::move(note::Signer::FromSignerKey(kp->signer_key)).value());
    key_.emplace(std::move(note::Verifier::FromVerifierKey(kp->verifier_key)).value());
    std::vector<v1::LogRecord> records(300);
    for (int i = 0; i < 300; ++i) records[i].set_event_id("e" + std::to_string(i));
    ASSERT_TRUE(seq->Append(&records, {}, {}).ok());
    // The checkpoint covers 260 of the 300 entries.
    note::Checkpoint cp{"probity.test/log", 260, std::move(store_->Root(260)).value(), {}};
    v1::CheckpointRecord rec;
    rec.set_tree_size(260);
    rec.set_root_hash(std::string(merkle::AsBytes(cp.root)));
    rec.set_signed_note(std::move(note::SignCheckpoint(cp, *signer_)).value());
    note_ = rec.signed_note();
    ASSERT_TRUE(seq->AddCheckpoint(rec).ok());
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  fs::path dir_;
  std::unique_ptr<logstore::LogStore> store_;
  std::optional<note::Signer> signer_;
  std::optional<note::Verifier> key_;
  std::string note_;
};

TEST_F(TileServerTest, ServesHashesWithinTheCheckpointAndNeverEntries) {
  TileServer server(store_.get(), *key_);
  Response cp = server.Get("/checkpoint");
  EXPECT_EQ(cp.status, 200);
  EXPECT_EQ(cp.body, note_);

  Response full = server.Get("/tile/0/000");
  ASSERT_EQ(full.status, 200) << full.body;
  ASSERT_EQ(full.body.size(), 256u * 32);
  for (uint64_t i : {0u, 100u, 255u}) {
    EXPECT_EQ(full.body.substr(i * 32, 32), merkle::AsBytes(store_->Get(i)->leaf_hash)) << i;
  }
  Response partial = server.Get("/tile/0/001.p/4");  // 260 = 256 + 4
  ASSERT_EQ(partial.status, 200);
  EXPECT_EQ(partial.body.substr(0, 32), merkle::AsBytes(store_->Get(256)->leaf_hash));
  Response level1 = server.Get("/tile/1/000.p/1");
  ASSERT_EQ(level1.status, 200);
  EXPECT_EQ(level1.body, merkle::AsBytes(*store_->Root(256)));

  EXPECT_EQ(server.Get("/tile/0/001.p/5").status, 404);  // entries 256..260 exist, 261 is past it
  EXPECT_EQ(server.Get("/tile/0/001").status, 404);
  EXPECT_EQ(server.Get("/tile/1/000.p/2").status, 404);
  EXPECT_EQ(server.Get("/tile/entries/000").status, 404);
  EXPECT_EQ(server.Get("/tile/entries/001.p/4").status, 404);
  EXPECT_EQ(server.Get("/tile/0/1").status, 400);
  EXPECT_EQ(server.Get("/nothing").status, 404);
}

}  // namespace
}  // namespace probity::tiles
