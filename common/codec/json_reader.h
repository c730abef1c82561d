// A reader of JSON text that checks what the protobuf JSON parser lets through (docs/events.md,
// "Encodings"). It reads the bytes themselves, not the parsed message, so it sees what the parser
// hides: which keys an object spelled, and how, and which bytes a string holds raw.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace google::protobuf {
class Descriptor;
}  // namespace google::protobuf

namespace probity::codec::internal {

// Finds a field given twice in one JSON object ({"event_id":"a","eventId":"b"}). The protobuf
// parser keeps the last value silently, while other JSON readers may keep the first, so the
// stored bytes would not mean one thing; such input is rejected. Keys are compared as fields of
// `root` (the message type of the top-level object) and of the message types below it, so a
// proto name and its lowerCamelCase JSON name are the same field; keys outside the schema are
// compared as written (escapes decoded). Returns the path of the first duplicated field
// ("flag.evidence[].event_id"), or "" if there is none. REQUIRES: `json` has already been
// accepted by the protobuf JSON parser (so it is well-formed and nested at most 100 deep).
std::string FindDuplicateKey(std::string_view json, const google::protobuf::Descriptor* root);

// A byte 0x00-0x1f inside a JSON string (a key or a string value). RFC 8259 requires these to be
// escaped (\t, \n, \u0001, ...) and a strict reader refuses them raw; the protobuf JSON parser
// accepts them, so Decode() looks for them first.
struct RawControlCharacter {
  enum class Where {
    kUnknown,  // the text around it could not be followed (it is not well-formed JSON)
    kKey,      // in a key; `path` names that key ("referral.specialty\tcode", escapes decoded)
    kValue,    // in a string value; `path` names its field, "" for a top-level string
  };
  size_t offset = 0;  // of the byte in the text, from 0
  unsigned char byte = 0;
  Where where = Where::kUnknown;
  std::string path;  // fields as FindDuplicateKey() names them
};

// The first raw control character inside a string of `json`, in text order, or nullopt if there
// is none. Raw tabs, line feeds and carriage returns between tokens are whitespace, not found.
// Paths are named through `root` as in FindDuplicateKey(). Any bytes are safe: unlike
// FindDuplicateKey() this needs no prior parse, and on malformed or deeply nested text it still
// finds the byte (with Where::kUnknown where the walk cannot reach it). One pass over the text
// when there is none; a second pass only to name the place of one found.
std::optional<RawControlCharacter> FindRawControlCharacter(
    std::string_view json, const google::protobuf::Descriptor* root);

}  // namespace probity::codec::internal
