// Rules on register and monitoring facts: list_inflation, monitoring_visit_overdue,
// remedial_deadline_missed. Timers run in event time, fired by the watermark.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "services/rules/rule.h"
#include "services/rules/rule_util.h"

namespace probity::rules::internal {
namespace {

class ListInflation final : public Rule {
 public:
  using Rule::Rule;
  void OnPracticeUpdate(Env& env, const Practice& p, const LogEvent& ev) override {
    const int64_t t = ev.envelope.occurred_at().seconds();
    const int64_t list = ev.envelope.practice_update().list_size();
    const int64_t from = t - static_cast<int64_t>(spec_.Number("window_days")) * kSecondsPerDay;
    // The base is the smallest list in force at any time in the window: the list reported at or
    // before its start (the latest such point: register snapshots are a step function, so that
    // is the list at the window's start) and every point reported inside it. Quarterly
    // snapshots fall 90-92 days apart, so a 91-day window must reach back to the point before it.
    const ListPoint* base = nullptr;
    const ListPoint* in_force = nullptr;
    for (const auto& lp : p.list_history) {
      if (lp.time > t) break;
      if (lp.time <= from) {
        in_force = &lp;
        continue;
      }
      if (lp.merger) return;  // a merger in the window explains growth
      if (lp.time < t && (base == nullptr || lp.list_size < base->list_size)) base = &lp;
    }
    if (in_force != nullptr && (base == nullptr || in_force->list_size < base->list_size))
      base = in_force;
    if (base == nullptr || base->list_size <= 0 || base->list_size < spec_.Number("min_list_size"))
      return;
    const double growth =
        100.0 * static_cast<double>(list - base->list_size) / static_cast<double>(base->list_size);
    const double threshold = spec_.Number("threshold_pct");
    if (growth <= threshold) return;
    FlagDraft d;
    d.practice = &p;
    const int64_t q = QuarterStartMonth(MonthOf(t));
    d.window_start = MonthStartSeconds(q);
    d.window_end = MonthStartSeconds(q + 3);
    d.key = "growth";
    d.observed = static_cast<double>(list);
    d.expected = static_cast<double>(base->list_size);
    d.upper_limit = base->list_size * (1 + threshold / 100.0);
    d.evidence = {base->ref, EventRef{ev.index, ev.envelope.event_id()}};
    d.summary = "Practice " + p.code + "'s registered list grew by " + Num(growth) + "% (from " +
                std::to_string(base->list_size) + " on " + FormatDate(base->time) + " to " +
                std::to_string(list) + " on " + FormatDate(t) +
                ") with no merger recorded; the limit is " + Num(threshold) + "% in " +
                std::to_string(static_cast<int64_t>(spec_.Number("window_days"))) + " days.";
    env.Emit(spec_, std::move(d));
  }
};

class MonitoringVisitOverdue final : public Rule {
 public:
  using Rule::Rule;
  void OnTick(Env& env) override {
    const int64_t months = static_cast<int64_t>(spec_.Number("max_months"));
    const bool never = spec_.Bool("flag_never_visited");
    for (const auto& [code, p] : env.practices()) {
      if (p.closed || (!p.has_visit && (!never || p.first_seen == INT64_MAX))) continue;
      const int64_t since = p.has_visit ? p.last_visit : p.first_seen;
      const int64_t due = AddMonths(since, months);
      if (env.visits_watermark() <= due) continue;
      FlagDraft d;
      d.practice = &p;
      d.window_start = since;
      d.window_end = due;
      d.key = p.has_visit ? "overdue" : "never-visited";
      d.observed = static_cast<double>(env.visits_watermark() - since) / kSecondsPerDay / 30.4375;
      d.upper_limit = static_cast<double>(months);
      if (p.has_visit) d.evidence = {p.last_visit_ref};
      d.summary =
          p.has_visit
              ? "Practice " + p.code + " has had no contract-monitoring visit since " +
                    FormatDate(p.last_visit) + "; one was due by " + FormatDate(due) + " (every " +
                    std::to_string(months) + " months)."
              : "Practice " + p.code +
                    " has no contract-monitoring visit on record since it first appeared on " +
                    FormatDate(p.first_seen) + "; one was due by " + FormatDate(due) + ".";
      env.Emit(spec_, std::move(d));
    }
  }
};

class RemedialDeadlineMissed final : public Rule {
 public:
  using Rule::Rule;
  void OnTick(Env& env) override {
    const int64_t grace = static_cast<int64_t>(spec_.Number("grace_days")) * kSecondsPerDay;
    for (const auto& [code, p] : env.practices()) {
      for (const auto& n : p.notices) {
        const int64_t deadline = n.due + grace;
        if (env.visits_watermark() <= deadline) continue;
        auto it = std::lower_bound(p.follow_ups.begin(), p.follow_ups.end(), n.notice_time);
        if (it != p.follow_ups.end() && *it <= deadline) continue;
        FlagDraft d;
        d.practice = &p;
        d.window_start = n.notice_time;
        d.window_end = deadline;
        d.key = "notice:" + n.visit_id;
        d.observed = static_cast<double>(env.visits_watermark() - n.due) / kSecondsPerDay;
        d.upper_limit = static_cast<double>(grace / kSecondsPerDay);
        d.evidence = {n.ref};
        d.summary = "Practice " + p.code + " had a remedy due by " + FormatDate(n.due) +
                    " (notice from visit " + n.visit_id +
                    ") and no remedial follow-up visit is recorded by " + FormatDate(deadline) +
                    ".";
        env.Emit(spec_, std::move(d));
      }
    }
  }
};

}  // namespace

std::vector<RuleKind> TimerRuleKinds() {
  return {
      {kListInflation,
       {{"threshold_pct", ParamType::kDouble, "10", 0.1, 1000},
        {"window_days", ParamType::kInt, "91", 1, 366},
        {"min_list_size", ParamType::kInt, "1000", 0, 1e9}},
       nullptr,
       MakeRuleOf<ListInflation>},
      {kMonitoringVisitOverdue,
       {{"max_months", ParamType::kInt, "24", 1, 240},
        {"flag_never_visited", ParamType::kBool, "true"}},
       nullptr,
       MakeRuleOf<MonitoringVisitOverdue>},
      {kRemedialDeadlineMissed,
       {{"grace_days", ParamType::kInt, "14", 0, 3650}},
       nullptr,
       MakeRuleOf<RemedialDeadlineMissed>},
  };
}

}  // namespace probity::rules::internal
