// The on-disk key schema of the audit log, shared by the writer (Sequencer) and every reader.
// docs/log_format.md describes the same layout in prose; keep the two in step.
//
// Column families and their keys (all integers big-endian so that byte order is numeric order):
//   "default"      meta: kMetaTreeSize, kMetaTreeRange, kMetaFormat, kMetaLogPublished,
//                  kMetaDeadLetterNext, kMetaDeadLetterPublished, kMetaLogKey, and consumer offsets
//                  kOffsetPrefix + topic + '\0' + be32(partition) -> be64(next offset to read)
//   "entries"      be64(index) -> leaf hash (32 bytes) || LogRecord bytes (the Merkle leaf data)
//   "tiles"        u8(tile level) || be64(tile index) -> merkle::Tile::Serialize()
//   "idx_event"    event id -> repeated be64(index), in log order (more than one only for
//                  conflicting resubmissions: same event id, other bytes)
//   "idx_practice" practice code || '\0' || be64(occurred_at µs + 2^63) || be64(index) -> ""
//   "idx_kind"     be32(kind) || be64(first index) -> repeated be64(index), ascending: one key per
//                  kind per appended batch, listing that batch's entries of the kind
//   "checkpoints"  be64(tree size) -> CheckpointRecord bytes
//   "deadletters"  be64(sequence) -> DeadLetter bytes (the outbox for probity.deadletter.v1)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace probity::logstore::keys {

inline constexpr const char* kEntriesCf = "entries";
inline constexpr const char* kTilesCf = "tiles";
inline constexpr const char* kEventIndexCf = "idx_event";
inline constexpr const char* kPracticeIndexCf = "idx_practice";
inline constexpr const char* kKindIndexCf = "idx_kind";
inline constexpr const char* kCheckpointsCf = "checkpoints";
inline constexpr const char* kDeadLettersCf = "deadletters";

inline constexpr std::string_view kMetaFormat = "format";  // -> kFormatVersion
inline constexpr std::string_view kFormatVersion = "probity-log-2";
inline constexpr std::string_view kMetaTreeSize = "tree/size";  // -> be64
inline constexpr std::string_view kMetaTreeRange =
    "tree/range";  // -> compact range hashes, 32 bytes each
inline constexpr std::string_view kMetaLogPublished =
    "publish/log";  // -> be64: entries below it are confirmed on probity.log.v1
inline constexpr std::string_view kMetaDeadLetterNext = "deadletter/next";          // -> be64
inline constexpr std::string_view kMetaDeadLetterPublished = "publish/deadletter";  // -> be64
inline constexpr std::string_view kOffsetPrefix = "offset/";
// -> the verifier key (c2sp signed-note vkey text) of the key the sequencer signs checkpoints
// with, pinned at its first start; absent in logs written before it existed.
inline constexpr std::string_view kMetaLogKey = "log/key";
// -> the verifier keys the log signed with before kMetaLogKey, newest first, one per line; written
// when the key is rotated (Sequencer::PinLogKey with rotate); absent when it never was.
inline constexpr std::string_view kMetaRetiredLogKeys = "log/retired-keys";

inline constexpr size_t kLeafHashSize = 32;
inline constexpr size_t kEventIndexItemSize = 8;

inline void PutBe64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void PutBe32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
// Writes v big-endian into out[0..8) (resp. [0..4)). REQUIRES: out has room.
inline void EncodeBe64(char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * (7 - i))) & 0xff);
}
inline void EncodeBe32(char* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * (3 - i))) & 0xff);
}
// REQUIRES: s.size() >= 8 (resp. 4).
inline uint64_t GetBe64(std::string_view s) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}
inline uint32_t GetBe32(std::string_view s) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}

inline std::string Be64(uint64_t v) {
  std::string s;
  PutBe64(&s, v);
  return s;
}

inline std::string EntryKey(uint64_t index) { return Be64(index); }

inline std::string TileKey(uint32_t level, uint64_t index) {
  std::string s(1, static_cast<char>(level));
  PutBe64(&s, index);
  return s;
}

// Appends the idx_practice key to *out.
inline void AppendPracticeIndexKey(std::string* out, std::string_view practice,
                                   int64_t occurred_micros, uint64_t index) {
  out->append(practice);
  out->push_back('\0');
  PutBe64(out, static_cast<uint64_t>(occurred_micros) ^ (uint64_t{1} << 63));
  PutBe64(out, index);
}

inline std::string PracticeIndexKey(std::string_view practice, int64_t occurred_micros,
                                    uint64_t index) {
  std::string s;
  AppendPracticeIndexKey(&s, practice, occurred_micros, index);
  return s;
}

// The key of an idx_kind group whose first entry is `index`.
inline std::string KindIndexKey(uint32_t kind, uint64_t index) {
  std::string s;
  PutBe32(&s, kind);
  PutBe64(&s, index);
  return s;
}

inline std::string OffsetKey(std::string_view topic, int32_t partition) {
  std::string s(kOffsetPrefix);
  s.append(topic);
  s.push_back('\0');
  PutBe32(&s, static_cast<uint32_t>(partition));
  return s;
}

}  // namespace probity::logstore::keys
