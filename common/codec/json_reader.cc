#include "common/codec/json_reader.h"

#include <google/protobuf/descriptor.h>

#include <algorithm>
#include <deque>
#include <vector>

#include "common/codec/ascii.h"

namespace probity::codec::internal {
namespace {

namespace pb = ::google::protobuf;

// The walk behind FindDuplicateKey(): one pass over the text, keys compared per object.
class DuplicateKeyFinder {
 public:
  explicit DuplicateKeyFinder(std::string_view json) : s_(json) {}

  // Returns the path of the first duplicated field, or "" if there is none.
  std::string Find(const pb::Descriptor* root) {
    Value(root, nullptr, 0);
    return dup_;
  }

 private:
  static constexpr int kMaxDepth = 200;

  // Where a value is, as a chain up to the root (nullptr): a field of an object (`name`, the
  // field's proto name or the raw key) or an element of an array. The path string is built only
  // for a duplicate: fields joined by ".", "[]" appended for an array element.
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
    if (i_ >= s_.size() || !dup_.empty() || depth > kMaxDepth) return;
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
      while (i_ < s_.size() && dup_.empty()) {
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
      String();
    } else {
      while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']') ++i_;
    }
  }

  void Object(const pb::Descriptor* d, const Path* path, int depth) {
    ++i_;  // '{'
    // Field names (or raw keys outside the schema) seen in this object; views of descriptor
    // names, of the input or of decoded_.
    std::vector<std::string_view> seen;
    while (i_ < s_.size() && dup_.empty()) {
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
      std::string_view key = String();
      const pb::FieldDescriptor* fd = Field(d, key);
      std::string_view identity = fd != nullptr ? std::string_view(fd->name()) : key;
      const Path field_path{path, identity, false};
      if (std::find(seen.begin(), seen.end(), identity) != seen.end()) {
        dup_ = PathString(&field_path);
        return;
      }
      if (seen.empty()) seen.reserve(d != nullptr ? d->field_count() : 8);
      seen.push_back(identity);
      Ws();
      if (i_ < s_.size() && s_[i_] == ':') ++i_;
      Value(MessageOf(fd), &field_path, depth);
    }
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string dup_;
  std::deque<std::string> decoded_;  // keys with escapes, decoded (stable addresses)
};

}  // namespace

std::string FindDuplicateKey(std::string_view json, const pb::Descriptor* root) {
  return DuplicateKeyFinder(json).Find(root);
}

}  // namespace probity::codec::internal
