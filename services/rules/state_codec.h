// Internal to probity_rules: the field codec of the engine's saved state (docs/rules.md, "Saved
// state"): varints and ZigZag varints (common/encoding/varint.h), little-endian 8-byte doubles,
// length-prefixed strings.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/encoding/varint.h"

namespace probity::rules::internal {

class Encoder {
 public:
  void U64(uint64_t v) { encoding::AppendVarint(v, &out_); }
  void I64(int64_t v) { U64(encoding::ZigZagEncode(v)); }
  void Bool(bool b) { U64(b ? 1 : 0); }
  void F64(double d) {
    char b[8];
    std::memcpy(b, &d, 8);
    out_.append(b, 8);
  }
  void Str(std::string_view s) {
    U64(s.size());
    out_.append(s.data(), s.size());
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

// Reads what Encoder wrote. Every getter returns false (and sets failed) on truncated or
// malformed input. `in` is borrowed and MUST outlive the decoder.
class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  bool U64(uint64_t* v) { return encoding::ReadVarint(in_, &pos_, v) || Fail(); }
  bool I64(int64_t* v) {
    uint64_t u;
    if (!U64(&u)) return false;
    *v = encoding::ZigZagDecode(u);
    return true;
  }
  bool Bool(bool* b) {
    uint64_t u;
    if (!U64(&u) || u > 1) return Fail();
    *b = u == 1;
    return true;
  }
  bool F64(double* d) {
    if (in_.size() - pos_ < 8) return Fail();
    std::memcpy(d, in_.data() + pos_, 8);
    pos_ += 8;
    return true;
  }
  bool Str(std::string* s) {
    uint64_t n;
    if (!U64(&n) || n > in_.size() - pos_) return Fail();
    s->assign(in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  // Bounded count for a following sequence (guards allocation on corrupt input).
  bool Count(uint64_t* n) { return U64(n) && (*n <= in_.size() - pos_ || Fail()); }
  bool done() const { return pos_ == in_.size(); }
  bool failed() const { return failed_; }

 private:
  bool Fail() {
    failed_ = true;
    return false;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace probity::rules::internal
