// Feeds arbitrary bytes through codec::Decode on every input topic and in every encoding
// (fuzz_input.h says how the first byte chooses). Decode must return either an envelope that
// passes Validate, or a rejection whose code is in the catalogue and whose message is a non-empty
// line of printable ASCII. Anything else aborts.
#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "common/codec/codec.h"
#include "tests/common/codec/fuzz_input.h"

namespace {

bool PrintableLine(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace probity::codec;
  if (size == 0) return 0;
  static const std::vector<std::string_view> kCodes = AllReasonCodes();
  fuzz::Input in = fuzz::Split(data, size);
  Policy policy;
  // Reading stored bytes back never crashes, whatever they are.
  auto stored_binary = ParseStored(in.value, ContentType::kProtobuf);
  auto stored_json = ParseStored(in.value, ContentType::kJson);
  auto result = Decode(in.topic, in.value, in.header, policy, fuzz::kNow);
  if (auto* d = std::get_if<Decoded>(&result)) {
    if (Validate(in.topic, d->envelope, policy, fuzz::kNow).has_value()) std::abort();
    // What Decode accepted, ParseStored reads back to the same envelope.
    const auto& stored = d->content_type == ContentType::kJson ? stored_json : stored_binary;
    if (!stored.ok() || stored->SerializeAsString() != d->envelope.SerializeAsString()) {
      std::abort();
    }
    // The decoded envelope must survive re-encoding in both encodings.
    std::string binary = d->envelope.SerializeAsString();
    if (!std::holds_alternative<Decoded>(
            Decode(in.topic, binary, std::nullopt, policy, fuzz::kNow))) {
      std::abort();
    }
    std::string json = ToJson(d->envelope);
    if (json.empty()) std::abort();
    if (!std::holds_alternative<Decoded>(
            Decode(in.topic, json, "application/json", policy, fuzz::kNow))) {
      std::abort();
    }
    return 0;
  }
  const Rejection& r = std::get<Rejection>(result);
  if (r.reason_code.empty() || r.message.empty() || !PrintableLine(r.message)) std::abort();
  if (std::find(kCodes.begin(), kCodes.end(), r.reason_code) == kCodes.end()) std::abort();
  return 0;
}
