// Quoting of input bytes inside rejection messages: whatever the input, a message stays one line
// of printable ASCII (codec.h, Rejection).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace probity::codec::internal {

// 'value' with quotes, backslashes and non-printable bytes escaped and long values truncated, so
// a message built from any input stays one line of printable ASCII. Quotes, backslashes become
// \' and \\; bytes outside 0x20-0x7e become \xNN; after `max_chars` input bytes the rest is
// replaced by "...".
std::string Quote(std::string_view value, size_t max_chars = 64);

// Keeps printable ASCII, replaces anything else (protobuf's parser messages may echo input): the
// body of Quote(s, max_chars), without the enclosing quotes.
std::string Sanitize(std::string_view s, size_t max_chars = 300);

}  // namespace probity::codec::internal
