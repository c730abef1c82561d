// Signed notes (c2sp.org/signed-note) with Ed25519 keys, byte-compatible with Go's
// golang.org/x/mod/sumdb/note: a note signed here opens with note.Open, and a note signed there
// opens here. The formats are written down in docs/checkpoints.md.
//
//   Signed note   = text "\n" 1*signature-line
//   text          = one or more lines, each ending in "\n" (the text MUST end in "\n")
//   signature-line= "— " key-name " " base64(uint32be key-hash || signature) "\n"
//   key hash      = first 4 bytes (big-endian) of SHA-256(name || "\n" || 0x01 || public key)
//   signer key    = "PRIVATE+KEY+" name "+" hash8hex "+" base64(0x01 || 32-byte Ed25519 seed)
//   verifier key  = name "+" hash8hex "+" base64(0x01 || 32-byte Ed25519 public key)
//
// The whole note MUST be valid UTF-8 with no control character other than "\n". A key name is
// non-empty, contains no '+' and no Unicode white space.
//
// Errors never throw; every call that can fail returns Status / StatusOr, and no error message
// contains private key material.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace probity::note {

// A SHA-256 Merkle tree hash; the same type as probity::merkle::Hash.
using Hash = std::array<uint8_t, 32>;

// Signature type byte of Ed25519 keys and signatures (c2sp.org/signed-note).
inline constexpr uint8_t kAlgEd25519 = 0x01;
// Signature type byte of timestamped Ed25519 checkpoint cosignatures (c2sp.org/tlog-cosignature,
// cosignature/v1): a witness's key. Its keys have the same text forms with this byte in place of
// 0x01 (so another key hash); cosignatures are made and checked by cosignature.h.
inline constexpr uint8_t kAlgCosignatureV1 = 0x04;
// Open rejects notes with more signature lines than this, as Go does.
inline constexpr int kMaxSignatures = 100;

struct KeyPair {
  std::string signer_key;    // "PRIVATE+KEY+..."; secret: whoever holds it can sign.
  std::string verifier_key;  // "<name>+<hash>+<key>"; public, given to verifiers.
};

// Generates a fresh Ed25519 key pair named `name` from OpenSSL's private DRBG
// (RAND_priv_bytes). Fails with kInvalidArgument if the name is not a valid key name, and with
// kInternal if OpenSSL fails. Intermediate copies of the seed are wiped; the returned
// signer_key is the caller's to protect.
// `alg` is the key type: kAlgEd25519 (a log's note signer) or kAlgCosignatureV1 (a witness).
StatusOr<KeyPair> GenerateKey(std::string_view name, uint8_t alg = kAlgEd25519);

// Key hash of Go's note package: big-endian uint32 of SHA-256(name || "\n" || encoded_key)[:4],
// where encoded_key is the algorithm byte followed by the public key.
uint32_t KeyHash(std::string_view name, std::string_view encoded_key);

// Signs note texts with one Ed25519 key. Copies share the key (reference counted); the private
// key lives only inside OpenSSL's EVP_PKEY, which clears it when the last copy is destroyed.
// Thread-safe: Sign may be called concurrently on one Signer.
class Signer {
 public:
  // Parses a signer key as Go's note.NewSigner does. Fails with kInvalidArgument if the key is
  // malformed, uses an unknown algorithm, or its hash does not match the derived public key.
  // `alg`: the key type expected (kInvalidArgument for another).
  static StatusOr<Signer> FromSignerKey(std::string_view skey, uint8_t alg = kAlgEd25519);

  const std::string& name() const { return name_; }
  uint32_t key_hash() const { return hash_; }
  uint8_t alg() const { return alg_; }
  // The verifier key matching this signer, in the format FromVerifierKey reads.
  std::string verifier_key() const;

  // Returns the signed note: text, a blank line, and one signature line by this key.
  // REQUIRES (else kInvalidArgument): text ends in "\n", is valid UTF-8, and has no control
  // character other than "\n" -- the conditions under which Open can read the result back.
  // kFailedPrecondition for a cosigner key (alg() == kAlgCosignatureV1).
  StatusOr<std::string> Sign(std::string_view text) const;

  // Returns the raw 64-byte Ed25519 signature of msg (no key hash, no encoding).
  StatusOr<std::string> SignRaw(std::string_view msg) const;

 private:
  Signer(std::string name, uint32_t hash, std::string pubkey, std::shared_ptr<EVP_PKEY> key,
         uint8_t alg)
      : name_(std::move(name)),
        hash_(hash),
        pubkey_(std::move(pubkey)),
        key_(std::move(key)),
        alg_(alg) {}

  std::string name_;
  uint32_t hash_ = 0;
  std::string pubkey_;  // 32 raw bytes
  std::shared_ptr<EVP_PKEY> key_;
  uint8_t alg_ = kAlgEd25519;
};

// Verifies signatures by one Ed25519 public key. Copyable and thread-safe.
class Verifier {
 public:
  // Parses a verifier key as Go's note.NewVerifier does. Fails with kInvalidArgument if the key
  // is malformed, uses an unknown algorithm, or its hash does not match name and key.
  // `alg`: the key type expected (kInvalidArgument for another).
  static StatusOr<Verifier> FromVerifierKey(std::string_view vkey, uint8_t alg = kAlgEd25519);

  const std::string& name() const { return name_; }
  uint32_t key_hash() const { return hash_; }
  uint8_t alg() const { return alg_; }
  // Reports whether sig (the raw 64-byte Ed25519 signature, without the key hash) is a valid
  // signature of text by this key.
  bool Verify(std::string_view text, std::string_view sig) const;

 private:
  Verifier(std::string name, uint32_t hash, std::shared_ptr<EVP_PKEY> key, uint8_t alg)
      : name_(std::move(name)), hash_(hash), key_(std::move(key)), alg_(alg) {}

  std::string name_;
  uint32_t hash_ = 0;
  std::shared_ptr<EVP_PKEY> key_;
  uint8_t alg_ = kAlgEd25519;
};

// One signature line of a note.
struct Signature {
  std::string name;
  uint32_t key_hash = 0;
  std::string base64;  // base64(key hash || signature), exactly as it appears in the note

  bool operator==(const Signature&) const = default;
};

struct Note {
  std::string text;                   // the signed text, including its final "\n"
  std::vector<Signature> verified;    // by known keys, each verified; in note order
  std::vector<Signature> unverified;  // by keys not in `known`; in note order, deduplicated
};

// Parses msg as a signed note and verifies its signatures against `known` (Ed25519 note keys
// only: a cosigner key in `known` is kInvalidArgument), with the semantics
// of Go's note.Open, so that every note Open accepts, Go's note.Open accepts too:
//  - kInvalidArgument: msg is not a well-formed signed note (bad UTF-8 or control characters,
//    no blank line before the signatures, a signature line not of the form
//    "— name base64\n", a signature shorter than 5 bytes, more than kMaxSignatures lines).
//  - kFailedPrecondition: two entries of `known` share the name and key hash of a signature
//    ("ambiguous key"), or no signature is by a key in `known` ("no verifiable signatures").
//  - kDataLoss: a signature whose name and key hash match a key in `known` does not verify.
// A signature from an unknown key (name or hash differs from every known key) is recorded in
// `unverified` and never rejects the note; identical unverified lines are reported once.
// Repeated signatures by one known key are reported once. Two deliberate, stricter-than-Go
// differences (see docs/checkpoints.md): base64 must be canonical, and every repeated line of a
// known key that differs from its first line is verified too (Go skips it), as c2sp.org's
// "if the key name and ID match a known key, verifiers MUST verify the signature" requires.
StatusOr<Note> Open(std::string_view msg, const std::vector<Verifier>& known);

}  // namespace probity::note
