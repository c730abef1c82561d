// Benchmarks for common/merkle. Not a test: run it by hand
// (build-*/tests/common/merkle/merkle_bench) and compare with the figures in the comment at the top
// of common/merkle/hasher.cc.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <string>
#include <vector>

#include "common/merkle/compact_range.h"
#include "common/merkle/hasher.h"
#include "common/merkle/proof.h"

namespace probity::merkle {
namespace {

void BM_HashLeaf200(benchmark::State& state) {
  const std::string data(200, 'x');
  for (auto _ : state) benchmark::DoNotOptimize(HashLeaf(data));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HashLeaf200);

void BM_HashChildren(benchmark::State& state) {
  Hash a = HashLeaf("a"), b = HashLeaf("b");
  for (auto _ : state) {
    a = HashChildren(a, b);
    benchmark::DoNotOptimize(a);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HashChildren);

// The alternatives to the low-level SHA256_* calls HashChildren uses, on the same 65-byte node
// message, so the choice in hasher.cc can be re-measured.
void BM_Sha256NodeEvpOneShot(benchmark::State& state) {
  unsigned char buf[65] = {1};
  unsigned char out[32];
  for (auto _ : state) {
    unsigned int len = 0;
    EVP_Digest(buf, sizeof(buf), out, &len, EVP_sha256(), nullptr);
    buf[1] = out[0];
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Sha256NodeEvpOneShot);

void BM_Sha256NodeEvpPrefetched(benchmark::State& state) {
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char buf[65] = {1};
  unsigned char out[32];
  for (auto _ : state) {
    unsigned int len = 0;
    EVP_DigestInit_ex2(ctx, md, nullptr);
    EVP_DigestUpdate(ctx, buf, sizeof(buf));
    EVP_DigestFinal_ex(ctx, out, &len);
    buf[1] = out[0];
  }
  EVP_MD_CTX_free(ctx);
  EVP_MD_free(md);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Sha256NodeEvpPrefetched);

void BM_CompactRangeAppend(benchmark::State& state) {
  CompactRange range;
  const Hash leaf = HashLeaf("leaf");
  uint64_t visited = 0;
  for (auto _ : state) {
    range.Append(leaf, [&](NodeId, const Hash&) { ++visited; });
  }
  benchmark::DoNotOptimize(visited);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CompactRangeAppend);

constexpr uint64_t kTenMillion = 10'000'000;

// A proof of the right shape with arbitrary node hashes: verification cost does not depend on
// the values, and building a real 10M-leaf tree would take seconds.
struct Proof {
  uint64_t index;
  Hash leaf;
  std::vector<Hash> hashes;
  Hash root;
};
Proof MakeInclusion(uint64_t index, uint64_t size) {
  ProofPlan plan = InclusionPlan(index, size).value();
  std::vector<Hash> fetched;
  for (size_t i = 0; i < plan.nodes.size(); ++i) fetched.push_back(HashLeaf(std::to_string(i)));
  Proof p{index, HashLeaf("leaf"), plan.Assemble(fetched).value(), {}};
  p.root = RootFromInclusionProof(index, size, p.leaf, p.hashes).value();
  return p;
}

void BM_VerifyInclusion10M(benchmark::State& state) {
  const Proof p = MakeInclusion(kTenMillion / 3, kTenMillion);
  for (auto _ : state) {
    Status st = VerifyInclusion(p.index, kTenMillion, p.leaf, p.hashes, p.root);
    if (!st.ok()) state.SkipWithError(st.message().c_str());
  }
  state.counters["proof_hashes"] = static_cast<double>(p.hashes.size());
}
BENCHMARK(BM_VerifyInclusion10M);

void BM_InclusionPlanAndAssemble10M(benchmark::State& state) {
  // The prover's CPU share of a proof at 10M (the store adds the node reads).
  std::vector<Hash> fetched(64, HashLeaf("x"));
  uint64_t index = 12345;
  for (auto _ : state) {
    ProofPlan plan = InclusionPlan(index, kTenMillion).value();
    fetched.resize(plan.nodes.size());
    benchmark::DoNotOptimize(plan.Assemble(fetched).value());
    index = (index * 7919 + 1) % kTenMillion;
  }
}
BENCHMARK(BM_InclusionPlanAndAssemble10M);

// Consistency between real trees of 1667 and 5000 leaves (a real pair of roots is needed, and a
// 10M-leaf tree takes seconds to build); the cost grows with log2 of the size only.
void BM_VerifyConsistency5000(benchmark::State& state) {
  const uint64_t s1 = 1667, s2 = 5000;
  CompactRange r1, r2;
  for (uint64_t i = 0; i < s2; ++i) {
    r2.Append(HashLeaf(std::to_string(i)));
    if (i + 1 == s1) r1 = r2;
  }
  ProofPlan plan = ConsistencyPlan(s1, s2).value();
  std::vector<Hash> fetched;
  for (const NodeId& n : plan.nodes) {
    CompactRange sub;
    for (uint64_t i = n.begin(); i < n.end(); ++i) sub.Append(HashLeaf(std::to_string(i)));
    fetched.push_back(sub.Root());
  }
  const std::vector<Hash> proof = plan.Assemble(fetched).value();
  const Hash root1 = r1.Root(), root2 = r2.Root();
  for (auto _ : state) {
    Status st = VerifyConsistency(s1, s2, proof, root1, root2);
    if (!st.ok()) state.SkipWithError(st.message().c_str());
  }
  state.counters["proof_hashes"] = static_cast<double>(proof.size());
}
BENCHMARK(BM_VerifyConsistency5000);

}  // namespace
}  // namespace probity::merkle
