#include "common/note/note.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <map>
#include <set>
#include <utility>

#include "common/note/encoding.h"

namespace probity::note {
namespace {

using internal::Base64DecodeStrict;
using internal::Base64Encode;
using internal::Hex8;
using internal::IsValidKeyName;
using internal::IsValidNoteText;
using internal::ParseHex8;

constexpr size_t kEd25519KeySize = 32;
constexpr size_t kEd25519SigSize = 64;
constexpr std::string_view kSigPrefix = "\xE2\x80\x94 ";  // U+2014 EM DASH, space
constexpr std::string_view kPrivatePrefix = "PRIVATE+KEY+";

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// Wipes a buffer that held secret material when it goes out of scope.
class Wipe {
 public:
  Wipe(void* p, size_t n) : p_(p), n_(n) {}
  ~Wipe() { OPENSSL_cleanse(p_, n_); }
  Wipe(const Wipe&) = delete;
  Wipe& operator=(const Wipe&) = delete;

 private:
  void* p_;
  size_t n_;
};

// Wipes a std::string's current buffer (not earlier buffers a reallocation freed).
void WipeString(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

// Splits s at the first `sep`: before is s and after is empty if sep is absent (Go's chop).
std::pair<std::string_view, std::string_view> Chop(std::string_view s, char sep) {
  const size_t i = s.find(sep);
  if (i == std::string_view::npos) return {s, {}};
  return {s.substr(0, i), s.substr(i + 1)};
}

uint32_t ReadBe32(const std::string& b) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(b[0])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(b[1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(b[2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(b[3]));
}

std::string Be32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
}

// Builds an Ed25519 private key from a 32-byte seed and returns it with its public key.
StatusOr<std::pair<std::shared_ptr<EVP_PKEY>, std::string>> KeyFromSeed(const uint8_t* seed) {
  std::shared_ptr<EVP_PKEY> key(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed, kEd25519KeySize),
      PkeyDeleter());
  if (!key) return Internal("note: OpenSSL could not load an Ed25519 private key");
  std::string pub(kEd25519KeySize, '\0');
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), reinterpret_cast<uint8_t*>(pub.data()), &len) != 1 ||
      len != kEd25519KeySize) {
    return Internal("note: OpenSSL could not derive an Ed25519 public key");
  }
  return std::make_pair(std::move(key), std::move(pub));
}

std::string EncodedPublicKey(uint8_t alg, const std::string& pub) {
  return std::string(1, static_cast<char>(alg)) + pub;
}

bool KnownAlg(uint8_t alg) { return alg == kAlgEd25519 || alg == kAlgCosignatureV1; }

Status Malformed(std::string what) { return InvalidArgument("signed note: " + std::move(what)); }

}  // namespace

uint32_t KeyHash(std::string_view name, std::string_view encoded_key) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  std::string in;
  in.reserve(name.size() + 1 + encoded_key.size());
  in.append(name).append("\n").append(encoded_key);
  SHA256(reinterpret_cast<const uint8_t*>(in.data()), in.size(), digest);
  return (uint32_t{digest[0]} << 24) | (uint32_t{digest[1]} << 16) | (uint32_t{digest[2]} << 8) |
         uint32_t{digest[3]};
}

StatusOr<KeyPair> GenerateKey(std::string_view name, uint8_t alg) {
  if (!KnownAlg(alg)) return InvalidArgument("note: unknown key type " + std::to_string(alg));
  if (!IsValidKeyName(name)) {
    return InvalidArgument("note: key name must be non-empty UTF-8 without '+' or white space");
  }
  uint8_t seed[1 + kEd25519KeySize];
  Wipe wipe_seed(seed, sizeof(seed));
  seed[0] = alg;
  if (RAND_priv_bytes(seed + 1, kEd25519KeySize) != 1) {
    return Internal("note: OpenSSL RAND_priv_bytes failed");
  }
  PROBITY_ASSIGN_OR_RETURN(auto key, KeyFromSeed(seed + 1));
  const std::string pubkey = EncodedPublicKey(alg, key.second);
  const std::string hash = Hex8(KeyHash(name, pubkey));

  std::string seed64 = Base64Encode(std::string_view(reinterpret_cast<char*>(seed), sizeof(seed)));
  KeyPair kp;
  kp.signer_key.reserve(kPrivatePrefix.size() + name.size() + 1 + hash.size() + 1 + seed64.size());
  kp.signer_key.append(kPrivatePrefix)
      .append(name)
      .append("+")
      .append(hash)
      .append("+")
      .append(seed64);
  WipeString(seed64);
  kp.verifier_key = std::string(name) + "+" + hash + "+" + Base64Encode(pubkey);
  return kp;
}

StatusOr<Signer> Signer::FromSignerKey(std::string_view skey, uint8_t alg) {
  // The key text is secret: errors describe the problem, never the bytes.
  const Status bad = InvalidArgument(
      "note: malformed signer key (want PRIVATE+KEY+<name>+<hash8hex>+<base64 key>)");
  auto [priv1, r1] = Chop(skey, '+');
  auto [priv2, r2] = Chop(r1, '+');
  auto [name, r3] = Chop(r2, '+');
  auto [hash16, key64] = Chop(r3, '+');
  const auto hash = ParseHex8(hash16);
  auto key = Base64DecodeStrict(key64);
  if (priv1 != "PRIVATE" || priv2 != "KEY" || !hash || !key || !IsValidKeyName(name) ||
      key->empty()) {
    if (key) WipeString(*key);
    return bad;
  }
  Wipe wipe_key(key->data(), key->size());
  if (static_cast<uint8_t>((*key)[0]) != alg) {
    return InvalidArgument("note: signer key has an unknown algorithm (want type " +
                           std::to_string(alg) + "; 1 is an Ed25519 note key, 4 a cosigner key)");
  }
  if (key->size() != 1 + kEd25519KeySize) return bad;
  PROBITY_ASSIGN_OR_RETURN(auto pair,
                           KeyFromSeed(reinterpret_cast<const uint8_t*>(key->data()) + 1));
  if (KeyHash(name, EncodedPublicKey(alg, pair.second)) != *hash) {
    return InvalidArgument("note: signer key hash " + Hex8(*hash) +
                           " does not match its name and public key");
  }
  return Signer(std::string(name), *hash, std::move(pair.second), std::move(pair.first), alg);
}

std::string Signer::verifier_key() const {
  return name_ + "+" + Hex8(hash_) + "+" + Base64Encode(EncodedPublicKey(alg_, pubkey_));
}

StatusOr<std::string> Signer::SignRaw(std::string_view msg) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  std::string sig(kEd25519SigSize, '\0');
  size_t len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<uint8_t*>(sig.data()), &len,
                     reinterpret_cast<const uint8_t*>(msg.data()), msg.size()) != 1 ||
      len != kEd25519SigSize) {
    return Internal("note: OpenSSL Ed25519 signing failed");
  }
  return sig;
}

StatusOr<std::string> Signer::Sign(std::string_view text) const {
  if (alg_ != kAlgEd25519) {
    return FailedPrecondition("note: a cosigner key signs checkpoints with Cosign, not notes");
  }
  if (text.empty() || text.back() != '\n') {
    return InvalidArgument("signed note: text must end in a newline");
  }
  if (!IsValidNoteText(text)) {
    return InvalidArgument(
        "signed note: text must be valid UTF-8 without control characters other than newline");
  }
  PROBITY_ASSIGN_OR_RETURN(std::string sig, SignRaw(text));
  std::string out;
  out.reserve(text.size() + 1 + kSigPrefix.size() + name_.size() + 1 + 92 + 1);
  out.append(text).append("\n").append(kSigPrefix).append(name_).append(" ");
  out.append(Base64Encode(Be32(hash_) + sig)).append("\n");
  return out;
}

StatusOr<Verifier> Verifier::FromVerifierKey(std::string_view vkey, uint8_t alg) {
  const Status bad =
      InvalidArgument("note: malformed verifier key (want <name>+<hash8hex>+<base64 key>)");
  auto [name, rest] = Chop(vkey, '+');
  auto [hash16, key64] = Chop(rest, '+');
  const auto hash = ParseHex8(hash16);
  const auto key = Base64DecodeStrict(key64);
  if (!hash || !key || !IsValidKeyName(name) || key->empty()) return bad;
  if (KeyHash(name, *key) != *hash) {
    return InvalidArgument("note: verifier key hash " + Hex8(*hash) +
                           " does not match its name and key");
  }
  if (static_cast<uint8_t>((*key)[0]) != alg) {
    return InvalidArgument("note: verifier key has an unknown algorithm (want type " +
                           std::to_string(alg) + "; 1 is an Ed25519 note key, 4 a cosigner key)");
  }
  if (key->size() != 1 + kEd25519KeySize) return bad;
  std::shared_ptr<EVP_PKEY> pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                  reinterpret_cast<const uint8_t*>(key->data()) + 1,
                                  kEd25519KeySize),
      PkeyDeleter());
  if (!pkey) return InvalidArgument("note: verifier key is not a valid Ed25519 public key");
  return Verifier(std::string(name), *hash, std::move(pkey), alg);
}

bool Verifier::Verify(std::string_view text, std::string_view sig) const {
  if (sig.size() != kEd25519SigSize) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const uint8_t*>(sig.data()), sig.size(),
                          reinterpret_cast<const uint8_t*>(text.data()), text.size()) == 1;
}

StatusOr<Note> Open(std::string_view msg, const std::vector<Verifier>& known) {
  for (const Verifier& v : known) {
    if (v.alg() != kAlgEd25519) {
      return InvalidArgument("signed note: " + v.name() +
                             " is a cosigner key; check cosignatures with VerifyCosignature");
    }
  }
  if (!IsValidNoteText(msg)) {
    return Malformed("not valid UTF-8, or contains a control character other than newline");
  }
  const size_t split = msg.rfind("\n\n");
  if (split == std::string_view::npos) {
    return Malformed("no blank line between the text and the signatures");
  }
  Note note;
  note.text = std::string(msg.substr(0, split + 1));
  std::string_view sigs = msg.substr(split + 2);
  if (sigs.empty()) return Malformed("no signature lines after the blank line");
  if (sigs.back() != '\n') return Malformed("last signature line does not end in a newline");

  std::map<std::pair<std::string, uint32_t>, std::string_view> seen;  // first line per known key
  std::set<std::string_view> seen_unverified;
  int line_no = 0;
  while (!sigs.empty()) {
    const size_t nl = sigs.find('\n');  // always found: sigs ends in '\n'
    std::string_view line = sigs.substr(0, nl);
    sigs.remove_prefix(nl + 1);
    ++line_no;
    const std::string shape =
        "signature line " + std::to_string(line_no) + " is not of the form '— name base64'";
    if (line.substr(0, kSigPrefix.size()) != kSigPrefix) return Malformed(shape);
    line.remove_prefix(kSigPrefix.size());
    auto [name, b64] = Chop(line, ' ');
    const auto raw = Base64DecodeStrict(b64);
    if (!IsValidKeyName(name) || b64.empty() || !raw) return Malformed(shape);
    if (raw->size() < 5) {
      return Malformed("signature line " + std::to_string(line_no) + " is shorter than 5 bytes");
    }
    if (line_no > kMaxSignatures) {
      return Malformed("more than " + std::to_string(kMaxSignatures) + " signatures");
    }
    const uint32_t hash = ReadBe32(*raw);

    const Verifier* match = nullptr;
    int matches = 0;
    for (const Verifier& v : known) {
      if (v.name() == name && v.key_hash() == hash) {
        match = &v;
        ++matches;
      }
    }
    if (matches == 0) {
      if (seen_unverified.insert(line).second) {
        note.unverified.push_back(Signature{std::string(name), hash, std::string(b64)});
      }
      continue;
    }
    if (matches > 1) {
      return FailedPrecondition("signed note: ambiguous key " + std::string(name) + "+" +
                                Hex8(hash) + " (several known verifiers share it)");
    }
    auto key = std::make_pair(std::string(name), hash);
    auto it = seen.find(key);
    if (it != seen.end() && it->second == line) continue;  // the same signature again
    if (!match->Verify(note.text, std::string_view(*raw).substr(4))) {
      return DataLoss("signed note: invalid signature for key " + std::string(name) + "+" +
                      Hex8(hash));
    }
    if (it != seen.end()) continue;  // a second valid signature by the same key: report once
    seen.emplace(std::move(key), line);
    note.verified.push_back(Signature{std::string(name), hash, std::string(b64)});
  }
  if (note.verified.empty()) {
    return FailedPrecondition(
        "signed note: note has no verifiable signatures (none by a known key)");
  }
  return note;
}

}  // namespace probity::note
