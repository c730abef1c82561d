// How the codec's internal checks report: nullopt for acceptable, else the Rejection (codec.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/codec/codec.h"

namespace probity::codec::internal {

using Result = std::optional<Rejection>;

inline Rejection Reject(std::string_view code, std::string message) {
  return Rejection{std::string(code), std::move(message)};
}

// Returns early with the rejection if `expr` produced one.
#define CODEC_RETURN_IF_REJECTED(expr) \
  do {                                 \
    if (Result _r = (expr)) return _r; \
  } while (0)

}  // namespace probity::codec::internal
