// Internals of the codec that tests and benchmarks look at. Not part of the codec's interface.
#pragma once

#include <google/protobuf/util/json_util.h>

#include <string_view>

#include "probity/v1/events.pb.h"

namespace probity::codec::internal {

// True if the fast whole-message check in hygiene.cc (unknown fields and out-of-range enum numbers,
// read through the generated code) handles every enum- and message-typed field of the schema
// compiled in. When false, Validate() falls back to the reflection-based check for every
// envelope: the same results, only slower. A schema change that adds such a field must extend the
// fast check; codec_test fails until it does.
bool FastCheckCoversSchema();

// Parses the protobuf JSON mapping of an envelope into `envelope` exactly as
// google::protobuf::util::JsonStringToMessage does (same status, same result), with the JSON
// parser's type descriptions cached across calls. May throw what JsonStringToMessage may throw.
google::protobuf::util::Status JsonToEnvelope(
    std::string_view json, probity::v1::Envelope* envelope,
    const google::protobuf::util::JsonParseOptions& options);

}  // namespace probity::codec::internal
