#include "services/api/view.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "common/follow/runtime.h"
#include "common/time/proto_time.h"

namespace probity::api {

v1::FlagStatus StatusAfter(v1::DecisionOutcome outcome) {
  switch (outcome) {
    case v1::DECISION_OUTCOME_ACKNOWLEDGE:
      return v1::FLAG_STATUS_ACKNOWLEDGED;
    case v1::DECISION_OUTCOME_UPHOLD:
      return v1::FLAG_STATUS_UPHELD;
    case v1::DECISION_OUTCOME_DISMISS:
      return v1::FLAG_STATUS_DISMISSED;
    default:
      return v1::FLAG_STATUS_OPEN;
  }
}

void View::ClearLocked() {
  next_ = 0;
  icb_.clear();
  practices_.clear();
  flags_.clear();
  order_.clear();
  early_.clear();
  rule_sets_.clear();
  access_.clear();
  decision_index_.clear();
}

StatusOr<uint64_t> View::Restore() {
  MutexLock l(&mu_);
  ClearLocked();
  if (state_file_.empty()) return next_;
  std::ifstream in(state_file_, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(state_file_)) return next_;  // never saved: from index 0
    return IoError("api view: cannot read " + state_file_);
  }
  v1::ApiViewState st;
  if (!st.ParseFromIstream(&in) || st.format() != 1) {
    return DataLoss("api view: " + state_file_ +
                    " is not a saved view (delete it to rebuild the view from the log)");
  }
  for (const auto& [practice, icb] : st.icb_by_practice()) icb_.emplace(practice, icb);
  practices_.insert(st.practices().begin(), st.practices().end());
  for (v1::ApiViewFlag& f : *st.mutable_flags()) {
    FlagState s;
    s.summary = std::move(*f.mutable_summary());
    s.rule_set_hash = f.rule_set_hash();
    for (v1::DecisionRecord& d : *f.mutable_decisions()) {
      decision_index_.emplace(d.decision_id(), d.log_index());
      s.decisions.push_back(std::move(d));
    }
    order_.push_back(s.summary.flag_id());
    flags_.emplace(s.summary.flag_id(), std::move(s));
  }
  for (v1::DecisionRecord& d : *st.mutable_early_decisions()) {
    decision_index_.emplace(d.decision_id(), d.log_index());
    early_[d.decision().flag_id()].push_back(std::move(d));
  }
  for (v1::RuleSetPublished& r : *st.mutable_rule_sets()) {
    rule_sets_.emplace(r.sha256_hex(), std::move(r));
  }
  for (const v1::ApiViewAccess& a : st.access()) {
    access_[a.practice_code()].assign(a.log_indices().begin(), a.log_indices().end());
  }
  next_ = st.next_index();
  return next_;
}

Status View::Save(uint64_t next_index) {
  if (state_file_.empty()) return Status::Ok();
  v1::ApiViewState st;
  {
    MutexLock l(&mu_);
    if (next_index != next_) {
      return Internal("api view: asked to save at " + std::to_string(next_index) +
                      " but applied up to " + std::to_string(next_));
    }
    st.set_format(1);
    st.set_next_index(next_);
    for (const auto& [practice, icb] : icb_) (*st.mutable_icb_by_practice())[practice] = icb;
    for (const std::string& p : practices_) st.add_practices(p);
    for (const std::string& id : order_) {
      const FlagState& f = flags_.at(id);
      v1::ApiViewFlag* out = st.add_flags();
      *out->mutable_summary() = f.summary;
      out->set_rule_set_hash(f.rule_set_hash);
      for (const auto& d : f.decisions) *out->add_decisions() = d;
    }
    for (const auto& [flag, decisions] : early_) {
      for (const auto& d : decisions) *st.add_early_decisions() = d;
    }
    for (const auto& [hash, r] : rule_sets_) *st.add_rule_sets() = r;
    for (const auto& [practice, indices] : access_) {
      v1::ApiViewAccess* a = st.add_access();
      a->set_practice_code(practice);
      a->mutable_log_indices()->Add(indices.begin(), indices.end());
    }
  }
  return follow::WriteFileDurably(state_file_, st.SerializeAsString());
}

Status View::Apply(const follow::Event& event, follow::Publisher*) {
  const v1::Envelope& env = *event.envelope;
  MutexLock l(&mu_);
  if (event.index != next_) {
    return Internal("api view: entry " + std::to_string(event.index) + " applied, expected " +
                    std::to_string(next_));
  }
  if (!env.practice_code().empty() && env.kind() != v1::EVENT_KIND_ACCESS_RECORD) {
    practices_.insert(env.practice_code());
  }
  switch (env.payload_case()) {
    case v1::Envelope::kPracticeUpdate:
      if (!env.practice_update().icb_code().empty()) {
        icb_[env.practice_code()] = env.practice_update().icb_code();
      }
      break;
    case v1::Envelope::kRuleSet:
      rule_sets_.emplace(env.rule_set().sha256_hex(), env.rule_set());
      break;
    case v1::Envelope::kFlag: {
      const v1::Flag& f = env.flag();
      if (flags_.count(f.flag_id()) != 0) break;  // a flag id is logged once; keep the first
      FlagState s;
      v1::FlagSummary& sum = s.summary;
      sum.set_flag_id(f.flag_id());
      sum.set_log_index(event.index);
      sum.set_practice_code(env.practice_code());
      sum.set_icb_code(f.icb_code());
      sum.set_rule_id(f.rule_id());
      sum.set_rule_kind(f.rule_kind());
      sum.set_severity(f.severity());
      sum.set_status(v1::FLAG_STATUS_OPEN);
      *sum.mutable_window_start() = f.window_start();
      *sum.mutable_window_end() = f.window_end();
      *sum.mutable_raised_at() = env.occurred_at();
      sum.set_summary(f.summary());
      s.rule_set_hash = f.rule_set_hash();
      if (auto it = early_.find(f.flag_id()); it != early_.end()) {
        s.decisions = std::move(it->second);
        early_.erase(it);
        sum.set_status(StatusAfter(s.decisions.back().decision().outcome()));
      }
      order_.push_back(f.flag_id());
      flags_.emplace(f.flag_id(), std::move(s));
      break;
    }
    case v1::Envelope::kFlagDecision: {
      v1::DecisionRecord d;
      d.set_decision_id(env.event_id());
      d.set_log_index(event.index);
      *d.mutable_decision() = env.flag_decision();
      *d.mutable_decided_at() = env.occurred_at();
      decision_index_.emplace(env.event_id(), event.index);
      auto it = flags_.find(env.flag_decision().flag_id());
      if (it == flags_.end()) {
        early_[env.flag_decision().flag_id()].push_back(std::move(d));
      } else {
        it->second.summary.set_status(StatusAfter(d.decision().outcome()));
        it->second.decisions.push_back(std::move(d));
      }
      break;
    }
    case v1::Envelope::kAccessRecord: {
      std::vector<std::string> practices(env.access_record().practice_codes().begin(),
                                         env.access_record().practice_codes().end());
      if (!env.practice_code().empty()) practices.push_back(env.practice_code());
      std::sort(practices.begin(), practices.end());
      practices.erase(std::unique(practices.begin(), practices.end()), practices.end());
      for (const std::string& p : practices) access_[p].push_back(event.index);
      break;
    }
    default:
      break;
  }
  next_ = event.index + 1;
  applied_.NotifyAll();
  return Status::Ok();
}

uint64_t View::next_index() const {
  MutexLock l(&mu_);
  return next_;
}

bool View::KnownPractice(std::string_view practice) const {
  MutexLock l(&mu_);
  return practices_.count(practice) != 0;
}

std::string View::IcbOf(std::string_view practice) const {
  MutexLock l(&mu_);
  auto it = icb_.find(practice);
  return it == icb_.end() ? std::string() : it->second;
}

std::optional<FlagState> View::Flag(std::string_view flag_id) const {
  MutexLock l(&mu_);
  auto it = flags_.find(flag_id);
  if (it == flags_.end()) return std::nullopt;
  return it->second;
}

bool View::Matches(const FlagQuery& q, const FlagState& f) {
  const v1::FlagSummary& s = f.summary;
  if (!q.practice.empty() && s.practice_code() != q.practice) return false;
  if (!q.icb.empty() && s.icb_code() != q.icb) return false;
  if (!q.rule.empty() && s.rule_id() != q.rule && s.rule_kind() != q.rule) return false;
  if (q.severity && s.severity() != *q.severity) return false;
  if (q.status && s.status() != *q.status) return false;
  const Micros start = FromTimestamp(s.window_start());
  if (q.from_micros && start < *q.from_micros) return false;
  if (q.to_micros && start >= *q.to_micros) return false;
  return true;
}

std::optional<v1::RuleSetPublished> View::RuleSet(std::string_view sha256_hex) const {
  MutexLock l(&mu_);
  auto it = rule_sets_.find(sha256_hex);
  if (it == rule_sets_.end()) return std::nullopt;
  return it->second;
}

std::vector<uint64_t> View::AccessRecordsOf(std::string_view practice) const {
  MutexLock l(&mu_);
  auto it = access_.find(practice);
  return it == access_.end() ? std::vector<uint64_t>() : it->second;
}

std::optional<uint64_t> View::WaitForEvent(std::string_view event_id,
                                           std::chrono::steady_clock::time_point deadline) const {
  MutexLock l(&mu_);
  while (true) {
    if (auto it = decision_index_.find(event_id); it != decision_index_.end()) return it->second;
    if (!applied_.WaitUntil(&mu_, deadline)) {
      auto again = decision_index_.find(event_id);
      if (again != decision_index_.end()) return again->second;
      return std::nullopt;
    }
  }
}

}  // namespace probity::api
