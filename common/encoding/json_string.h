// A string as a JSON string literal (RFC 8259): the one escaper of the few writers that still
// build JSON text by hand (the Alertmanager body, the truth file, the score report). New JSON
// output MUST NOT add to them: it goes through a protobuf message and codec::ToJson.
// Pure, header-only.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace probity::encoding {

// Appends `s` in double quotes: '"' and '\' backslash-escaped, newline, carriage return and tab
// as \n, \r, \t, other bytes below 0x20 as \u00XX; every other byte (UTF-8 included) as is.
inline void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          out->append(buf);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

// AppendJsonString into a new string.
inline std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

}  // namespace probity::encoding
