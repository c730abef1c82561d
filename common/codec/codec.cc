// Decode(): bytes and header to a validated envelope, checking in the order codec.h gives.
#include "common/codec/codec.h"

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/json_util.h>

#include <climits>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>

#include "common/codec/codec_internal.h"
#include "common/codec/escape.h"
#include "common/codec/json_reader.h"
#include "common/codec/reason_codes.h"
#include "common/codec/rejection.h"

namespace probity::codec {

namespace pb = ::google::protobuf;
namespace v1 = ::probity::v1;
using internal::Quote;
using internal::Reject;
using internal::Result;
using internal::Sanitize;

namespace {

std::string RawControlCharacterMessage(const internal::RawControlCharacter& cc) {
  char byte[8];
  std::snprintf(byte, sizeof(byte), "0x%02x", cc.byte);
  std::string where;
  switch (cc.where) {
    case internal::RawControlCharacter::Where::kKey:
      where = "in key " + Quote(cc.path);
      break;
    case internal::RawControlCharacter::Where::kValue:
      where = cc.path.empty() ? "in a string value" : "in the value of " + Quote(cc.path);
      break;
    case internal::RawControlCharacter::Where::kUnknown:
      where = "in a string";
      break;
  }
  return "JSON has a raw control character " + std::string(byte) + " at byte offset " +
         std::to_string(cc.offset) + ", " + where +
         "; RFC 8259 requires U+0000..U+001F inside strings to be escaped (e.g. \\t, \\u0001)";
}

// The binary parse. REQUIRES: value.size() <= INT_MAX. The parser logs invalid UTF-8 at ERROR;
// callers report the failure themselves, so it is silenced.
bool ParseBinary(std::string_view value, v1::Envelope* envelope) {
  pb::LogSilencer silence;
  return envelope->ParseFromArray(value.data(), static_cast<int>(value.size()));
}

// JSON parse options that skip field names and enum value names the schema does not define.
pb::util::JsonParseOptions LenientJson() {
  pb::util::JsonParseOptions lenient;
  lenient.ignore_unknown_fields = true;
  return lenient;
}

}  // namespace

std::variant<Decoded, Rejection> Decode(std::string_view topic, std::string_view value,
                                        std::optional<std::string_view> content_type_header,
                                        const Policy& policy, Micros now) {
  if (value.size() > policy.max_message_bytes || value.size() > static_cast<size_t>(INT_MAX)) {
    return Reject(reason::kMessageTooLarge, "message is " + std::to_string(value.size()) +
                                                " bytes, over the limit of " +
                                                std::to_string(policy.max_message_bytes));
  }
  std::variant<ContentType, Rejection> ct = ParseContentType(content_type_header);
  if (auto* r = std::get_if<Rejection>(&ct)) return std::move(*r);
  Decoded out{v1::Envelope(), std::get<ContentType>(ct)};
  if (value.empty()) return Reject(reason::kEmptyMessage, "message value is empty");

  if (out.content_type == ContentType::kProtobuf) {
    if (!ParseBinary(value, &out.envelope)) {
      return Reject(reason::kMalformedProtobuf,
                    "message value (" + std::to_string(value.size()) +
                        " bytes) is not a binary protobuf probity.v1.Envelope (bad wire format "
                        "or invalid UTF-8 in a string field)");
    }
  } else {
    try {
      // Syntax the parser lets through, checked before it so that it is reported as what it is.
      if (std::optional<internal::RawControlCharacter> cc =
              internal::FindRawControlCharacter(value, v1::Envelope::descriptor())) {
        return Reject(reason::kMalformedJson, RawControlCharacterMessage(*cc));
      }
      pb::util::JsonParseOptions strict;  // ignore_unknown_fields = false
      pb::util::Status st = internal::JsonToEnvelope(value, &out.envelope, strict);
      if (!st.ok()) {
        std::string detail = Sanitize(std::string(st.message()));
        // The parser reports unknown fields and unknown enum names in its message only; tell
        // them apart from malformed JSON by whether a lenient parse succeeds.
        v1::Envelope scratch;
        bool lenient_ok = internal::JsonToEnvelope(value, &scratch, LenientJson()).ok();
        // A lenient parse relaxes exactly two things: unknown field names ("Cannot find
        // field") and unknown enum value names.
        if (lenient_ok && detail.find("Cannot find field") != std::string::npos) {
          return Reject(reason::kUnknownField,
                        "JSON has a field schema version 1 does not define: " + detail);
        }
        if (lenient_ok) {
          return Reject(reason::kUnknownEnumValue,
                        "JSON has an enum value schema version 1 does not define: " + detail);
        }
        return Reject(
            reason::kMalformedJson,
            "message value is not a probity.v1.Envelope in the protobuf JSON mapping: " + detail);
      }
      std::string dup = internal::FindDuplicateKey(value, v1::Envelope::descriptor());
      if (!dup.empty()) {
        return Reject(reason::kMalformedJson,
                      "JSON gives field " + Quote(dup) +
                          " more than once in one object; each field may appear once");
      }
    } catch (...) {
      return Reject(reason::kMalformedJson, "message value could not be parsed as JSON");
    }
  }
  if (out.envelope.ByteSizeLong() == 0) {
    return Reject(reason::kEmptyMessage, "message decodes to an empty envelope (no fields set)");
  }
  if (Result r = Validate(topic, out.envelope, policy, now)) return std::move(*r);
  return out;
}

Status ParseStoredInto(std::string_view payload, ContentType content_type, v1::Envelope* envelope) {
  envelope->Clear();
  if (payload.size() > static_cast<size_t>(INT_MAX)) {
    return DataLoss("stored payload is " + std::to_string(payload.size()) +
                    " bytes, more than an envelope can be");
  }
  if (content_type == ContentType::kProtobuf) {
    if (!ParseBinary(payload, envelope)) {
      return DataLoss("stored payload (" + std::to_string(payload.size()) +
                      " bytes) is not a binary protobuf probity.v1.Envelope");
    }
    return Status::Ok();
  }
  try {
    pb::util::Status st = internal::JsonToEnvelope(payload, envelope, LenientJson());
    if (!st.ok()) {
      return DataLoss("stored payload is not a probity.v1.Envelope in the protobuf JSON mapping: " +
                      Sanitize(std::string(st.message())));
    }
  } catch (...) {
    return DataLoss("stored payload could not be parsed as JSON");
  }
  return Status::Ok();
}

StatusOr<v1::Envelope> ParseStored(std::string_view payload, ContentType content_type) {
  v1::Envelope envelope;
  PROBITY_RETURN_IF_ERROR(ParseStoredInto(payload, content_type, &envelope));
  return envelope;
}

std::vector<std::string_view> AllReasonCodes() {
  return std::vector<std::string_view>(reason::kAll.begin(), reason::kAll.end());
}

}  // namespace probity::codec
