#include "common/note/checkpoint.h"

#include <limits>

#include "common/note/encoding.h"

namespace probity::note {
namespace {

Status Bad(std::string what) { return InvalidArgument("checkpoint: " + std::move(what)); }

Status ValidateLine(std::string_view line, const std::string& what) {
  if (line.empty()) return Bad(what + " is empty");
  if (line.find('\n') != std::string_view::npos) return Bad(what + " contains a newline");
  if (!internal::IsValidNoteText(line)) {
    return Bad(what + " is not valid UTF-8 or contains a control character");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateCheckpoint(const Checkpoint& c) {
  PROBITY_RETURN_IF_ERROR(ValidateLine(c.origin, "origin"));
  for (size_t i = 0; i < c.extensions.size(); ++i) {
    PROBITY_RETURN_IF_ERROR(ValidateLine(c.extensions[i], "extension " + std::to_string(i + 1)));
  }
  return Status::Ok();
}

std::string FormatCheckpoint(const Checkpoint& c) {
  std::string out;
  out.append(c.origin).append("\n");
  out.append(std::to_string(c.size)).append("\n");
  out.append(internal::Base64Encode(
      std::string_view(reinterpret_cast<const char*>(c.root.data()), c.root.size())));
  out.append("\n");
  for (const std::string& e : c.extensions) out.append(e).append("\n");
  return out;
}

StatusOr<Checkpoint> ParseCheckpoint(std::string_view text) {
  if (text.empty() || text.back() != '\n') return Bad("text does not end in a newline");
  if (!internal::IsValidNoteText(text)) {
    return Bad("text is not valid UTF-8 or contains a control character other than newline");
  }
  std::vector<std::string_view> lines;
  for (std::string_view rest = text; !rest.empty();) {
    const size_t nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  if (lines.size() < 3) {
    return Bad("need at least 3 lines (origin, size, root hash), got " +
               std::to_string(lines.size()));
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) return Bad("line " + std::to_string(i + 1) + " is empty");
  }
  Checkpoint c;
  c.origin = std::string(lines[0]);

  const std::string_view size = lines[1];
  for (char ch : size) {
    if (ch < '0' || ch > '9') return Bad("tree size '" + std::string(size) + "' is not decimal");
  }
  if (size.size() > 1 && size[0] == '0') {
    return Bad("tree size '" + std::string(size) + "' has a leading zero");
  }
  for (char ch : size) {
    const uint64_t d = static_cast<uint64_t>(ch - '0');
    if (c.size > (std::numeric_limits<uint64_t>::max() - d) / 10) {
      return Bad("tree size '" + std::string(size) + "' does not fit in 64 bits");
    }
    c.size = c.size * 10 + d;
  }

  const auto root = internal::Base64DecodeStrict(lines[2]);
  if (!root) return Bad("root hash is not canonical base64");
  if (root->size() != c.root.size()) {
    return Bad("root hash is " + std::to_string(root->size()) + " bytes, want 32");
  }
  std::copy(root->begin(), root->end(), c.root.begin());
  for (size_t i = 3; i < lines.size(); ++i) c.extensions.emplace_back(lines[i]);
  return c;
}

StatusOr<std::string> SignCheckpoint(const Checkpoint& c, const Signer& signer) {
  PROBITY_RETURN_IF_ERROR(ValidateCheckpoint(c));
  if (signer.name() != c.origin) {
    return FailedPrecondition("checkpoint: signer key name '" + signer.name() +
                              "' is not the origin '" + c.origin + "'");
  }
  return signer.Sign(FormatCheckpoint(c));
}

StatusOr<Checkpoint> OpenCheckpoint(std::string_view msg, const std::vector<Verifier>& known,
                                    std::string_view origin) {
  PROBITY_ASSIGN_OR_RETURN(Note n, Open(msg, known));
  PROBITY_ASSIGN_OR_RETURN(Checkpoint c, ParseCheckpoint(n.text));
  if (c.origin != origin) {
    return FailedPrecondition("checkpoint: origin '" + c.origin + "' is not the expected '" +
                              std::string(origin) + "'");
  }
  return c;
}

}  // namespace probity::note
