// How codec_fuzz interprets its input bytes, shared with codec_test so the committed seed corpus
// is checked to stay valid. Byte 0 selects the topic (byte0 % 9; 8 is a topic ingest does not
// read) and the content-type header ((byte0 / 9) % 4: absent, binary, JSON, unsupported); the
// rest is the Kafka message value.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/bus/topics.h"
#include "common/time/clock.h"

namespace probity::codec::fuzz {

// The ingest time every fuzz input is judged at: 2024-06-01T00:00:00Z.
inline constexpr Micros kNow = 1717200000LL * 1000000;

inline constexpr std::array<std::string_view, 9> kTopics = {
    bus::kClaimsTopic,         bus::kReferralsTopic,
    bus::kVisitsTopic,         bus::kPracticesTopic,
    bus::kRuleSetsTopic,       bus::kFlagsTopic,
    bus::kDecisionsTopic,      bus::kPaymentInstructionsTopic,
    "probity.not-an-input.v1",
};

inline constexpr std::array<std::optional<std::string_view>, 4> kHeaders = {
    std::nullopt,
    std::optional<std::string_view>("application/x-protobuf"),
    std::optional<std::string_view>("application/json; charset=utf-8"),
    std::optional<std::string_view>("text/plain"),
};

struct Input {
  std::string_view topic;
  std::optional<std::string_view> header;
  std::string_view value;
};

// REQUIRES: size >= 1.
inline Input Split(const uint8_t* data, size_t size) {
  return Input{kTopics[data[0] % 9], kHeaders[(data[0] / 9) % 4],
               std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1)};
}

// The selector byte for a topic index (0..8) and header index (0..3).
inline constexpr uint8_t Selector(int topic, int header) {
  return static_cast<uint8_t>(topic + 9 * header);
}

}  // namespace probity::codec::fuzz
