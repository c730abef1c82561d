// Lower-case hexadecimal text of bytes: the one hex encoder for digests printed as text.
// Pure, header-only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace probity::encoding {

// Two lower-case hex digits a byte, most significant nibble first.
inline std::string HexLower(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * bytes.size(), '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<uint8_t>(bytes[i]);
    out[2 * i] = kDigits[b >> 4];
    out[2 * i + 1] = kDigits[b & 0xf];
  }
  return out;
}

}  // namespace probity::encoding
