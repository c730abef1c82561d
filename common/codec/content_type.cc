// ParseContentType(): the `content-type` header to an encoding (docs/events.md, "Encodings").
#include <string>

#include "common/codec/ascii.h"
#include "common/codec/codec.h"
#include "common/codec/escape.h"
#include "common/codec/reason_codes.h"
#include "common/codec/rejection.h"

namespace probity::codec {
namespace {

using internal::Lower;
using internal::Quote;
using internal::Reject;

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::variant<ContentType, Rejection> ParseContentType(std::optional<std::string_view> header) {
  if (!header.has_value()) return ContentType::kProtobuf;
  std::string_view h = *header;
  size_t semi = h.find(';');
  std::string media = ToLower(Trim(h.substr(0, semi)));
  std::string_view params = semi == std::string_view::npos ? std::string_view() : h.substr(semi);
  auto unsupported = [&](std::string why) {
    return Reject(reason::kUnsupportedContentType, "content-type " + Quote(h) + " " + why);
  };
  if (media == "application/x-protobuf" || media == "application/protobuf" ||
      media == "application/vnd.google.protobuf") {
    return ContentType::kProtobuf;
  }
  if (media != "application/json") {
    return unsupported(
        "is not supported; use application/x-protobuf (or no header) for binary protobuf, or "
        "application/json");
  }
  // Parameters: `; name=value` pairs. Only charset is interpreted; it must be UTF-8.
  while (!params.empty()) {
    params.remove_prefix(1);  // the ';'
    size_t next = params.find(';');
    std::string_view param = Trim(params.substr(0, next));
    params = next == std::string_view::npos ? std::string_view() : params.substr(next);
    if (param.empty()) continue;
    size_t eq = param.find('=');
    if (eq == std::string_view::npos) return unsupported("has a malformed parameter");
    std::string name = ToLower(Trim(param.substr(0, eq)));
    std::string_view value = Trim(param.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (name == "charset" && ToLower(value) != "utf-8" && ToLower(value) != "utf8") {
      return unsupported("has a charset other than utf-8; the JSON mapping is UTF-8 only");
    }
  }
  return ContentType::kJson;
}

}  // namespace probity::codec
