// A verifier's trust policy: which log it follows (origin and key), which witnesses it trusts,
// and how many of them must have cosigned a checkpoint before it believes it (k of n). Used by
// `probity verify` and by every follower that checks checkpoints.
//
// The policy file (docs/checkpoints.md, "Trust policy") is text, one statement a line; blank
// lines and lines starting with '#' are ignored:
//
//   log <log verifier key>           exactly once; a signed-note Ed25519 vkey (type 0x01)
//   origin <origin>                  optional; default: the log key's name (Probity's rule)
//   witness <witness verifier key>   any number; a cosignature/v1 vkey (type 0x04), names unique
//   quorum <k>                       0 <= k <= number of witnesses; required if any witness
//
// It parses into the probity.v1.VerifierPolicy message (proto/probity/v1/proofs.proto).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/note/checkpoint.h"
#include "common/note/note.h"
#include "common/status/status.h"
#include "probity/v1/proofs.pb.h"

namespace probity::note {

// Parses a policy file. kInvalidArgument naming the line of the first problem (unknown
// statement, bad key, duplicate, quorum out of range, missing log).
StatusOr<v1::VerifierPolicy> ParsePolicy(std::string_view text);

// A checkpoint that passed a TrustPolicy.
struct TrustedCheckpoint {
  Checkpoint checkpoint;
  std::string text;                   // the signed checkpoint text
  std::vector<std::string> cosigned;  // names of the policy's witnesses whose cosignature verified
};

class TrustPolicy {
 public:
  // Checks and compiles a policy message (the same rules as ParsePolicy). kInvalidArgument.
  static StatusOr<TrustPolicy> Create(const v1::VerifierPolicy& policy);
  // The policy of a single log key with no witnesses.
  static StatusOr<TrustPolicy> ForLogKey(std::string_view log_vkey);
  // The policy of a log whose key was rotated, with no witnesses: the first key is the policy's
  // (its log_vkey, the newest); a note signed by any of them opens. All MUST name the same log.
  static StatusOr<TrustPolicy> ForLogKeys(const std::vector<std::string>& log_vkeys);

  const v1::VerifierPolicy& policy() const { return policy_; }
  const Verifier& log_key() const { return log_; }
  // The same log keys, no witnesses: for a checkpoint that may predate the witnesses.
  TrustPolicy LogOnly() const;

  // Opens a checkpoint note under this policy:
  //  - the log's signature MUST verify (errors of Open; kDataLoss for a bad signature), the text
  //    MUST parse as a checkpoint (kInvalidArgument) with the policy's origin
  //    (kFailedPrecondition);
  //  - every signature line by a policy witness MUST verify (kDataLoss otherwise), and at least
  //    quorum distinct witnesses MUST have cosigned (kFailedPrecondition otherwise);
  //  - any other signature line is ignored.
  StatusOr<TrustedCheckpoint> Open(std::string_view note) const;

 private:
  TrustPolicy(v1::VerifierPolicy p, Verifier log, std::vector<Verifier> witnesses)
      : policy_(std::move(p)),
        log_(log),
        log_keys_{std::move(log)},
        witnesses_(std::move(witnesses)) {}

  v1::VerifierPolicy policy_;
  Verifier log_;
  std::vector<Verifier> log_keys_;  // log_ first, then any keys it replaced (ForLogKeys)
  std::vector<Verifier> witnesses_;
};

}  // namespace probity::note
