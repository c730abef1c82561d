// Base-128 varints (LEB128, the encoding of protobuf's wire format) and ZigZag signed mapping:
// the one varint codec shared by everything that writes its own compact binary (the rules
// engine's saved state, ingest's hand-written SequencedEntry). Pure, header-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace probity::encoding {

// Longest encoding of a uint64_t.
inline constexpr size_t kMaxVarintBytes = 10;

// Appends `v`, 7 bits a byte, least significant group first, high bit set on every byte but the
// last: 1 to 10 bytes, byte for byte what protobuf writes.
inline void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Reads one varint starting at in[*pos] into *v and advances *pos past it. Returns false, with
// *pos and *v unchanged, when the input ends inside the varint or when it runs past 10 bytes.
// As protobuf's parser does, bits beyond the 64th (in a 10th byte) are dropped, not rejected.
inline bool ReadVarint(std::string_view in, size_t* pos, uint64_t* v) {
  uint64_t r = 0;
  size_t p = *pos;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p >= in.size()) return false;
    const uint8_t b = static_cast<uint8_t>(in[p++]);
    r |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      *pos = p;
      return true;
    }
  }
  return false;
}

// ZigZag (protobuf's sint64): 0, -1, 1, -2, ... map to 0, 1, 2, 3, ... so small magnitudes of
// either sign stay short as varints.
constexpr uint64_t ZigZagEncode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
constexpr int64_t ZigZagDecode(uint64_t u) {
  return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
}

}  // namespace probity::encoding
