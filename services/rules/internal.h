// Internal to probity_rules: the engine's per-practice facts, the Rule interface the catalogue
// implements, and the binary codec of saved state. Not part of the public API.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "probity/v1/events.pb.h"
#include "services/rules/log_event.h"
#include "services/rules/rule_set.h"
#include "services/rules/time_util.h"

namespace probity::rules::internal {

// A number as flags print it: fixed, `decimals` places.
inline std::string Num(double v, int decimals = 1) {
  char b[64];
  std::snprintf(b, sizeof(b), "%.*f", decimals, v);
  return b;
}

// ---- Codec: little-endian fixed and varint fields. Format documented in docs/rules.md. ----
class Encoder {
 public:
  void U64(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void I64(int64_t v) { U64((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
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

// Every getter returns false (and sets failed) on truncated or malformed input.
class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  bool U64(uint64_t* v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return Fail();
      uint8_t b = static_cast<uint8_t>(in_[pos_++]);
      r |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        *v = r;
        return true;
      }
    }
    return Fail();
  }
  bool I64(int64_t* v) {
    uint64_t u;
    if (!U64(&u)) return false;
    *v = static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
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

// Counts per UTC day over the last kDays days, allocation-free.
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
  void Encode(Encoder* e) const;
  bool Decode(Decoder* d);

 private:
  bool has_ = false;
  int64_t head_ = 0;
  std::array<uint64_t, kDays> c_{};
};

struct EventRef {
  uint64_t index = 0;
  std::string event_id;
};

struct ClaimRec {
  int64_t amount_pence = 0;  // latest amount
  int32_t stream = 0;
  int64_t month = 0;     // month of occurred_at of the counted version
  int32_t status = 0;    // latest status
  bool counted = false;  // contributes to monthly sums
  bool ever_paid = false;
  EventRef first, last;
};

struct PatientClaim {
  int64_t service_time = 0;
  std::string claim_id;
  EventRef ref;
};

struct ListPoint {
  int64_t time = 0;
  int64_t list_size = 0;
  bool merger = false;
  EventRef ref;
};

struct QofPoint {
  double points = 0;
  EventRef ref;
};

struct Notice {
  std::string visit_id;
  int64_t notice_time = 0;
  int64_t due = 0;
  EventRef ref;
};

inline constexpr int kStreams = 9;  // PaymentStream values 0..8
using StreamSums = std::array<int64_t, kStreams>;

// Everything the engine knows about one practice. Facts only: no rule parameters, so every rule
// (whatever its params) derives its judgement from the same facts.
struct Practice {
  std::string code;
  // Reference data (latest PRACTICE_UPDATE).
  bool has_reference = false;
  int64_t list_size = 0;
  double weighted_list_size = 0;
  std::string icb_code;
  bool dispensing = false;
  int32_t contract_type = 0;  // probity.v1.ContractType
  bool closed = false;
  EventRef reference_ref;
  int64_t first_seen = INT64_MAX;
  std::vector<ListPoint> list_history;  // sorted by time; pruned to the last 400 days
  // Claims.
  std::map<std::string, ClaimRec, std::less<>> claims;
  std::map<int64_t, StreamSums> monthly;  // month -> pence per stream
  std::map<std::string, std::vector<PatientClaim>, std::less<>> patient_claims;  // service\0patient
  std::map<int64_t, std::map<std::string, QofPoint>> qof;  // financial year -> indicator -> points
  // Activity.
  DayRing referrals, home_visits, out_of_hours;
  EventRef last_referral, last_contact;
  // Monitoring.
  bool has_visit = false;
  int64_t last_visit = 0;
  EventRef last_visit_ref;
  std::vector<Notice> notices;
  std::vector<int64_t> follow_ups;  // times of remedial follow-up visits, sorted

  void Encode(Encoder* e) const;
  bool Decode(Decoder* d);
};

using PracticeMap = std::map<std::string, Practice, std::less<>>;

// What a rule hands to the engine when it judges a flag. The engine fills in the rest.
struct FlagDraft {
  const Practice* practice = nullptr;
  int64_t window_start = 0;
  int64_t window_end = 0;
  std::string key;  // rule-specific, makes the flag id unique within (rule, practice, window)
  double observed = 0, expected = 0, lower_limit = 0, upper_limit = 0;
  bool has_baseline = false;
  probity::v1::PeerBaseline baseline;
  std::vector<EventRef> evidence;
  std::string summary;
  std::string claim_id;
};

class Env {
 public:
  virtual ~Env() = default;
  virtual int64_t watermark() const = 0;
  // The watermark of the visits feed alone (the lowest of its partitions'): what timers that
  // judge a missing visit compare with.
  virtual int64_t visits_watermark() const = 0;
  virtual const PracticeMap& practices() const = 0;
  // Emits unless a flag with the same id was already emitted or seen in the log.
  virtual void Emit(const RuleSpec& spec, FlagDraft draft) = 0;
};

// One rule of the catalogue. Rules hold parameters and, at most, global cursors (which month they
// evaluated last); facts live in Practice. Hooks are called in rule-set order.
class Rule {
 public:
  explicit Rule(const RuleSpec& spec) : spec_(spec) {}
  virtual ~Rule() = default;
  const RuleSpec& spec() const { return spec_; }
  // Before the claim is applied to the practice's facts (`prior` is the same claim id's record).
  virtual void OnClaim(Env& env, const Practice& p, const LogEvent& ev, const probity::v1::Claim& c,
                       const ClaimRec* prior) {}
  // After the practice update is applied.
  virtual void OnPracticeUpdate(Env& env, const Practice& p, const LogEvent& ev) {}
  // After the visit is applied.
  virtual void OnVisit(Env& env, const Practice& p, const LogEvent& ev) {}
  // After an event of `kind` is applied: lets rules note the first day of data they measure.
  virtual void OnActivity(probity::v1::EventKind kind, int64_t day) {}
  // When the watermark enters a new UTC day (after the event that moved it was applied).
  virtual void OnTick(Env& env) {}
  virtual void EncodeGlobal(Encoder* e) const {}
  virtual bool DecodeGlobal(Decoder* d) { return true; }

 protected:
  const RuleSpec& spec_;
};

std::unique_ptr<Rule> MakeRule(const RuleSpec& spec);
// Factories per file.
std::unique_ptr<Rule> MakeClaimRule(const RuleSpec& spec);
std::unique_ptr<Rule> MakeRateRule(const RuleSpec& spec);
std::unique_ptr<Rule> MakeTimerRule(const RuleSpec& spec);

// Helpers shared by the rules.
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
  template <typename F>
  void Advance(int64_t watermark, int64_t lateness_days, F&& close) {
    if (!started_) return;
    while (MonthStartSeconds(next_ + 1) + lateness_days * kSecondsPerDay <= watermark) {
      int64_t wm_month = MonthOf(watermark);
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
