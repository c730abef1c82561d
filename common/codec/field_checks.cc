#include "common/codec/field_checks.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/timestamp.pb.h>

#include <cmath>
#include <cstdio>

#include "common/codec/ascii.h"
#include "common/codec/escape.h"
#include "common/codec/reason_codes.h"
#include "common/time/civil.h"
#include "common/time/proto_time.h"

namespace probity::codec::internal {
namespace {

namespace pb = ::google::protobuf;

constexpr int64_t kMinSeconds = -62135596800;    // 0001-01-01T00:00:00Z, Timestamp's own range
constexpr int64_t kMaxSeconds = 253402300799;    // 9999-12-31T23:59:59Z
constexpr int64_t kEarliestSeconds = 946684800;  // 2000-01-01T00:00:00Z

bool IsOdsPracticeCode(std::string_view v) {
  if (v.size() != 6 || !IsUpper(v[0])) return false;
  for (size_t i = 1; i < 6; ++i) {
    if (!IsDigit(v[i])) return false;
  }
  return true;
}

std::string FormatDouble(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

std::string FormatTimestamp(const pb::Timestamp& ts) {
  return "{seconds: " + std::to_string(ts.seconds()) + ", nanos: " + std::to_string(ts.nanos()) +
         "}";
}

}  // namespace

Result CheckLength(std::string_view field, std::string_view value, size_t max_len) {
  if (value.size() > max_len) {
    return Reject(reason::kFieldTooLong,
                  std::string(field) + " is " + std::to_string(value.size()) +
                      " bytes, over the limit of " + std::to_string(max_len));
  }
  return std::nullopt;
}

Result CheckRequired(std::string_view field, std::string_view value) {
  if (value.empty()) return Reject(reason::kMissingField, std::string(field) + " is required");
  return std::nullopt;
}

Result CheckId(std::string_view field, std::string_view value, bool required, size_t max_len) {
  if (value.empty()) {
    return required ? CheckRequired(field, value) : std::nullopt;
  }
  CODEC_RETURN_IF_REJECTED(CheckLength(field, value, max_len));
  for (unsigned char c : value) {
    if (!IsVisibleAscii(c)) {
      return Reject(reason::kInvalidIdentifier,
                    std::string(field) + " " + Quote(value) +
                        " must be printable ASCII without spaces (0x21-0x7e)");
    }
  }
  return std::nullopt;
}

Result CheckText(std::string_view field, std::string_view value, bool required, size_t max_len) {
  if (required) CODEC_RETURN_IF_REJECTED(CheckRequired(field, value));
  return CheckLength(field, value, max_len);
}

Result CheckOds(std::string_view field, std::string_view value, bool required) {
  if (value.empty()) return required ? CheckRequired(field, value) : std::nullopt;
  if (!IsOdsPracticeCode(value)) {
    return Reject(reason::kInvalidOdsCode,
                  std::string(field) + " " + Quote(value) +
                      " is not an ODS practice code (an uppercase letter and five digits, e.g. "
                      "A81001)");
  }
  return std::nullopt;
}

Result CheckOrgCode(std::string_view field, std::string_view value) {
  if (value.empty()) return std::nullopt;
  bool ok = value.size() >= 3 && value.size() <= 6;
  for (char c : value) ok = ok && (IsUpper(c) || IsDigit(c));
  if (!ok) {
    return Reject(reason::kInvalidOrgCode,
                  std::string(field) + " " + Quote(value) +
                      " is not an ODS organisation code (3 to 6 uppercase letters or digits)");
  }
  return std::nullopt;
}

Result CheckHexDigest(std::string_view field, std::string_view value, bool required) {
  if (value.empty()) return required ? CheckRequired(field, value) : std::nullopt;
  bool ok = value.size() == 64;
  for (char c : value) ok = ok && IsLowerHex(c);
  if (!ok) {
    return Reject(reason::kInvalidHexDigest,
                  std::string(field) + " " + Quote(value) +
                      " is not a SHA-256 in lowercase hex (64 of 0-9a-f)");
  }
  return std::nullopt;
}

Result CheckEnumSet(std::string_view field, int value, const pb::EnumDescriptor* type) {
  if (value == 0) {
    const pb::EnumValueDescriptor* zero = type->FindValueByNumber(0);
    return Reject(reason::kMissingField, std::string(field) + " is required (got " +
                                             (zero ? zero->name() : std::string("0")) + ")");
  }
  return std::nullopt;
}

Result CheckRange(std::string_view field, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) {
    return Reject(reason::kValueOutOfRange, std::string(field) + " " + std::to_string(value) +
                                                " is outside " + std::to_string(lo) + ".." +
                                                std::to_string(hi));
  }
  return std::nullopt;
}

Result CheckFinite(std::string_view field, double value) {
  if (!std::isfinite(value)) {
    return Reject(reason::kNonFiniteNumber,
                  std::string(field) + " " + FormatDouble(value) + " is not a finite number");
  }
  return std::nullopt;
}

Result CheckDoubleRange(std::string_view field, double value, double lo, double hi,
                        bool lo_exclusive) {
  CODEC_RETURN_IF_REJECTED(CheckFinite(field, value));
  bool below = lo_exclusive ? value <= lo : value < lo;
  if (below || value > hi) {
    return Reject(reason::kValueOutOfRange, std::string(field) + " " + FormatDouble(value) +
                                                " is outside " + (lo_exclusive ? "(" : "[") +
                                                FormatDouble(lo) + ", " + FormatDouble(hi) + "]");
  }
  return std::nullopt;
}

Result CheckTimestamp(std::string_view field, bool has, const pb::Timestamp& ts, bool required,
                      Future future, const Policy& policy, Micros now, Micros* out) {
  if (!has) {
    if (required) return Reject(reason::kMissingField, std::string(field) + " is required");
    return std::nullopt;
  }
  if (ts.seconds() < kMinSeconds || ts.seconds() > kMaxSeconds || ts.nanos() < 0 ||
      ts.nanos() > 999999999) {
    return Reject(reason::kInvalidTimestamp,
                  std::string(field) + " " + FormatTimestamp(ts) +
                      " is not a valid timestamp (0001-01-01..9999-12-31, nanos 0..999999999)");
  }
  Micros m = FromTimestamp(ts);
  if (ts.seconds() < kEarliestSeconds) {
    return Reject(reason::kTimestampTooEarly, std::string(field) + " " + civil::FormatRfc3339(m) +
                                                  " is before 2000-01-01T00:00:00Z");
  }
  if (future == Future::kBounded) {
    Micros ahead;
    bool overflow = __builtin_sub_overflow(m, now, &ahead);
    if (overflow ? m > now : ahead > policy.max_future_skew) {
      return Reject(reason::kTimestampInFuture,
                    std::string(field) + " " + civil::FormatRfc3339(m) + " is more than " +
                        std::to_string(policy.max_future_skew / kMicrosPerSecond) +
                        " s after the time of ingest");
    }
  }
  *out = m;
  return std::nullopt;
}

Result CheckOrder(std::string_view earlier_field, Micros earlier, std::string_view later_field,
                  Micros later) {
  if (later <= earlier) {
    return Reject(reason::kTimestampsOutOfOrder,
                  std::string(later_field) + " " + civil::FormatRfc3339(later) + " must be after " +
                      std::string(earlier_field) + " " + civil::FormatRfc3339(earlier));
  }
  return std::nullopt;
}

}  // namespace probity::codec::internal
