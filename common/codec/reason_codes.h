// The catalogue of reason codes a rejected input message can carry (DeadLetter.reason_code and
// the `reason` label of ingest's rejection metric). Codes are stable: a code MUST NOT be renamed
// or reused for a different failure; a new failure gets a new code, added here, to the catalogue
// below and to docs/events.md. What each code means is documented in docs/events.md.
#pragma once

#include <array>
#include <string_view>

namespace probity::codec::reason {

// Decoding: the bytes and their header.
inline constexpr std::string_view kMessageTooLarge = "MESSAGE_TOO_LARGE";
inline constexpr std::string_view kUnsupportedContentType = "UNSUPPORTED_CONTENT_TYPE";
inline constexpr std::string_view kEmptyMessage = "EMPTY_MESSAGE";
inline constexpr std::string_view kMalformedProtobuf = "MALFORMED_PROTOBUF";
inline constexpr std::string_view kMalformedJson = "MALFORMED_JSON";
inline constexpr std::string_view kUnknownField = "UNKNOWN_FIELD";
// The envelope.
inline constexpr std::string_view kUnknownTopic = "UNKNOWN_TOPIC";
inline constexpr std::string_view kMissingField = "MISSING_FIELD";
inline constexpr std::string_view kFieldTooLong = "FIELD_TOO_LONG";
inline constexpr std::string_view kInvalidIdentifier = "INVALID_IDENTIFIER";
inline constexpr std::string_view kUnsupportedSchemaVersion = "UNSUPPORTED_SCHEMA_VERSION";
inline constexpr std::string_view kKindPayloadMismatch = "KIND_PAYLOAD_MISMATCH";
inline constexpr std::string_view kWrongTopic = "WRONG_TOPIC";
inline constexpr std::string_view kUnknownEnumValue = "UNKNOWN_ENUM_VALUE";
inline constexpr std::string_view kInvalidOdsCode = "INVALID_ODS_CODE";
inline constexpr std::string_view kInvalidOrgCode = "INVALID_ORG_CODE";
inline constexpr std::string_view kInvalidTimestamp = "INVALID_TIMESTAMP";
inline constexpr std::string_view kTimestampTooEarly = "TIMESTAMP_TOO_EARLY";
inline constexpr std::string_view kTimestampInFuture = "TIMESTAMP_IN_FUTURE";
inline constexpr std::string_view kRecordedBeforeOccurred = "RECORDED_BEFORE_OCCURRED";
inline constexpr std::string_view kTimestampsOutOfOrder = "TIMESTAMPS_OUT_OF_ORDER";
inline constexpr std::string_view kSupersedesItself = "SUPERSEDES_ITSELF";
// Payloads.
inline constexpr std::string_view kValueOutOfRange = "VALUE_OUT_OF_RANGE";
inline constexpr std::string_view kNonFiniteNumber = "NON_FINITE_NUMBER";
inline constexpr std::string_view kAmountMismatch = "AMOUNT_MISMATCH";
inline constexpr std::string_view kInvalidUbrn = "INVALID_UBRN";
inline constexpr std::string_view kInvalidTreatmentFunctionCode = "INVALID_TREATMENT_FUNCTION_CODE";
inline constexpr std::string_view kMergedFromSelf = "MERGED_FROM_SELF";
inline constexpr std::string_view kInvalidHexDigest = "INVALID_HEX_DIGEST";
inline constexpr std::string_view kRuleSetHashMismatch = "RULE_SET_HASH_MISMATCH";
inline constexpr std::string_view kPolicyHashMismatch = "POLICY_HASH_MISMATCH";

// Every code above, once each, in this order.
inline constexpr std::array<std::string_view, 31> kAll = {
    kMessageTooLarge,
    kUnsupportedContentType,
    kEmptyMessage,
    kMalformedProtobuf,
    kMalformedJson,
    kUnknownField,
    kUnknownTopic,
    kMissingField,
    kFieldTooLong,
    kInvalidIdentifier,
    kUnsupportedSchemaVersion,
    kKindPayloadMismatch,
    kWrongTopic,
    kUnknownEnumValue,
    kInvalidOdsCode,
    kInvalidOrgCode,
    kInvalidTimestamp,
    kTimestampTooEarly,
    kTimestampInFuture,
    kRecordedBeforeOccurred,
    kTimestampsOutOfOrder,
    kSupersedesItself,
    kValueOutOfRange,
    kNonFiniteNumber,
    kAmountMismatch,
    kInvalidUbrn,
    kInvalidTreatmentFunctionCode,
    kMergedFromSelf,
    kInvalidHexDigest,
    kRuleSetHashMismatch,
    kPolicyHashMismatch,
};

}  // namespace probity::codec::reason
