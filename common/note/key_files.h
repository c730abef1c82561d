// Key files: writing a freshly generated key pair to disk, and reading a key back. A key file is
// the key text and one "\n" (a "\r\n" is tolerated); pass the text to Signer::FromSignerKey or
// Verifier::FromVerifierKey.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/note/note.h"
#include "common/status/status.h"

namespace probity::note {

inline constexpr char kSignerKeyFile[] = "probity.key";
inline constexpr char kVerifierKeyFile[] = "probity.pub";

// Writes <dir>/probity.key (a log's key, or a witness's cosigner key) (kp.signer_key + "\n", mode
// 0600) and <dir>/probity.pub (kp.verifier_key + "\n", mode 0644), each fsynced, then fsyncs dir.
// MUST NOT overwrite: if either file exists, fails with kAlreadyExists and changes nothing.
// Fails with kInvalidArgument if kp.signer_key does not parse or its verifier key is not
// kp.verifier_key, and with kIoError on a file system error; on any failure it removes what it
// created. REQUIRES: dir exists.
Status WriteKeyFiles(const KeyPair& kp, const std::string& dir);

// Returns the key text of the file at `path` without its trailing newline. kNotFound if there is
// no such file, kIoError if it cannot be read.
StatusOr<std::string> ReadKeyFile(const std::string& path);

// A verifier key given on a command line: `file_or_key` names a file holding one (ReadKeyFile),
// or, when no such file exists, is the key text itself. Errors of ReadKeyFile and
// Verifier::FromVerifierKey.
StatusOr<Verifier> LoadVerifierKey(const std::string& file_or_key);

// The verifier keys of one log: as LoadVerifierKey, but the file (or text) may hold several keys,
// one per line (blank lines ignored), as it does after the log's key was rotated (the new key
// first, then the ones it replaced: docs/operations.md, "Key rotation"). Every key must carry the
// same name, the log's origin: kInvalidArgument otherwise, or when there is none.
StatusOr<std::vector<Verifier>> LoadVerifierKeys(const std::string& file_or_key);
// The same from key texts already read (e.g. the keys a store pinned).
StatusOr<std::vector<Verifier>> ParseLogKeys(const std::vector<std::string>& texts);
// The key texts LoadVerifierKeys reads (each line of the file or text, blank lines dropped),
// checked as it checks them: for a caller that needs the text too (a trust policy holds it).
StatusOr<std::vector<std::string>> LoadVerifierKeyTexts(const std::string& file_or_key);
// The key texts of a text holding one per line (a key file, or the retired keys a log stores):
// each line without its "\r", blank lines dropped. Nothing is parsed.
std::vector<std::string> SplitKeyLines(std::string_view text);

}  // namespace probity::note
