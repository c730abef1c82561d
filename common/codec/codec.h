// Decoding and validation of the messages that arrive on Probity's input topics.
//
// A Kafka message value on an input topic is a probity.v1.Envelope, as binary protobuf or in the
// protobuf JSON mapping, chosen by the message's `content-type` header. Decode() turns the bytes
// into an Envelope and runs Validate() on it; every message either decodes into an envelope that
// ingest may append to the log, or is rejected with a stable reason code (the catalogue is
// AllReasonCodes()) and a human message naming the field and value. docs/events.md describes
// every rule and every reason code. Entries already in the log are read back with ParseStored(),
// which validates nothing.
//
// Everything here is a pure function of its arguments: time comes in as `now`, nothing reads the
// wall clock, nothing throws, and no input bytes can crash it (tests/common/codec/codec_fuzz.cc).
// All functions are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status/status.h"
#include "common/time/clock.h"
#include "probity/v1/events.pb.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace probity::codec {

// How a message value is encoded.
enum class ContentType {
  kProtobuf,  // binary protobuf wire format (the default when there is no header)
  kJson,      // the protobuf JSON mapping, UTF-8
};

// Why a message was refused. `reason_code` is one of AllReasonCodes() (UPPER_SNAKE, stable: it is
// a metric label and dead-letter field, never reworded); `message` is one line of printable ASCII
// for a person, naming the field and the offending value (values are quoted, escaped and
// truncated, so any input bytes give a safe message).
struct Rejection {
  std::string reason_code;
  std::string message;
};

// Limits. The defaults are the production values; config may override them. All bounds are
// inclusive. REQUIRES: every limit >= 0.
struct Policy {
  size_t max_message_bytes = 1 << 20;              // whole Kafka value
  Micros max_future_skew = 24LL * 3600 * 1000000;  // timestamps may be this far after now
  int64_t max_amount_pence = 1'000'000'000;        // £10,000,000 (claims, instructions)
  int64_t max_quantity = 10'000'000;               // claim quantity and eligible cohort
  int64_t max_list_size = 1'000'000;               // practice list size
  double max_weighted_list_size = 2'000'000.0;     // Carr-Hill weighted list size
  uint32_t max_contact_count = 100'000;            // PatientContact.count
  size_t max_rule_set_bytes = 512 * 1024;          // RuleSetPublished.yaml_content
  size_t max_flag_evidence = 10'000;               // Flag.evidence entries
};

// A successfully decoded and validated envelope.
struct Decoded {
  probity::v1::Envelope envelope;
  ContentType content_type;
};

// Maps a `content-type` header value to an encoding. Absent (nullopt) means binary protobuf.
// Accepted, case-insensitively and with optional whitespace and `;` parameters:
//   application/x-protobuf, application/protobuf, application/vnd.google.protobuf -> kProtobuf
//   application/json (a charset parameter, if present, must be utf-8)            -> kJson
// Anything else, including an empty value, is UNSUPPORTED_CONTENT_TYPE.
std::variant<ContentType, Rejection> ParseContentType(std::optional<std::string_view> header);

// Decodes `value` received on `topic` and validates it with Validate(). Returns the envelope and
// its encoding, or the first reason it is unacceptable. Checks, in order: size, content type,
// parse (binary: wire format, valid UTF-8 in strings; JSON: no raw control characters in strings,
// then syntax, no unknown fields, known enum names, then no field given twice in one object),
// non-empty envelope, then Validate(). MUST NOT throw or crash on any bytes; a returned
// Decoded always passes Validate(topic, envelope, policy, now).
std::variant<Decoded, Rejection> Decode(std::string_view topic, std::string_view value,
                                        std::optional<std::string_view> content_type_header,
                                        const Policy& policy, Micros now);

// Parses a payload as the audit log stores it (LogRecord.payload, with its content type) back into
// its envelope, for followers reading entries that were judged when they arrived. It validates
// nothing: no size limit, no Validate(), none of Decode()'s checks of the JSON text (raw control
// characters, fields given twice), so an entry accepted by an earlier, more lenient codec still
// reads after validation has been tightened. It is lenient where the schema may have moved on too:
// JSON field names and enum names the compiled schema does not define are skipped, and the binary
// parse keeps unknown fields and enum numbers as protobuf does. Returns the envelope, or DATA_LOSS
// only when the bytes do not parse as an envelope in `content_type` at all (the log MUST NOT hold
// such an entry). MUST NOT throw or crash on any bytes. Input from outside the log goes through
// Decode(), never through this.
StatusOr<probity::v1::Envelope> ParseStored(std::string_view payload, ContentType content_type);

// Checks an envelope against the domain rules of validity for `topic` (docs/events.md, section
// "Validation"): returns nullopt if it is acceptable, else the first failure found. Envelopes
// with unknown fields (from a binary parse) or enum numbers outside their enum are rejected.
// `now` is the ingest time used for future-skew checks.
std::optional<Rejection> Validate(std::string_view topic, const probity::v1::Envelope& envelope,
                                  const Policy& policy, Micros now);

// The protobuf JSON mapping of `message`, for CLI output and dead-letter inspection: proto field
// names (snake_case), fields in field-number order, default values omitted, one line. The same
// message always gives the same string. Returns "" only if the message cannot be printed (never
// for probity.v1 messages).
std::string ToJson(const google::protobuf::Message& message);
struct JsonOptions {
  bool print_defaults = false;  // print fields at their default value too (fixed-shape bodies)
};
std::string ToJson(const google::protobuf::Message& message, const JsonOptions& options);

// Every reason code Decode() and Validate() can return, each exactly once, in catalogue order
// (docs/events.md lists them in this order). The views point at static storage.
std::vector<std::string_view> AllReasonCodes();

// The short lowercase name of an event kind, the enum name without "EVENT_KIND_" ("claim",
// "patient_contact"); "unknown" for EVENT_KIND_UNSPECIFIED and values outside the enum.
std::string_view ShortKindName(probity::v1::EventKind kind);
// "claim", "CLAIM" or "EVENT_KIND_CLAIM" -> the kind; nullopt for anything else, including
// "unspecified".
std::optional<probity::v1::EventKind> ParseKind(std::string_view name);

}  // namespace probity::codec
