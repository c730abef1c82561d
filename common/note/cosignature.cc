#include "common/note/cosignature.h"

#include "common/note/encoding.h"

namespace probity::note {
namespace {

constexpr uint64_t kMaxTimestamp = (uint64_t{1} << 63) - 1;
constexpr size_t kCosignatureSize = 4 + 8 + 64;

}  // namespace

std::string CosignedMessage(std::string_view checkpoint_text, uint64_t timestamp) {
  std::string m = "cosignature/v1\ntime " + std::to_string(timestamp) + "\n";
  m.append(checkpoint_text);
  return m;
}

StatusOr<std::string> Cosign(const Signer& cosigner, std::string_view checkpoint_text,
                             uint64_t timestamp) {
  if (cosigner.alg() != kAlgCosignatureV1) {
    return FailedPrecondition("cosignature: " + cosigner.name() + " is not a cosigner key");
  }
  if (timestamp == 0 || timestamp > kMaxTimestamp) {
    return InvalidArgument("cosignature: timestamp " + std::to_string(timestamp) +
                           " is out of range");
  }
  PROBITY_ASSIGN_OR_RETURN(std::string sig,
                           cosigner.SignRaw(CosignedMessage(checkpoint_text, timestamp)));
  std::string raw;
  raw.reserve(kCosignatureSize);
  for (int i = 3; i >= 0; --i) raw.push_back(static_cast<char>(cosigner.key_hash() >> (8 * i)));
  for (int i = 7; i >= 0; --i) raw.push_back(static_cast<char>(timestamp >> (8 * i)));
  raw.append(sig);
  return "\xE2\x80\x94 " + cosigner.name() + " " + internal::Base64Encode(raw) + "\n";
}

StatusOr<uint64_t> VerifyCosignature(const Verifier& cosigner, std::string_view checkpoint_text,
                                     const Signature& line) {
  if (cosigner.alg() != kAlgCosignatureV1) {
    return FailedPrecondition("cosignature: " + cosigner.name() + " is not a cosigner key");
  }
  if (line.name != cosigner.name() || line.key_hash != cosigner.key_hash()) {
    return NotFound("cosignature: not by " + cosigner.name());
  }
  const auto raw = internal::Base64DecodeStrict(line.base64);
  if (!raw || raw->size() != kCosignatureSize) {
    return InvalidArgument("cosignature by " + cosigner.name() + " is not " +
                           std::to_string(kCosignatureSize) + " bytes");
  }
  uint32_t in_bytes = 0;
  for (size_t i = 0; i < 4; ++i) in_bytes = (in_bytes << 8) | static_cast<uint8_t>((*raw)[i]);
  if (in_bytes != cosigner.key_hash()) return NotFound("cosignature: not by " + cosigner.name());
  uint64_t t = 0;
  for (size_t i = 4; i < 12; ++i) t = (t << 8) | static_cast<uint8_t>((*raw)[i]);
  if (t == 0 || t > kMaxTimestamp) {
    return InvalidArgument("cosignature by " + cosigner.name() + ": timestamp " +
                           std::to_string(t) + " is out of range");
  }
  if (!cosigner.Verify(CosignedMessage(checkpoint_text, t), std::string_view(*raw).substr(12))) {
    return DataLoss("cosignature by " + cosigner.name() + " does not verify");
  }
  return t;
}

}  // namespace probity::note
