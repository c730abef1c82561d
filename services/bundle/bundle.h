// Dispute bundles (docs/bundle.md): everything a practice, an auditor or a tribunal needs to check
// a flag offline, without trusting the commissioner or reaching the log. One bundle holds the
// FLAG entry, the rule-set publication it names, the Baseline entry where the flag names one,
// every evidence entry as exact leaf bytes, each with its RFC 6962 inclusion proof against ONE
// signed (and witness-cosigned, where configured) checkpoint, optionally a consistency proof from
// a checkpoint the recipient already holds, the verifier policy, and a re-evaluation manifest.
//
// Build reads a LogReader; Verify reads nothing but its arguments (no clock, no file, no
// network), hashes every leaf itself, checks every proof, the checkpoint's signatures and the
// witness quorum, then re-derives the flag with the rules engine (services/rules) where the rule
// allows it. Neither throws; both are pure functions of their inputs and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/logstore/reader.h"
#include "common/status/status.h"
#include "probity/v1/bundle.pb.h"
#include "probity/v1/proofs.pb.h"

namespace probity::bundle {

// DisputeBundle.format and .version of what Build writes and Verify accepts (exactly these).
inline constexpr std::string_view kFormat = "probity.dispute-bundle";
inline constexpr uint32_t kVersion = 1;

struct BuildOptions {
  // Embedded in the bundle as what the recipient should trust (as note::TrustPolicy states it,
  // the origin filled in). The checkpoint MUST open under it (note::TrustPolicy::Open: the log's
  // signature, the witnesses' cosignature/v1 lines, the quorum); the witnesses that cosigned are
  // named in Checkpoint.witnesses.
  v1::VerifierPolicy policy;
  // When set: add a consistency proof from the checkpoint of this size (which the recipient
  // holds; it MUST be a size the log published a checkpoint at) to the bundle's checkpoint.
  std::optional<uint64_t> since_size;
};

// Builds the bundle of the flag whose Flag.flag_id (the FLAG entry's event id) is `flag_id`,
// against the latest stored checkpoint. Fails with:
//  - NotFound: no FLAG entry with that id; no RULE_SET entry for its rule_set_hash; no stored
//    checkpoint of size since_size;
//  - FailedPrecondition: the latest checkpoint does not cover the flag entry yet, or is not
//    signed by policy.log_vkey (or its witness cosignatures fall below policy.quorum);
//  - InvalidArgument: a bad policy (note::TrustPolicy::Create), since_size 0 or larger than the
//    checkpoint;
//  - DataLoss: an entry the flag names is missing or does not parse;
//  - the reader's own errors.
// REQUIRES: reader outlives the call.
StatusOr<v1::DisputeBundle> Build(const logstore::LogReader& reader, std::string_view flag_id,
                                  const BuildOptions& options);

// The bundle file: codec::ToJson(bundle) and one "\n". Deterministic.
std::string ToFile(const v1::DisputeBundle& bundle);

// Parses a bundle file. Only the canonical form is accepted: the text MUST be byte-identical to
// ToFile of what it parses to (so exactly one byte string carries a bundle, and any changed byte
// either changes a value or is refused here). InvalidArgument naming the problem otherwise.
StatusOr<v1::DisputeBundle> ParseFile(std::string_view text);

// Parses a trust-policy file: the text form `probity verify` reads (common/note/policy.h,
// docs/checkpoints.md "Trust policy"), or a VerifierPolicy in the protobuf JSON mapping (a file
// whose first non-blank character is '{'; unknown fields refused). Checked as
// note::TrustPolicy::Create checks it; the origin, when not given, is the log key's name.
// InvalidArgument otherwise.
StatusOr<v1::VerifierPolicy> ParsePolicy(std::string_view text);

// Checks `bundle` against the trusted policy and, when given, the checkpoint the recipient
// already holds (a signed note; the bundle's consistency proof must then start at its size).
// Returns the report of an accepted bundle, or the first reason to reject it:
//  - InvalidArgument: malformed (format, version other than kVersion, a missing proof or entry,
//    a hash not 32 bytes, a consistency proof from size 0, an entry that does not parse);
//  - FailedPrecondition: the bundle's policy is not the trusted one, the checkpoint is not
//    signed by the trusted log key, its cosignatures fall below quorum, or `held` is not
//    covered by the consistency proof;
//  - DataLoss: a leaf, proof or checkpoint that does not verify; an entry not bound to its proof
//    (index, size, leaf hash); evidence other than the flag's; a flag the evidence does not
//    reproduce.
StatusOr<v1::BundleVerification> Verify(const v1::DisputeBundle& bundle,
                                        const v1::VerifierPolicy& trusted,
                                        std::optional<std::string_view> held = std::nullopt);

// ParseFile, then Verify.
StatusOr<v1::BundleVerification> VerifyFile(std::string_view bundle_file,
                                            const v1::VerifierPolicy& trusted,
                                            std::optional<std::string_view> held = std::nullopt);

}  // namespace probity::bundle
