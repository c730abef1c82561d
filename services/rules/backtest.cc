#include "services/rules/backtest.h"

#include <map>
#include <utility>

namespace probity::rules {

Status VectorEventSource::ForEach(const std::function<Status(const LogEvent&)>& fn) {
  for (size_t i = 0; i < entries_.size(); ++i) {
    LogEvent ev{first_index_ + i, entries_[i].record, entries_[i].envelope};
    PROBITY_RETURN_IF_ERROR(fn(ev));
  }
  return Status::Ok();
}

StatusOr<BacktestReport> Backtest(const RuleSet& candidate, EventSource& source) {
  EngineOptions opts;
  opts.learn_flags_from_log = false;
  PROBITY_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(candidate, opts));
  BacktestReport report;
  report.candidate_rule_set_hash = candidate.sha256_hex;
  std::map<std::pair<std::string, std::string>, BacktestRow> rows;
  PROBITY_RETURN_IF_ERROR(source.ForEach([&](const LogEvent& ev) -> Status {
    ++report.entries;
    if (ev.envelope.kind() == probity::v1::EVENT_KIND_FLAG && ev.envelope.has_flag()) {
      const auto& f = ev.envelope.flag();
      auto& row = rows[{f.rule_id(), ev.envelope.practice_code()}];
      ++row.raised;
    }
    size_t before = report.flags.size();
    PROBITY_RETURN_IF_ERROR(engine->Process(ev, &report.flags));
    for (size_t i = before; i < report.flags.size(); ++i) {
      ++rows[{report.flags[i].flag().rule_id(), report.flags[i].practice_code()}].would_fire;
    }
    return Status::Ok();
  }));
  for (auto& [key, row] : rows) {
    row.rule_id = key.first;
    row.practice_code = key.second;
    report.rows.push_back(std::move(row));
  }
  return report;
}

StatusOr<RebuildResult> Rebuild(const RuleSet& rule_set, EventSource& source) {
  RebuildResult result;
  PROBITY_ASSIGN_OR_RETURN(result.engine, Engine::Create(rule_set));
  PROBITY_RETURN_IF_ERROR(source.ForEach(
      [&](const LogEvent& ev) { return result.engine->Process(ev, &result.flags); }));
  return result;
}

}  // namespace probity::rules
