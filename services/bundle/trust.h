// Internal to probity_bundle: the trust policy as keys, and opening a checkpoint under it
// (c2sp.org/tlog-proof steps 2 and 3: the log's signature, then the witnesses' quorum).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/note/checkpoint.h"
#include "common/note/note.h"
#include "common/status/status.h"
#include "probity/v1/proofs.pb.h"

namespace probity::bundle::internal {

struct TrustedKeys {
  std::string origin;
  std::vector<note::Verifier> known;  // known[0] is the log's key, then every witness's
  uint32_t quorum = 0;
};

// The policy's keys. InvalidArgument when the origin or a key is missing or does not parse, a
// witness's name is not its key's name, two keys share a name, or quorum > witnesses.
StatusOr<TrustedKeys> LoadPolicy(const v1::VerifierPolicy& policy);

struct OpenedCheckpoint {
  note::Checkpoint checkpoint;
  std::vector<std::string> witnesses;  // names of the witnesses whose cosignature verified
};

// Opens a signed checkpoint: note::Open against every trusted key (a bad signature by any of
// them rejects it), then requires the log's own signature, the trusted origin, and at least
// `quorum` distinct witness cosignatures. FailedPrecondition for a missing signature or quorum,
// the errors of note::Open and note::ParseCheckpoint otherwise.
StatusOr<OpenedCheckpoint> OpenWithPolicy(std::string_view signed_note, const TrustedKeys& keys);

}  // namespace probity::bundle::internal
