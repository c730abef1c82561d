// Internal to probity_rules: counts per UTC day over a fixed window, allocation-free (referrals,
// home visits and out-of-hours contacts per practice).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "services/rules/state_codec.h"

namespace probity::rules::internal {

// Counts per UTC day over the last kDays days ending at the latest day added. Adding a day older
// than the window drops it; moving the head forward clears the days it passes.
class DayRing {
 public:
  static constexpr int64_t kDays = 256;
  void Add(int64_t day, uint64_t n) {
    if (!has_) {
      has_ = true;
      head_ = day;
    }
    if (day > head_) {
      int64_t clear = std::min<int64_t>(day - head_, kDays);
      for (int64_t d = 1; d <= clear; ++d) c_[static_cast<size_t>((head_ + d) & (kDays - 1))] = 0;
      head_ = day;
    }
    if (day <= head_ - kDays) return;  // older than the ring: dropped
    c_[static_cast<size_t>(day & (kDays - 1))] += n;
  }
  // Sum over days [from, to).
  uint64_t Sum(int64_t from, int64_t to) const {
    if (!has_) return 0;
    uint64_t s = 0;
    int64_t lo = std::max(from, head_ - kDays + 1), hi = std::min(to - 1, head_);
    for (int64_t d = lo; d <= hi; ++d) s += c_[static_cast<size_t>(d & (kDays - 1))];
    return s;
  }
  void Encode(Encoder* e) const {
    e->Bool(has_);
    e->I64(head_);
    for (uint64_t c : c_) e->U64(c);
  }
  bool Decode(Decoder* d) {
    if (!d->Bool(&has_) || !d->I64(&head_)) return false;
    for (auto& c : c_) {
      if (!d->U64(&c)) return false;
    }
    return true;
  }

 private:
  bool has_ = false;
  int64_t head_ = 0;
  std::array<uint64_t, kDays> c_{};
};

}  // namespace probity::rules::internal
