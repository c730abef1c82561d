// Text encodings shared by the signed-note and checkpoint code: strict RFC 4648 base64 and the
// character rules of c2sp.org/signed-note. Internal to common/note; other components use note.h
// and checkpoint.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace probity::note::internal {

// Standard base64 (RFC 4648 section 4) with '=' padding.
std::string Base64Encode(std::string_view bytes);

// Decodes standard padded base64. Returns nullopt unless `text` is the canonical encoding of
// some byte string: length a multiple of 4, only alphabet characters, 0-2 '=' at the end only,
// and zero unused bits in the last symbol. (Go's base64.StdEncoding also accepts non-zero unused
// bits and skips '\r' / '\n'; being stricter means every encoding Probity accepts is one Go
// accepts, and each byte string has exactly one accepted encoding.) An empty input decodes to
// an empty string.
std::optional<std::string> Base64DecodeStrict(std::string_view text);

// True if `text` is valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF) and contains no ASCII control character (below U+0020) other than '\n', which is
// exactly the rule golang.org/x/mod/sumdb/note.Open applies to a whole signed note.
bool IsValidNoteText(std::string_view text);

// True if `name` is a valid key name as Go's note package defines it: non-empty, valid UTF-8,
// no '+' and no Unicode white space (Go's unicode.IsSpace).
bool IsValidKeyName(std::string_view name);

// Lower-case 8-digit hex of a key hash, as Go's "%08x".
std::string Hex8(uint32_t v);

// Parses exactly 8 hex digits (either case), as Go's strconv.ParseUint(s, 16, 32) with
// len(s) == 8. Returns nullopt otherwise.
std::optional<uint32_t> ParseHex8(std::string_view s);

}  // namespace probity::note::internal
