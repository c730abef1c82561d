// Internal to probity_rules: what the engine knows about each practice, derived from the log by
// the engine alone (engine.cc applies every input event) and read by the rules (rule.h). Facts
// only, no rule parameters, so every rule of a set judges from the same facts. Encoded into the
// saved state in the format of docs/rules.md ("Saved state").
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "services/rules/day_ring.h"
#include "services/rules/state_codec.h"

namespace probity::rules::internal {

// A log entry a flag can cite as evidence.
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

// Everything the engine knows about one practice.
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
  // False when `d` does not hold a practice of a known format; *this is then unspecified.
  bool Decode(Decoder* d);
};

using PracticeMap = std::map<std::string, Practice, std::less<>>;

}  // namespace probity::rules::internal
