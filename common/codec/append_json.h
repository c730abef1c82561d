// codec::ToJson for a stream of many messages (an api trail's lines): the same printer, appending
// to the caller's buffer instead of returning a string of its own each time. Apart from codec.h
// so that its few callers alone include it.
#pragma once

#include <google/protobuf/message.h>

#include <string>

namespace probity::codec {

// Appends ToJson(message) to *out: the same text, byte for byte.
void AppendJson(const google::protobuf::Message& message, std::string* out);

}  // namespace probity::codec
