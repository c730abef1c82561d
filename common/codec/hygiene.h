// Schema hygiene of a parsed envelope: every field is one schema version 1 defines and every enum
// holds a number its enum defines, at any depth. The binary parser keeps unknown fields and
// proto3 keeps unknown enum numbers; Probity rejects both (docs/events.md, "Encodings").
#pragma once

#include <vector>

#include "common/codec/rejection.h"
#include "probity/v1/events.pb.h"

namespace google::protobuf {
class Descriptor;
}  // namespace google::protobuf

namespace probity::codec::internal {

// The envelope's message type and every message type reachable from it through its fields, each
// once, the envelope first. Computed once; the reference lives for the process.
const std::vector<const google::protobuf::Descriptor*>& ReachableMessageTypes();

// UNKNOWN_FIELD for the first message (in field order) with a field schema version 1 does not
// define, UNKNOWN_ENUM_VALUE for the first enum field holding a number outside its enum; nullopt
// for a clean envelope. Clean envelopes are recognised through the generated code, without
// reflection or allocation, when internal::FastCheckCoversSchema() (codec_internal.h); the
// rejection is always the reflection walk's.
Result CheckWholeMessage(const v1::Envelope& env);

}  // namespace probity::codec::internal
