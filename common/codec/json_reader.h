// A reader of JSON text that checks what the protobuf JSON parser lets through (docs/events.md,
// "Encodings"). It reads the bytes themselves, not the parsed message, so it sees what the parser
// hides: which keys an object spelled, and how.
#pragma once

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

}  // namespace probity::codec::internal
