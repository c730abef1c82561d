#include "common/codec/escape.h"

#include <cstdio>

namespace probity::codec::internal {

std::string Quote(std::string_view value, size_t max_chars) {
  std::string out = "'";
  size_t n = 0;
  for (unsigned char c : value) {
    if (n++ == max_chars) {
      out += "...";
      break;
    }
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  out += "'";
  return out;
}

// Keeps printable ASCII, replaces anything else (protobuf's parser messages may echo input).

std::string Sanitize(std::string_view s, size_t max_chars) {
  std::string q = Quote(s, max_chars);
  return q.substr(1, q.size() - 2);
}

}  // namespace probity::codec::internal
