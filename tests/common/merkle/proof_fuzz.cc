// Fuzz target: no forged proof verifies. The input picks a real proof from a fixed 64-leaf tree,
// then a claimed (index, size) or (size1, size2), edits to the proof (bit flips, deletions,
// insertions of garbage or of other real node hashes, swaps, truncated elements) and which root
// to check against. With roots that are the true heads of the claimed sizes, verification MUST
// succeed exactly when the claim and proof are the real ones; a bit-flipped root MUST never
// verify. Any violation abort()s. Proofs from Plan+Assemble MUST equal the naive RFC ones.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/merkle/in_memory_tree.h"
#include "common/merkle/proof.h"
#include "tests/common/merkle/test_util.h"

namespace probity::merkle {
namespace {

constexpr uint64_t kLeaves = 64;

struct Fixture {
  InMemoryTree ref;
  testing::TiledTree tiled;
  std::vector<Hash> roots;  // roots[n] for n in [0, 64]
  Fixture() {
    roots.push_back(EmptyRoot());
    for (uint64_t i = 0; i < kLeaves; ++i) {
      Hash leaf = HashLeaf("fuzz leaf " + std::to_string(i));
      ref.AppendHash(leaf);
      tiled.AppendHash(leaf);
      roots.push_back(tiled.range().Root());
    }
  }
};
const Fixture& F() {
  static const Fixture* f = new Fixture;
  return *f;
}

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  bool empty() const { return n_ == 0; }
  uint8_t U8() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | U8();
    return v;
  }
  // A size or index: mostly small, sometimes any uint64 (edge values included).
  uint64_t Number() {
    const uint8_t b = U8();
    switch (b >> 6) {
      case 3:
        return U64();
      case 2:
        return UINT64_MAX - (b & 7);
      default:
        return b % (kLeaves + 2);
    }
  }
  std::string Bytes(size_t max) {
    size_t len = U8() % (max + 1);
    std::string s;
    for (size_t i = 0; i < len; ++i) s.push_back(static_cast<char>(U8()));
    return s;
  }

 private:
  const uint8_t* p_;
  size_t n_;
};

std::vector<std::string> ToStrings(const std::vector<Hash>& hashes) {
  std::vector<std::string> out;
  for (const Hash& h : hashes) out.emplace_back(AsBytes(h));
  return out;
}

// Applies up to 8 input-chosen edits to `proof`.
void Mutate(Reader& in, std::vector<std::string>& proof) {
  const Fixture& f = F();
  for (int ops = 0; ops < 8 && !in.empty(); ++ops) {
    const uint8_t op = in.U8();
    const size_t i = proof.empty() ? 0 : in.U8() % proof.size();
    switch (op % 9) {
      case 0:  // stop editing
        return;
      case 1:
        if (!proof.empty() && !proof[i].empty()) {
          proof[i][in.U8() % proof[i].size()] ^= static_cast<char>(1u << (in.U8() % 8));
        }
        break;
      case 2:
        if (!proof.empty()) proof.erase(proof.begin() + static_cast<ptrdiff_t>(i));
        break;
      case 3:
        proof.insert(proof.begin() + static_cast<ptrdiff_t>(in.U8() % (proof.size() + 1)),
                     in.Bytes(40));
        break;
      case 4:
        if (!proof.empty()) proof.insert(proof.begin() + static_cast<ptrdiff_t>(i), proof[i]);
        break;
      case 5:
        if (!proof.empty()) std::swap(proof[i], proof[in.U8() % proof.size()]);
        break;
      case 6: {  // replace with another real hash: a stored node, a leaf or a root
        const uint8_t which = in.U8();
        Hash h = which & 1 ? f.ref.LeafHash(in.U8() % kLeaves) : f.roots[in.U8() % (kLeaves + 1)];
        if (which & 2) {
          NodeId n{static_cast<uint32_t>(in.U8() % 7), 0};
          n.index = in.U8() % (kLeaves >> n.level);
          h = *f.tiled.Get(n);
        }
        if (proof.empty()) {
          proof.emplace_back(AsBytes(h));
        } else {
          proof[i] = std::string(AsBytes(h));
        }
        break;
      }
      case 7:
        if (!proof.empty() && !proof[i].empty()) proof[i].pop_back();
        break;
      case 8:
        if (!proof.empty()) proof.pop_back();
        break;
    }
  }
}

bool All32(const std::vector<std::string>& v) {
  for (const auto& s : v) {
    if (s.size() != kHashSize) return false;
  }
  return true;
}
std::vector<Hash> ToHashes(const std::vector<std::string>& v) {
  std::vector<Hash> out;
  for (const auto& s : v) out.push_back(*HashFromBytes(s));
  return out;
}

[[noreturn]] void Fail() { std::abort(); }

// Picks the root to verify against. Returns true if it is the true head of `size`.
// `flipped` is set when it is a true head with one bit flipped (so nothing may verify).
std::string PickRoot(Reader& in, uint64_t size, bool& authentic, bool& flipped) {
  const Fixture& f = F();
  authentic = flipped = false;
  const uint8_t how = in.U8() % 4;
  if (size <= kLeaves && how <= 1) {
    std::string r(AsBytes(f.roots[size]));
    if (how == 1) {
      r[in.U8() % kHashSize] ^= static_cast<char>(1u << (in.U8() % 8));
      flipped = true;
    } else {
      authentic = true;
    }
    return r;
  }
  if (how == 2) return std::string(AsBytes(f.roots[in.U8() % (kLeaves + 1)]));
  return in.Bytes(40);
}

void FuzzInclusion(Reader& in) {
  const Fixture& f = F();
  const uint64_t size = 1 + in.U8() % kLeaves;
  const uint64_t index = in.U8() % size;
  auto real = f.tiled.Inclusion(index, size);
  if (!real.ok() || *real != f.ref.InclusionProof(index, size).value()) Fail();
  if (!VerifyInclusion(index, size, f.ref.LeafHash(index), *real, f.roots[size]).ok()) Fail();

  uint64_t claim_index = index, claim_size = size;
  std::string leaf(AsBytes(f.ref.LeafHash(index)));
  const uint8_t what = in.U8();
  if (what & 1) claim_index = in.Number();
  if (what & 2) claim_size = in.Number();
  if (what & 4) leaf = std::string(AsBytes(f.ref.LeafHash(in.U8() % kLeaves)));
  if (what & 8) leaf[in.U8() % kHashSize] ^= 1;
  std::vector<std::string> proof = ToStrings(*real);
  if (what & 16) {  // start from the real proof of the claim, when there is one
    if (claim_index < claim_size && claim_size <= kLeaves) {
      proof = ToStrings(f.ref.InclusionProof(claim_index, claim_size).value());
    }
  }
  Mutate(in, proof);
  bool authentic, flipped;
  const std::string root = PickRoot(in, claim_size, authentic, flipped);

  const Status st = VerifyInclusionBytes(claim_index, claim_size, leaf, proof, root);
  const bool truth = claim_index < claim_size && claim_size <= kLeaves && authentic &&
                     leaf == AsBytes(f.ref.LeafHash(claim_index)) &&
                     proof == ToStrings(f.ref.InclusionProof(claim_index, claim_size).value());
  if (st.ok()) {
    if (claim_index >= claim_size) Fail();
    // A flipped root cannot pass, except where the claim holds whatever the root: a one-leaf
    // tree whose root is the (equally flipped) leaf hash itself, with an empty proof.
    if (flipped && !(claim_size == 1 && proof.empty() && leaf == root)) Fail();
    if (authentic && !truth) Fail();  // a forged proof verified against a true head
  } else if (truth) {
    Fail();  // the real proof was rejected
  }
  if (All32(proof) && leaf.size() == kHashSize && root.size() == kHashSize) {
    const Status typed = VerifyInclusion(claim_index, claim_size, *HashFromBytes(leaf),
                                         ToHashes(proof), *HashFromBytes(root));
    if (typed.ok() != st.ok()) Fail();
  }
}

void FuzzConsistency(Reader& in) {
  const Fixture& f = F();
  const uint64_t size2 = 1 + in.U8() % kLeaves;
  const uint64_t size1 = 1 + in.U8() % size2;
  auto real = f.tiled.Consistency(size1, size2);
  if (!real.ok() || *real != f.ref.ConsistencyProof(size1, size2).value()) Fail();
  if (!VerifyConsistency(size1, size2, *real, f.roots[size1], f.roots[size2]).ok()) Fail();

  uint64_t claim1 = size1, claim2 = size2;
  const uint8_t what = in.U8();
  if (what & 1) claim1 = in.Number();
  if (what & 2) claim2 = in.Number();
  std::vector<std::string> proof = ToStrings(*real);
  if ((what & 4) && claim1 <= claim2 && claim2 <= kLeaves) {
    proof = ToStrings(f.ref.ConsistencyProof(claim1, claim2).value());
  }
  Mutate(in, proof);
  bool auth1, flip1, auth2, flip2;
  const std::string root1 = PickRoot(in, claim1, auth1, flip1);
  const std::string root2 = PickRoot(in, claim2, auth2, flip2);

  const Status st = VerifyConsistencyBytes(claim1, claim2, proof, root1, root2);
  const bool sizes_ok = claim1 != 0 && claim1 <= claim2;
  const bool truth = sizes_ok && claim2 <= kLeaves && auth1 && auth2 &&
                     proof == ToStrings(f.ref.ConsistencyProof(claim1, claim2).value());
  if (st.ok()) {
    if (!sizes_ok) Fail();
    // A flipped root cannot pass, except in the one claim that holds whatever the root: equal
    // sizes with equal roots and an empty proof ("X is consistent with X"), which is what two
    // identical flips make.
    if ((flip1 || flip2) && !(claim1 == claim2 && root1 == root2 && proof.empty())) Fail();
    if (auth1 && auth2 && !truth) Fail();
  } else if (truth) {
    Fail();
  }
  if (All32(proof) && root1.size() == kHashSize && root2.size() == kHashSize) {
    const Status typed = VerifyConsistency(claim1, claim2, ToHashes(proof), *HashFromBytes(root1),
                                           *HashFromBytes(root2));
    if (typed.ok() != st.ok()) Fail();
  }
}

}  // namespace
}  // namespace probity::merkle

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  probity::merkle::Reader in(data, size);
  if (in.U8() & 1) {
    probity::merkle::FuzzConsistency(in);
  } else {
    probity::merkle::FuzzInclusion(in);
  }
  return 0;
}
