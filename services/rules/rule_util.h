// Internal to probity_rules: helpers the rules of the catalogue share (number and date formats
// of flag summaries, robust statistics, the month-end cursor). Pure; no rule parameters.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "services/rules/state_codec.h"
#include "services/rules/time_util.h"

namespace probity::rules::internal {

// A number as flags print it: fixed, `decimals` places.
inline std::string Num(double v, int decimals = 1) {
  char b[64];
  std::snprintf(b, sizeof(b), "%.*f", decimals, v);
  return b;
}
std::string FormatPounds(double pence);
std::string FormatDate(int64_t secs);
std::string StreamName(int32_t stream);
double Median(std::vector<double> v);  // of a copy; 0 when empty
// Median absolute deviation about the median (unscaled).
double Mad(const std::vector<double>& v, double median);

// Month-close cursor shared by rules evaluated at month ends: closes month M once the watermark
// is at least the start of month M+1 plus `lateness_days`. Starts at the month of the first data
// the rule measures; catches up at most 36 months at once.
class MonthCursor {
 public:
  void NoteData(int64_t month) {
    if (!started_ || month < next_) {
      if (!started_ || !closed_any_) next_ = month;
      started_ = true;
    }
  }
  // Closes every month that is `lateness_days` behind the watermark, and every month that ends at
  // or before `complete_until` (an END_OF_DATA entry said no data for it is still to come; pass
  // Env::data_complete_until(), INT64_MIN / 4 when none).
  template <typename F>
  void Advance(int64_t watermark, int64_t lateness_days, int64_t complete_until, F&& close) {
    if (!started_) return;
    while (MonthStartSeconds(next_ + 1) + lateness_days * kSecondsPerDay <= watermark ||
           MonthStartSeconds(next_ + 1) <= complete_until) {
      int64_t wm_month = MonthOf(std::max(watermark, complete_until));
      if (wm_month - next_ > 36) next_ = wm_month - 36;
      close(next_);
      ++next_;
      closed_any_ = true;
    }
  }
  void Encode(Encoder* e) const {
    e->Bool(started_);
    e->Bool(closed_any_);
    e->I64(next_);
  }
  bool Decode(Decoder* d) { return d->Bool(&started_) && d->Bool(&closed_any_) && d->I64(&next_); }

 private:
  bool started_ = false;
  bool closed_any_ = false;
  int64_t next_ = 0;
};

}  // namespace probity::rules::internal
