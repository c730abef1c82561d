// Checkpoints (c2sp.org/tlog-checkpoint): the body of the signed note a log publishes for a tree
// head. The text is
//
//   <origin>\n            non-empty; Probity uses the log's key name
//   <size>\n              ASCII decimal, no leading zeros (except "0"), fits in uint64
//   <base64 root hash>\n  canonical standard base64 of the 32-byte RFC 6962 root
//   [<extension>\n]...    optional, each non-empty
//
// See docs/checkpoints.md for a worked example and how third parties verify one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/note/note.h"
#include "common/status/status.h"

namespace probity::note {

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
  std::vector<std::string> extensions;  // opaque lines, without their "\n"

  bool operator==(const Checkpoint&) const = default;
};

// Ok if c can be formatted and parsed back unchanged: origin and every extension non-empty,
// without "\n", valid UTF-8 without control characters. Otherwise kInvalidArgument.
Status ValidateCheckpoint(const Checkpoint& c);

// Returns the checkpoint text. REQUIRES: ValidateCheckpoint(c).ok(); then
// ParseCheckpoint(FormatCheckpoint(c)) == c.
std::string FormatCheckpoint(const Checkpoint& c);

// Parses a checkpoint text (a note's text, with its final "\n"), strictly: at least three
// non-empty lines, decimal size without sign, leading zeros or overflow, a root that is the
// canonical base64 of exactly 32 bytes, non-empty extension lines, valid UTF-8 without control
// characters. Any accepted text t satisfies FormatCheckpoint(ParseCheckpoint(t)) == t.
// Fails with kInvalidArgument naming the first problem.
StatusOr<Checkpoint> ParseCheckpoint(std::string_view text);

// Formats c and signs it with signer. Probity's rule (c2sp says SHOULD): the key name MUST be
// the origin, else kFailedPrecondition. kInvalidArgument if c is not valid.
StatusOr<std::string> SignCheckpoint(const Checkpoint& c, const Signer& signer);

// Opens a signed checkpoint: Open(msg, known), then ParseCheckpoint of its text, then requires
// the origin to equal `origin` (kFailedPrecondition otherwise). Errors are those of Open and
// ParseCheckpoint.
StatusOr<Checkpoint> OpenCheckpoint(std::string_view msg, const std::vector<Verifier>& known,
                                    std::string_view origin);

}  // namespace probity::note
