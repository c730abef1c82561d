// The generator's event file format, shared by FileSink (writer) and FileReader. The same format
// is described in prose in docs/generator.md; change both together.
//
// A file is the 8-byte magic "PRBGEN01" followed by zero or more records. A record is
//
//   u32 topic_length | topic bytes | u32 key_length | key bytes |
//   u32 envelope_length | envelope bytes (probity.v1.Envelope, binary protobuf) |
//   u32 crc32
//
// All integers are little-endian. crc32 is the IEEE 802.3 CRC-32 (as zlib's crc32) of every
// byte of the record before it. A file that ends exactly after a record is complete; a file that
// ends inside a record, or a record whose CRC does not match, is corrupt.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace probity::generate::record_format {

inline constexpr std::string_view kMagic = "PRBGEN01";
// Upper bounds a reader enforces before allocating.
inline constexpr uint32_t kMaxTopicLength = 1024;
inline constexpr uint32_t kMaxKeyLength = 1024;
inline constexpr uint32_t kMaxEnvelopeLength = 16u << 20;

// CRC-32 (IEEE, reflected, init and final xor 0xFFFFFFFF), continued from `crc` (0 to start).
uint32_t Crc32(const void* data, size_t n, uint32_t crc = 0);

}  // namespace probity::generate::record_format
