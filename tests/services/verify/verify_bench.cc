// What outside verification costs (Google Benchmark; PROBITY_BENCH builds): opening one signed
// checkpoint under a trust policy (the log's Ed25519 signature, optionally a witness cosignature)
// and checking one inclusion proof in a tree of 2^20 and 2^30 entries (20 / 30 hashes). Figures
// are in docs/checkpoints.md ("What verification costs").
#include <benchmark/benchmark.h>

#include "common/merkle/hasher.h"
#include "common/note/checkpoint.h"
#include "common/note/cosignature.h"
#include "common/note/policy.h"
#include "services/verify/verify.h"

namespace probity {
namespace {

struct Fixture {
  Fixture() {
    auto lk = note::GenerateKey("probity.bench/log");
    auto wk = note::GenerateKey("witness.bench/w1", note::kAlgCosignatureV1);
    auto signer = std::move(note::Signer::FromSignerKey(lk->signer_key)).value();
    auto cosigner =
        std::move(note::Signer::FromSignerKey(wk->signer_key, note::kAlgCosignatureV1)).value();
    note::Checkpoint cp{"probity.bench/log", 1 << 20, merkle::Sha256("root"), {}};
    signed_note = std::move(note::SignCheckpoint(cp, signer)).value();
    const std::string text = note::FormatCheckpoint(cp);
    cosigned_note = signed_note + std::move(note::Cosign(cosigner, text, 1700000000)).value();
    v1::VerifierPolicy p;
    p.set_log_vkey(lk->verifier_key);
    log_only = std::move(note::TrustPolicy::Create(p)).value();
    p.add_witnesses()->set_vkey(wk->verifier_key);
    p.set_quorum(1);
    with_witness = std::move(note::TrustPolicy::Create(p)).value();
  }
  std::string signed_note, cosigned_note;
  std::optional<note::TrustPolicy> log_only, with_witness;
};

const Fixture& F() {
  static const Fixture* f = new Fixture;
  return *f;
}

void BM_VerifyCheckpoint(benchmark::State& state) {
  const Fixture& f = F();
  for (auto _ : state) {
    auto cp = verify::VerifyCheckpoint(*f.log_only, f.signed_note);
    if (!cp.ok()) state.SkipWithError("checkpoint did not verify");
    benchmark::DoNotOptimize(cp);
  }
}
BENCHMARK(BM_VerifyCheckpoint);

void BM_VerifyCheckpointWithWitnessQuorum(benchmark::State& state) {
  const Fixture& f = F();
  for (auto _ : state) {
    auto cp = verify::VerifyCheckpoint(*f.with_witness, f.cosigned_note);
    if (!cp.ok()) state.SkipWithError("checkpoint did not verify");
    benchmark::DoNotOptimize(cp);
  }
}
BENCHMARK(BM_VerifyCheckpointWithWitnessQuorum);

// One inclusion proof of depth state.range(0): a perfect tree of 2^depth leaves, built from a
// 2-leaf tree's shape without materialising it (the proof is depth sibling hashes).
void BM_VerifyInclusion(benchmark::State& state) {
  const int depth = static_cast<int>(state.range(0));
  const uint64_t size = uint64_t{1} << depth;
  const uint64_t index = size / 3;
  const merkle::Hash leaf = merkle::HashLeaf("entry");
  std::vector<merkle::Hash> path;
  merkle::Hash root = leaf;
  for (int level = 0; level < depth; ++level) {
    path.push_back(merkle::Sha256("sibling " + std::to_string(level)));
    root = ((index >> level) & 1) ? merkle::HashChildren(path.back(), root)
                                  : merkle::HashChildren(root, path.back());
  }
  note::TrustedCheckpoint cp;
  cp.checkpoint.size = size;
  cp.checkpoint.root = root;
  v1::InclusionProof proof;
  proof.set_leaf_index(index);
  proof.set_tree_size(size);
  proof.set_leaf_hash(std::string(merkle::AsBytes(leaf)));
  for (const auto& h : path) proof.add_hashes(std::string(merkle::AsBytes(h)));
  for (auto _ : state) {
    Status st = verify::VerifyInclusion(cp, proof, std::nullopt);
    if (!st.ok()) state.SkipWithError(st.message().c_str());
    benchmark::DoNotOptimize(st);
  }
}
BENCHMARK(BM_VerifyInclusion)->Arg(20)->Arg(30);

}  // namespace
}  // namespace probity

BENCHMARK_MAIN();
