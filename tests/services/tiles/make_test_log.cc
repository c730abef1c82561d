// Writes a test audit log without a bus: DIR/log with N entries ("entry <i>" records) and signed
// checkpoints at the given sizes, the signing key pinned as ingest pins it, and the key pair in
// DIR/keys. For the tiles and witness end-to-end tests.
//
//   make_test_log DIR N SIZE[,SIZE...]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/logstore/sequencer.h"
#include "common/logstore/store.h"
#include "common/note/checkpoint.h"
#include "common/note/key_files.h"

namespace {

int Die(const std::string& what, const probity::Status& st) {
  std::fprintf(stderr, "make_test_log: %s: %s\n", what.c_str(), st.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace probity;
  if (argc != 4) {
    std::fprintf(stderr, "usage: make_test_log DIR N SIZE[,SIZE...]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const uint64_t n = std::strtoull(argv[2], nullptr, 10);
  std::vector<uint64_t> sizes;
  for (const char* p = argv[3]; *p;) {
    char* end = nullptr;
    sizes.push_back(std::strtoull(p, &end, 10));
    p = *end == ',' ? end + 1 : end;
  }
  std::filesystem::create_directories(dir + "/keys");
  auto kp = note::GenerateKey("probity.test/log");
  if (!kp.ok()) return Die("keygen", kp.status());
  if (Status st = note::WriteKeyFiles(*kp, dir + "/keys"); !st.ok()) return Die("keys", st);
  auto signer = note::Signer::FromSignerKey(kp->signer_key);
  auto store = logstore::LogStore::Open(dir + "/log", {});
  if (!store.ok()) return Die("open", store.status());
  auto seq = logstore::Sequencer::Create(store->get());
  if (!seq.ok()) return Die("sequencer", seq.status());
  if (Status st = (*seq)->PinLogKey(kp->verifier_key); !st.ok()) return Die("pin", st);
  size_t next_cp = 0;
  for (uint64_t i = 0; i < n;) {
    // Batches of up to 1000 entries, ending at each checkpoint size.
    uint64_t end = std::min(n, i + 1000);
    if (next_cp < sizes.size() && sizes[next_cp] > i) end = std::min(end, sizes[next_cp]);
    std::vector<v1::LogRecord> records(end - i);
    for (uint64_t k = i; k < end; ++k) {
      records[k - i].set_event_id("e" + std::to_string(k));
      records[k - i].set_payload("entry " + std::to_string(k));
    }
    auto r = (*seq)->Append(&records, {}, {});
    if (!r.ok()) return Die("append", r.status());
    i = end;
    while (next_cp < sizes.size() && sizes[next_cp] == i) {
      note::Checkpoint cp{"probity.test/log", i, (*seq)->root(), {}};
      auto signed_note = note::SignCheckpoint(cp, *signer);
      if (!signed_note.ok()) return Die("sign", signed_note.status());
      v1::CheckpointRecord rec;
      rec.set_tree_size(i);
      rec.set_root_hash(std::string(merkle::AsBytes(cp.root)));
      rec.set_signed_note(*signed_note);
      if (Status st = (*seq)->AddCheckpoint(rec); !st.ok()) return Die("checkpoint", st);
      ++next_cp;
    }
  }
  std::printf("%s\n", kp->verifier_key.c_str());
  return 0;
}
