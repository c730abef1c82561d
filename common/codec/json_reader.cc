#include "common/codec/json_reader.h"

#include <google/protobuf/descriptor.h>

#include <algorithm>
#include <deque>
#include <tuple>
#include <utility>
#include <vector>

#include "common/codec/ascii.h"

namespace probity::codec::internal {
namespace {

namespace pb = ::google::protobuf;

// One pass over the text from the start, following objects, arrays and strings, naming each
// value by its path of fields. It either compares the keys of each object (FindDuplicateKey) or
// stops at the key or string value holding one byte (FindRawControlCharacter). Safe on any bytes:
// every read is bounds-checked, every step consumes input, and nesting deeper than kMaxDepth is
// not followed; on text that is not well-formed JSON it may simply find nothing.
class JsonWalker {
 public:
  explicit JsonWalker(std::string_view json) : s_(json) {}

  // Returns the path of the first duplicated field, or "" if there is none.
  std::string FindDuplicate(const pb::Descriptor* root) {
    Value(root, nullptr, 0);
    return found_;
  }

  // Returns where the byte at `target` is: the path of the key holding it (kKey) or of the field
  // whose string value holds it (kValue), or kUnknown with "" if the walk does not reach it.
  std::pair<RawControlCharacter::Where, std::string> Locate(const pb::Descriptor* root,
                                                            size_t target) {
    target_ = target;
    Value(root, nullptr, 0);
    return {where_, found_};
  }

 private:
  static constexpr int kMaxDepth = 200;

  // Where a value is, as a chain up to the root (nullptr): a field of an object (`name`, the
  // field's proto name or the raw key) or an element of an array. The path string is built only
  // for what is found: fields joined by ".", "[]" appended for an array element.
  struct Path {
    const Path* parent;
    std::string_view name;  // empty for an array element
    bool element;
  };

  static std::string PathString(const Path* p) {
    if (p == nullptr) return "";
    std::string prefix = PathString(p->parent);
    if (p->element) return prefix + "[]";
    return prefix.empty() ? std::string(p->name) : prefix + "." + std::string(p->name);
  }

  void Ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }

  // A string token; simple escapes and \u00XX are decoded, other \u escapes kept as written.
  // Without escapes (the usual case) the result is a view of the input; otherwise it is decoded
  // into storage owned by the finder (kept until the end: `seen` may refer to it).
  std::string_view String() {
    ++i_;  // opening quote
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] != '"' && s_[i_] != '\\') ++i_;
    if (i_ >= s_.size() || s_[i_] == '"') {
      std::string_view out = s_.substr(start, i_ - start);
      ++i_;  // closing quote
      return out;
    }
    std::string& out = decoded_.emplace_back(s_.substr(start, i_ - start));
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (c != '\\' || i_ >= s_.size()) {
        out += c;
        continue;
      }
      char e = s_[i_++];
      if (e == 'u' && i_ + 4 <= s_.size()) {
        std::string_view hex = s_.substr(i_, 4);
        if (hex[0] == '0' && hex[1] == '0') {
          auto nibble = [](char h) {
            return IsDigit(h)                             ? h - '0'
                   : (Lower(h) >= 'a' && Lower(h) <= 'f') ? Lower(h) - 'a' + 10
                                                          : 0;
          };
          out += static_cast<char>(nibble(hex[2]) * 16 + nibble(hex[3]));
        } else {
          out += "\\u";
          out += hex;
        }
        i_ += 4;
      } else {
        out += e == 'n'   ? '\n'
               : e == 't' ? '\t'
               : e == 'r' ? '\r'
               : e == 'b' ? '\b'
               : e == 'f' ? '\f'
                          : e;
      }
    }
    ++i_;  // closing quote
    return out;
  }

  static const pb::FieldDescriptor* Field(const pb::Descriptor* d, std::string_view key) {
    if (d == nullptr) return nullptr;
    for (int f = 0; f < d->field_count(); ++f) {
      const pb::FieldDescriptor* fd = d->field(f);
      if (fd->name() == key || fd->json_name() == key) return fd;
    }
    return nullptr;
  }

  static const pb::Descriptor* MessageOf(const pb::FieldDescriptor* fd) {
    return fd != nullptr && fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE
               ? fd->message_type()
               : nullptr;
  }

  // Skips one value; `d` is the message type an object here would be (nullptr if unknown).
  void Value(const pb::Descriptor* d, const Path* path, int depth) {
    Ws();
    if (i_ >= s_.size() || done_ || depth > kMaxDepth) return;
    char c = s_[i_];
    if (c == '{') {
      Object(d, path, depth + 1);
    } else if (c == '[') {
      ++i_;
      Ws();
      if (i_ < s_.size() && s_[i_] == ']') {
        ++i_;
        return;
      }
      const Path element{path, {}, true};
      while (i_ < s_.size() && !done_) {
        Value(d, &element, depth + 1);
        Ws();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        ++i_;  // ']'
        break;
      }
    } else if (c == '"') {
      const size_t start = i_;
      String();
      if (start < target_ && target_ < i_) Found(path, RawControlCharacter::Where::kValue);
    } else {
      while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']') ++i_;
    }
  }

  void Object(const pb::Descriptor* d, const Path* path, int depth) {
    ++i_;  // '{'
    // Field names (or raw keys outside the schema) seen in this object; views of descriptor
    // names, of the input or of decoded_.
    std::vector<std::string_view> seen;
    while (i_ < s_.size() && !done_) {
      Ws();
      if (i_ >= s_.size()) return;
      if (s_[i_] == '}') {
        ++i_;
        return;
      }
      if (s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (s_[i_] != '"') return;  // not reachable for JSON protobuf accepted
      const size_t key_start = i_;
      std::string_view key = String();
      const pb::FieldDescriptor* fd = Field(d, key);
      std::string_view identity = fd != nullptr ? std::string_view(fd->name()) : key;
      const Path field_path{path, identity, false};
      if (target_ != std::string_view::npos) {
        if (key_start < target_ && target_ < i_) {
          Found(&field_path, RawControlCharacter::Where::kKey);
          return;
        }
      } else {
        if (std::find(seen.begin(), seen.end(), identity) != seen.end()) {
          Found(&field_path, RawControlCharacter::Where::kKey);
          return;
        }
        if (seen.empty()) seen.reserve(d != nullptr ? d->field_count() : 8);
        seen.push_back(identity);
      }
      Ws();
      if (i_ < s_.size() && s_[i_] == ':') ++i_;
      Value(MessageOf(fd), &field_path, depth);
    }
  }

  void Found(const Path* path, RawControlCharacter::Where where) {
    found_ = PathString(path);
    where_ = where;
    done_ = true;
  }

  std::string_view s_;
  size_t i_ = 0;
  size_t target_ = std::string_view::npos;  // the byte Locate() looks for
  bool done_ = false;
  std::string found_;  // the path of what was found
  RawControlCharacter::Where where_ = RawControlCharacter::Where::kUnknown;
  std::deque<std::string> decoded_;  // keys with escapes, decoded (stable addresses)
};

// The offset of the first byte below 0x20 inside a string token, or npos. Strings are told apart
// from the rest by their quotes alone (a backslash escapes the next byte), so this is one pass
// with no allocation; raw tabs and newlines between tokens are whitespace, not string content.
size_t FindControlByteInString(std::string_view s) {
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!in_string) {
      in_string = c == '"';
    } else if (c == '"') {
      in_string = false;
    } else if (c == '\\') {
      if (i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0x20) return i + 1;
      ++i;  // the escaped byte is content, not a closing quote
    } else if (c < 0x20) {
      return i;
    }
  }
  return std::string_view::npos;
}

}  // namespace

std::string FindDuplicateKey(std::string_view json, const pb::Descriptor* root) {
  return JsonWalker(json).FindDuplicate(root);
}

std::optional<RawControlCharacter> FindRawControlCharacter(std::string_view json,
                                                           const pb::Descriptor* root) {
  const size_t at = FindControlByteInString(json);
  if (at == std::string_view::npos) return std::nullopt;
  RawControlCharacter out;
  out.offset = at;
  out.byte = static_cast<unsigned char>(json[at]);
  std::tie(out.where, out.path) = JsonWalker(json).Locate(root, at);
  return out;
}

}  // namespace probity::codec::internal
