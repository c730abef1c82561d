// The rules shared by many fields (docs/events.md, "Validation"): identifiers, text, ODS codes,
// digests, required enums, numeric bounds and timestamps. Each check returns nullopt when the
// field is acceptable, else the rejection naming `field` and its (quoted) value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/codec/codec.h"
#include "common/codec/rejection.h"

namespace google::protobuf {
class EnumDescriptor;
class Timestamp;
}  // namespace google::protobuf

namespace probity::codec::internal {

// Limits on string fields (bytes).
constexpr size_t kMaxIdLength = 128;     // ids and references
constexpr size_t kMaxCodeLength = 32;    // service / indicator codes
constexpr size_t kMaxNameLength = 256;   // names, specialties, peer groups, decided_by
constexpr size_t kMaxTextLength = 4096;  // free text: reasons, summaries

constexpr int64_t kMicrosPerSecond = 1000000;

// FIELD_TOO_LONG when `value` is over `max_len` bytes.
Result CheckLength(std::string_view field, std::string_view value, size_t max_len);

// MISSING_FIELD when `value` is empty.
Result CheckRequired(std::string_view field, std::string_view value);

// An identifier: 1..max_len visible ASCII characters (0x21-0x7e: no spaces, no control bytes).
// Empty is acceptable unless `required`.
Result CheckId(std::string_view field, std::string_view value, bool required,
               size_t max_len = kMaxIdLength);

// Free text: any UTF-8 (the parser has already checked the encoding), bounded in length.
Result CheckText(std::string_view field, std::string_view value, bool required, size_t max_len);

// An ODS practice code: an uppercase letter and five digits.
Result CheckOds(std::string_view field, std::string_view value, bool required);

// Other organisation codes (provider, region, ICB, sub-ICB): 3 to 6 uppercase letters or digits;
// empty is acceptable.
Result CheckOrgCode(std::string_view field, std::string_view value);

// Lowercase hex SHA-256: exactly 64 of [0-9a-f].
Result CheckHexDigest(std::string_view field, std::string_view value, bool required);

// A required enum must not be its UNSPECIFIED (0) value. Values outside the enum are rejected
// earlier, for every enum field, by CheckWholeMessage() (hygiene.h).
Result CheckEnumSet(std::string_view field, int value,
                    const google::protobuf::EnumDescriptor* type);

// VALUE_OUT_OF_RANGE unless lo <= value <= hi.
Result CheckRange(std::string_view field, int64_t value, int64_t lo, int64_t hi);

// NON_FINITE_NUMBER for NaN and infinities.
Result CheckFinite(std::string_view field, double value);

// A finite double in [lo, hi]; with `lo_exclusive`, in (lo, hi].
Result CheckDoubleRange(std::string_view field, double value, double lo, double hi,
                        bool lo_exclusive = false);

enum class Future { kAllowed, kBounded };

// A timestamp that is set must be within Timestamp's range, have nanos in [0, 1e9), be no
// earlier than 2000-01-01 and, for kBounded, no later than now + max_future_skew. On success
// stores its value in *out (untouched when the field is unset and not required).
Result CheckTimestamp(std::string_view field, bool has, const google::protobuf::Timestamp& ts,
                      bool required, Future future, const Policy& policy, Micros now, Micros* out);

// `later` must be strictly after `earlier` (TIMESTAMPS_OUT_OF_ORDER).
Result CheckOrder(std::string_view earlier_field, Micros earlier, std::string_view later_field,
                  Micros later);

}  // namespace probity::codec::internal
