// Byte classes of ASCII, for the codec's checks and its JSON reader. No locale, no table.
#pragma once

namespace probity::codec::internal {

inline bool IsVisibleAscii(unsigned char c) { return c > 0x20 && c < 0x7f; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool IsLowerHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); }
inline char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace probity::codec::internal
