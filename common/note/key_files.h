// Writing a freshly generated key pair to disk. Reading keys is the caller's business: read the
// file, strip the single trailing "\n", pass the text to Signer::FromSignerKey or
// Verifier::FromVerifierKey.
#pragma once

#include <string>

#include "common/note/note.h"
#include "common/status/status.h"

namespace probity::note {

inline constexpr char kSignerKeyFile[] = "probity.key";
inline constexpr char kVerifierKeyFile[] = "probity.pub";

// Writes <dir>/probity.key (kp.signer_key + "\n", mode 0600) and <dir>/probity.pub
// (kp.verifier_key + "\n", mode 0644), each fsynced, then fsyncs dir.
// MUST NOT overwrite: if either file exists, fails with kAlreadyExists and changes nothing.
// Fails with kInvalidArgument if kp.signer_key does not parse or its verifier key is not
// kp.verifier_key, and with kIoError on a file system error; on any failure it removes what it
// created. REQUIRES: dir exists.
Status WriteKeyFiles(const KeyPair& kp, const std::string& dir);

}  // namespace probity::note
