// The api's view of the log: flags with their status and decisions, each practice's ICB, the rule
// sets flags name, and who read each practice's data. A Follower (common/follow/follower.h): it
// is fed every entry in index order by the follower runtime (common/follow/runtime.h) and
// publishes nothing. Its state lives in memory; given a state file, Save() writes it there (a
// probity.v1.ApiViewState, replaced whole and synced) and Restore() reads it back, so a restart
// resumes where the last save left off instead of replaying the log from index 0. Without one,
// Restore() empties it and returns 0. Either way the state is a function of the log below
// next_index(): the log is the only state the api needs to be correct after a crash.
//
// Thread-safe: Apply() runs on the follower's thread while the HTTP threads query.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/follow/follower.h"
#include "common/status/status.h"
#include "common/sync/mutex.h"
#include "probity/v1/api.pb.h"
#include "probity/v1/events.pb.h"

namespace probity::api {

// A flag as the view holds it: the summary (without proof) and the decisions taken on it.
struct FlagState {
  v1::FlagSummary summary;  // status follows the last decision
  std::string rule_set_hash;
  std::vector<v1::DecisionRecord> decisions;  // log order; the last one stands
};

// The status a decision outcome gives a flag.
v1::FlagStatus StatusAfter(v1::DecisionOutcome outcome);

struct FlagQuery {
  std::string practice, icb, rule, severity_name;  // "" = any
  std::optional<v1::Severity> severity;
  std::optional<v1::FlagStatus> status;
  std::optional<int64_t> from_micros, to_micros;  // window_start in [from, to)
};

class View final : public follow::Follower {
 public:
  // state_file: where Save() keeps the view ("": nowhere, every start replays the log).
  explicit View(std::string state_file = "") : state_file_(std::move(state_file)) {}

  std::string_view name() const override { return "api"; }
  // The saved state (next_index() from it), or an empty view at 0 when there is none.
  // kDataLoss when the state file does not parse; the view is then empty.
  StatusOr<uint64_t> Restore() override EXCLUDES(mu_);
  Status Apply(const follow::Event& event, follow::Publisher* out) override;
  // Writes the state (every entry below next_index() applied) to the state file, replacing it
  // whole (write, sync, rename): a crash leaves the previous save or this one.
  Status Save(uint64_t next_index) override EXCLUDES(mu_);

  // The next index the view needs: every entry below it has been applied.
  uint64_t next_index() const EXCLUDES(mu_);
  // Whether any entry of the log names this practice.
  bool KnownPractice(std::string_view practice) const EXCLUDES(mu_);
  // The practice's ICB from its latest register update; "" when unknown.
  std::string IcbOf(std::string_view practice) const EXCLUDES(mu_);
  std::optional<FlagState> Flag(std::string_view flag_id) const EXCLUDES(mu_);
  // Flags matching q and `visible`, in log order, starting at position `from` of the view's list;
  // at most `limit`. *next is the position to continue from, 0 when there are no more.
  template <typename Visible>
  std::vector<FlagState> Flags(const FlagQuery& q, const Visible& visible, size_t from,
                               size_t limit, size_t* next) const EXCLUDES(mu_) {
    std::vector<FlagState> out;
    *next = 0;
    MutexLock l(&mu_);
    for (size_t i = from; i < order_.size(); ++i) {
      const FlagState& f = flags_.at(order_[i]);
      if (!Matches(q, f) || !visible(f.summary)) continue;
      if (out.size() == limit) {
        *next = i;
        break;
      }
      out.push_back(f);
    }
    return out;
  }
  // The YAML of the rule set with this hash, if it is in the log.
  std::optional<v1::RuleSetPublished> RuleSet(std::string_view sha256_hex) const EXCLUDES(mu_);
  // Log indices of the access records naming this practice, in log order.
  std::vector<uint64_t> AccessRecordsOf(std::string_view practice) const EXCLUDES(mu_);
  // The log index of the decision with this event id, waiting until `deadline` for it to be
  // applied. nullopt when it has not been by then.
  std::optional<uint64_t> WaitForEvent(std::string_view event_id,
                                       std::chrono::steady_clock::time_point deadline) const
      EXCLUDES(mu_);

 private:
  static bool Matches(const FlagQuery& q, const FlagState& f);
  void ClearLocked() REQUIRES(mu_);
  const std::string state_file_;
  mutable Mutex mu_;
  mutable CondVar applied_;
  uint64_t next_ GUARDED_BY(mu_) = 0;
  std::map<std::string, std::string, std::less<>> icb_ GUARDED_BY(mu_);
  std::set<std::string, std::less<>> practices_ GUARDED_BY(mu_);
  std::map<std::string, FlagState, std::less<>> flags_ GUARDED_BY(mu_);
  std::vector<std::string> order_ GUARDED_BY(mu_);
  // Decisions on flags the view has not seen (yet): applied when the flag arrives.
  std::map<std::string, std::vector<v1::DecisionRecord>, std::less<>> early_ GUARDED_BY(mu_);
  std::map<std::string, v1::RuleSetPublished, std::less<>> rule_sets_ GUARDED_BY(mu_);
  std::map<std::string, std::vector<uint64_t>, std::less<>> access_ GUARDED_BY(mu_);
  std::map<std::string, uint64_t, std::less<>> decision_index_ GUARDED_BY(mu_);
};

}  // namespace probity::api
