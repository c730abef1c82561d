// Claim rules: duplicate_item_of_service, claim_exceeds_cohort, qof_points_over_maximum,
// late_or_resubmitted_claim, payment_per_patient_outlier, claimed_value_shift.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <memory>

#include "services/rules/baseline.h"
#include "services/rules/rule.h"
#include "services/rules/rule_util.h"

namespace probity::rules::internal {
namespace {

namespace v1 = probity::v1;
using probity::v1::Claim;

bool Live(int32_t status) {
  return status != probity::v1::CLAIM_STATUS_REJECTED &&
         status != probity::v1::CLAIM_STATUS_WITHDRAWN;
}
EventRef RefOf(const LogEvent& ev) { return EventRef{ev.index, ev.envelope.event_id()}; }
// Peer-group label of a contract type: GMS, PMS, APMS, or "other" (unspecified or unknown).
std::string ContractName(int32_t contract_type) {
  switch (contract_type) {
    case probity::v1::CONTRACT_TYPE_GMS:
      return "GMS";
    case probity::v1::CONTRACT_TYPE_PMS:
      return "PMS";
    case probity::v1::CONTRACT_TYPE_APMS:
      return "APMS";
    default:
      return "other";
  }
}
std::string FyName(int64_t fy) {
  char b[32];
  std::snprintf(b, sizeof(b), "%lld-%02lld", static_cast<long long>(fy),
                static_cast<long long>((fy + 1) % 100));
  return b;
}

// ---------------------------------------------------------------------------------------------
class DuplicateItemOfService final : public Rule {
 public:
  using Rule::Rule;
  void OnClaim(Env& env, const Practice& p, const LogEvent& ev, const Claim& c,
               const ClaimRec* prior) override {
    if (prior != nullptr || !Live(c.status()) || c.patient_ref().empty() ||
        c.service_code().empty())
      return;
    std::string interval;
    if (!IntervalFor(c.service_code(), &interval)) return;
    std::string key = c.service_code();
    key.push_back('\0');
    key += c.patient_ref();
    auto it = p.patient_claims.find(key);
    if (it == p.patient_claims.end()) return;
    const int64_t t = ev.envelope.occurred_at().seconds();
    const int64_t st = c.has_period_start() ? c.period_start().seconds() : t;
    const bool fy = interval == "financial_year";
    const int64_t days = fy ? 0 : std::stoll(interval.substr(0, interval.size() - 1));
    for (const auto& pc : it->second) {
      if (pc.claim_id == c.claim_id()) continue;
      auto cit = p.claims.find(pc.claim_id);
      if (cit != p.claims.end() && !Live(cit->second.status)) continue;
      bool dup = fy ? FinancialYearOf(pc.service_time) == FinancialYearOf(st)
                    : std::llabs(st - pc.service_time) < days * kSecondsPerDay;
      if (!dup) continue;
      FlagDraft d;
      d.practice = &p;
      if (fy) {
        d.window_start = FinancialYearStartSeconds(FinancialYearOf(st));
        d.window_end = FinancialYearStartSeconds(FinancialYearOf(st) + 1);
      } else {
        d.window_start = std::min(st, pc.service_time);
        d.window_end = std::max(st, pc.service_time);
      }
      d.key = "duplicate:" + c.claim_id();
      d.observed = 2;
      d.expected = 1;
      d.upper_limit = 1;
      d.evidence = {pc.ref, RefOf(ev)};
      d.claim_id = c.claim_id();
      d.summary = "Practice " + p.code + " claimed " + c.service_code() + " for patient " +
                  c.patient_ref() + " again (claim " + c.claim_id() + ") although claim " +
                  pc.claim_id + " already covers that patient " +
                  (fy ? "in financial year " + FyName(FinancialYearOf(st))
                      : "within " + std::to_string(days) + " days") +
                  ".";
      env.Emit(spec_, std::move(d));
      return;
    }
  }

 private:
  // Exact service code first, then the longest matching "PREFIX*" entry.
  bool IntervalFor(const std::string& service, std::string* interval) const {
    const auto& m = spec_.Map("intervals");
    if (auto it = m.find(service); it != m.end()) {
      *interval = it->second;
      return true;
    }
    size_t best = 0;
    bool found = false;
    for (const auto& [k, v] : m) {
      if (k.size() >= 1 && k.back() == '*' &&
          service.compare(0, k.size() - 1, k, 0, k.size() - 1) == 0 &&
          service.size() >= k.size() - 1 && (!found || k.size() > best)) {
        best = k.size();
        *interval = v;
        found = true;
      }
    }
    return found;
  }
};

// ---------------------------------------------------------------------------------------------
class ClaimExceedsCohort final : public Rule {
 public:
  explicit ClaimExceedsCohort(const RuleSpec& spec) : Rule(spec) {
    for (const auto& s : spec.List("list_size_streams")) {
      probity::v1::PaymentStream ps;
      if (ParsePaymentStream(s, &ps)) list_streams_.push_back(ps);
    }
  }
  void OnClaim(Env& env, const Practice& p, const LogEvent& ev, const Claim& c,
               const ClaimRec*) override {
    if (!Live(c.status()) || c.quantity() <= 0) return;
    FlagDraft d;
    d.practice = &p;
    d.window_start = c.period_start().seconds();
    d.window_end = c.period_end().seconds();
    d.claim_id = c.claim_id();
    d.observed = static_cast<double>(c.quantity());
    d.evidence = {RefOf(ev)};
    const double cohort_limit =
        c.eligible_cohort() * (1 + spec_.Number("cohort_tolerance_pct") / 100.0);
    if (c.eligible_cohort() > 0 && d.observed > cohort_limit) {
      d.key = "cohort:" + c.claim_id();
      d.expected = static_cast<double>(c.eligible_cohort());
      d.upper_limit = cohort_limit;
      d.summary = "Claim " + c.claim_id() + " from practice " + p.code + " is for " +
                  std::to_string(c.quantity()) + " items of " +
                  (c.service_code().empty() ? StreamName(c.stream()) : c.service_code()) +
                  ", more than the " + std::to_string(c.eligible_cohort()) + " eligible patients.";
      env.Emit(spec_, std::move(d));
      return;
    }
    if (!spec_.Bool("check_list_size") || !p.has_reference || p.list_size <= 0) return;
    if (std::find(list_streams_.begin(), list_streams_.end(), c.stream()) == list_streams_.end())
      return;
    const double list_limit = p.list_size * (1 + spec_.Number("list_size_tolerance_pct") / 100.0);
    if (d.observed > list_limit) {
      d.key = "list:" + c.claim_id();
      d.expected = static_cast<double>(p.list_size);
      d.upper_limit = list_limit;
      d.evidence.push_back(p.reference_ref);
      d.summary = "Claim " + c.claim_id() + " from practice " + p.code + " is for " +
                  std::to_string(c.quantity()) + " patients, more than the " +
                  std::to_string(p.list_size) + " patients on its list.";
      env.Emit(spec_, std::move(d));
    }
  }

 private:
  std::vector<probity::v1::PaymentStream> list_streams_;
};

// ---------------------------------------------------------------------------------------------
class QofPointsOverMaximum final : public Rule {
 public:
  using Rule::Rule;
  void OnClaim(Env& env, const Practice& p, const LogEvent& ev, const Claim& c,
               const ClaimRec*) override {
    if (!Live(c.status())) return;
    const double tol = spec_.Number("tolerance");
    const int64_t t = ev.envelope.occurred_at().seconds();
    const int64_t fy = FinancialYearOf(c.has_period_start() ? c.period_start().seconds() : t);
    if (c.points_maximum() > 0 && c.points_claimed() > c.points_maximum() + tol) {
      FlagDraft d;
      d.practice = &p;
      d.window_start = c.period_start().seconds();
      d.window_end = c.period_end().seconds();
      d.key = "indicator:" + c.claim_id();
      d.observed = c.points_claimed();
      d.expected = c.points_maximum();
      d.upper_limit = c.points_maximum();
      d.evidence = {RefOf(ev)};
      d.claim_id = c.claim_id();
      d.summary = "Practice " + p.code + " claimed " + Num(c.points_claimed(), 2) +
                  " QOF points for indicator " +
                  (c.indicator_code().empty() ? std::string("(unnamed)") : c.indicator_code()) +
                  ", more than its maximum of " + Num(c.points_maximum(), 2) + " (claim " +
                  c.claim_id() + ").";
      env.Emit(spec_, std::move(d));
    }
    if (c.stream() != probity::v1::PAYMENT_STREAM_QOF_ACHIEVEMENT) return;
    // Financial-year total with this claim replacing any earlier points for the same indicator.
    double total = c.points_claimed();
    std::vector<EventRef> evidence;
    if (auto it = p.qof.find(fy); it != p.qof.end()) {
      for (const auto& [ind, q] : it->second) {
        if (ind == c.indicator_code()) continue;
        total += q.points;
        evidence.push_back(q.ref);
      }
    }
    evidence.push_back(RefOf(ev));
    const double max = spec_.Number("annual_maximum");
    if (total > max + tol) {
      FlagDraft d;
      d.practice = &p;
      d.window_start = FinancialYearStartSeconds(fy);
      d.window_end = FinancialYearStartSeconds(fy + 1);
      d.key = "total";
      d.observed = total;
      d.expected = max;
      d.upper_limit = max;
      d.evidence = std::move(evidence);
      d.summary = "Practice " + p.code + " has claimed " + Num(total, 2) +
                  " QOF achievement points for " + FyName(fy) + ", more than the " + Num(max, 0) +
                  " points available in a year.";
      env.Emit(spec_, std::move(d));
    }
  }
};

// ---------------------------------------------------------------------------------------------
class LateOrResubmittedClaim final : public Rule {
 public:
  using Rule::Rule;
  void OnClaim(Env& env, const Practice& p, const LogEvent& ev, const Claim& c,
               const ClaimRec* prior) override {
    const int64_t t = ev.envelope.occurred_at().seconds();
    const int64_t late_days = static_cast<int64_t>(spec_.Number("late_days"));
    if (c.has_period_end() && Live(c.status()) &&
        t - c.period_end().seconds() > late_days * kSecondsPerDay) {
      FlagDraft d;
      d.practice = &p;
      d.window_start = c.period_start().seconds();
      d.window_end = c.period_end().seconds();
      d.key = "late:" + c.claim_id();
      d.observed = static_cast<double>((t - c.period_end().seconds()) / kSecondsPerDay);
      d.expected = 0;
      d.upper_limit = static_cast<double>(late_days);
      d.evidence = {RefOf(ev)};
      d.claim_id = c.claim_id();
      d.summary = "Claim " + c.claim_id() + " from practice " + p.code + " was made " +
                  std::to_string((t - c.period_end().seconds()) / kSecondsPerDay) +
                  " days after the end of the period it claims for (" +
                  FormatDate(c.period_end().seconds()) + "); the limit is " +
                  std::to_string(late_days) + " days.";
      env.Emit(spec_, std::move(d));
    }
    if (prior == nullptr) return;
    const bool new_event =
        ev.envelope.event_id() != prior->last.event_id || ev.record.conflicting_resubmission();
    if (!new_event) return;
    const bool reclaim = spec_.Bool("flag_paid_reclaim") && prior->ever_paid && Live(c.status());
    const int64_t delta = c.amount_pence() - prior->amount_pence;
    const bool changed = spec_.Bool("flag_amount_change") && Live(c.status()) &&
                         (delta > 0 || (delta < 0 && spec_.Bool("flag_amount_decrease")));
    if (!reclaim && !changed) return;
    FlagDraft d;
    d.practice = &p;
    d.window_start = c.period_start().seconds();
    d.window_end = c.period_end().seconds();
    d.key = "resubmission:" + ev.envelope.event_id() + "@" + std::to_string(ev.index);
    d.observed = static_cast<double>(c.amount_pence());
    d.expected = static_cast<double>(prior->amount_pence);
    d.upper_limit = static_cast<double>(prior->amount_pence);
    d.evidence = {prior->first, RefOf(ev)};
    if (prior->last.index != prior->first.index)
      d.evidence.insert(d.evidence.begin() + 1, prior->last);
    d.claim_id = c.claim_id();
    std::string amounts =
        delta == 0
            ? " for the same amount (" + FormatPounds(static_cast<double>(c.amount_pence())) + ")"
            : " for " + FormatPounds(static_cast<double>(c.amount_pence())) + " instead of " +
                  FormatPounds(static_cast<double>(prior->amount_pence));
    d.summary = "Claim " + c.claim_id() + " from practice " + p.code + " was submitted again" +
                amounts + (reclaim ? " after it had already been paid." : ".") +
                (ev.record.conflicting_resubmission()
                     ? " The resubmission reuses the original event id with different content."
                     : "");
    env.Emit(spec_, std::move(d));
  }
};

// ---------------------------------------------------------------------------------------------
// A claim rule evaluated at month ends: closes month M once the watermark is `lateness_days` past
// its end, and only for months that had claims.
class MonthEndClaimRule : public Rule {
 public:
  using Rule::Rule;
  void OnActivity(probity::v1::EventKind kind, int64_t day) override {
    if (kind == probity::v1::EVENT_KIND_CLAIM) cursor_.NoteData(MonthOf(day * kSecondsPerDay));
  }
  void OnTick(Env& env) override {
    cursor_.Advance(env.watermark(), static_cast<int64_t>(spec_.Number("lateness_days")),
                    env.data_complete_until(), [&](int64_t m) { Evaluate(env, m); });
  }
  void EncodeGlobal(Encoder* e) const override { cursor_.Encode(e); }
  bool DecodeGlobal(Decoder* d) override { return cursor_.Decode(d); }

 protected:
  virtual void Evaluate(Env& env, int64_t month) = 0;

 private:
  MonthCursor cursor_;
};

// ---------------------------------------------------------------------------------------------
// Year-to-date pence per weighted patient against peers, at each month end of the financial year.
class PaymentPerPatientOutlier final : public MonthEndClaimRule {
 public:
  explicit PaymentPerPatientOutlier(const RuleSpec& spec) : MonthEndClaimRule(spec) {
    measures_.push_back({"total", -1});
    for (const auto& s : spec.List("streams")) {
      probity::v1::PaymentStream ps;
      if (ParsePaymentStream(s, &ps)) measures_.push_back({s, static_cast<int>(ps)});
    }
  }

 private:
  struct Measure {
    std::string name;
    int stream;  // -1 = total
  };
  struct Entry {
    const Practice* p;
    double value;  // pence per weighted patient
  };

  void Evaluate(Env& env, int64_t month) override {
    const int64_t fy = FinancialYearOfMonth(month);
    const int64_t start = FinancialYearStartMonth(fy);
    if (month - start + 1 < static_cast<int64_t>(spec_.Number("min_months"))) return;
    const bool icb = spec_.Text("peer_scope") == "icb";
    const bool strat = spec_.Bool("stratify_dispensing");
    const bool by_contract = spec_.Bool("stratify_contract_type");
    const size_t min_peers = static_cast<size_t>(spec_.Number("min_peers"));
    const double min_list = spec_.Number("min_list_size");
    for (const auto& measure : measures_) {
      // group -> entries, in practice-code order.
      std::map<std::string, std::vector<Entry>> national, local, coarse_national;
      for (const auto& [code, p] : env.practices()) {
        if (!p.has_reference || p.closed || p.weighted_list_size <= 0 || p.list_size < min_list)
          continue;
        int64_t pence = 0;
        for (auto it = p.monthly.lower_bound(start); it != p.monthly.end() && it->first <= month;
             ++it) {
          if (measure.stream < 0) {
            for (int64_t v : it->second) pence += v;
          } else {
            pence += it->second[static_cast<size_t>(measure.stream)];
          }
        }
        if (pence <= 0) continue;
        const std::string coarse = strat ? (p.dispensing ? "/dispensing" : "/non-dispensing") : "";
        const std::string stratum =
            by_contract ? coarse + "/" + ContractName(p.contract_type) : coarse;
        Entry e{&p, static_cast<double>(pence) / p.weighted_list_size};
        // The finest group partitions the practices; coarser groups are fallbacks for a fine
        // group with fewer than min_peers practices.
        national["national" + stratum].push_back(e);
        if (by_contract) coarse_national["national" + coarse].push_back(e);
        if (icb) local["icb:" + p.icb_code + stratum].push_back(e);
      }
      // The pooled within-stratum robust scale of each coarse (dispensing) group: log values
      // minus their contract stratum's median, pooled over the strata. A stratum's own scale is
      // shrunk towards it (docs/rules.md, rule 5, "Small or wide strata").
      std::map<std::string, double> pooled;
      if (by_contract) {
        std::map<std::string, std::vector<double>> residuals;
        for (const auto& [group, members] : national) {
          std::vector<double> logs;
          for (const auto& e : members) logs.push_back(std::log(e.value));
          const double med = Median(logs);
          const std::string coarse = group.substr(0, group.rfind('/'));
          for (double l : logs) residuals[coarse].push_back(l - med);
        }
        for (const auto& [coarse, r] : residuals) {
          pooled[coarse] = 1.4826 * Mad(r, Median(r));
        }
      }
      auto judge = [&](const std::string& group, const std::vector<Entry>& entries,
                       const std::vector<Entry>& peers) {
        std::vector<double> logs;
        logs.reserve(peers.size());
        // In pounds per weighted patient, the unit of the flag and of the logged baseline.
        for (const auto& e : peers) logs.push_back(std::log(e.value / 100.0));
        LogLimitParams lp;
        if (spec_.Text("method") == "quantile") {
          lp.method = "log-quantile";
          lp.quantile = spec_.Number("quantile");
        } else {
          lp.k = spec_.Number("mad_k");
          lp.min_ratio = spec_.Number(measure.stream < 0 ? "min_ratio" : "stream_min_ratio");
          // A contract stratum's scale is shrunk towards the pooled scale of its dispensing
          // group; a dispensing group judged whole (or no contract split) is not.
          const size_t slash = group.find('/');
          const std::string stratum = slash == std::string::npos ? "" : group.substr(slash);
          const bool fine =
              by_contract && std::count(stratum.begin(), stratum.end(), '/') == (strat ? 2 : 1);
          if (fine) {
            auto pit = pooled.find("national" + stratum.substr(0, stratum.rfind('/')));
            if (pit != pooled.end()) {
              lp.shrink_peers = spec_.Number("shrink_peers");
              lp.pooled_scale = pit->second;
            }
          }
        }
        const LogLimits lim = ComputeLogLimits(logs, lp);
        const double med = lim.median, mad = lim.mad, lo = lim.lower, hi = lim.upper;
        std::shared_ptr<const v1::Baseline> entry;
        const std::string& dir = spec_.Text("direction");
        for (const auto& e : entries) {
          const double lv = std::log(e.value / 100.0);
          const bool high = lv > hi && dir != "low";
          const bool low = lv < lo && dir != "high";
          if (!high && !low) continue;
          FlagDraft d;
          d.practice = e.p;
          d.window_start = FinancialYearStartSeconds(fy);
          d.window_end = FinancialYearStartSeconds(fy + 1);
          d.key = "measure:" + measure.name;
          d.observed = e.value / 100.0;
          d.expected = std::exp(med);
          d.lower_limit = std::exp(lo);
          d.upper_limit = std::exp(hi);
          d.has_baseline = true;
          d.baseline.set_group(group);
          d.baseline.set_peers(peers.size());
          d.baseline.set_median(std::exp(med));
          d.baseline.set_mad(mad);
          if (entry == nullptr) {
            // The comparison's baseline, logged once with the first flag judged against it.
            v1::Baseline b;
            b.set_rule_id(spec_.id);
            b.set_group(group + (measure.stream < 0 ? "" : "/" + measure.name));
            b.mutable_window_start()->set_seconds(FinancialYearStartSeconds(fy));
            b.mutable_window_end()->set_seconds(MonthStartSeconds(month + 1));
            b.set_method(FormatLogLimitMethod(lp));
            for (const auto& peer : peers) {
              auto* v = b.add_values();
              v->set_practice_code(peer.p->code);
              v->set_value(peer.value / 100.0);
              v->set_numerator(peer.value / 100.0 * peer.p->weighted_list_size);
              v->set_denominator(peer.p->weighted_list_size);
            }
            auto full = RecomputeBaseline(b);
            if (full.ok()) entry = std::make_shared<const v1::Baseline>(std::move(*full));
          }
          d.baseline_entry = entry;
          d.evidence.push_back(e.p->reference_ref);
          AddClaimEvidence(*e.p, start, month, measure.stream, &d.evidence);
          d.summary = "Practice " + e.p->code + " claimed " + FormatPounds(e.value) +
                      " per weighted patient" + (measure.stream < 0 ? "" : " in " + measure.name) +
                      " from " + FormatDate(FinancialYearStartSeconds(fy)) + " to " +
                      FormatDate(MonthStartSeconds(month + 1) - 1) + ", " +
                      (high ? "above the upper limit of " + FormatPounds(100 * std::exp(hi))
                            : "below the lower limit of " + FormatPounds(100 * std::exp(lo))) +
                      " set by " + std::to_string(peers.size()) + " peers (" + group + ", median " +
                      FormatPounds(100 * std::exp(med)) + ").";
          env.Emit(spec_, std::move(d));
        }
      };
      // National peers for practices of `group` (national or ICB, fine stratum): the national
      // fine stratum, else the national stratum without contract type; nullptr when both are
      // smaller than min_peers.
      auto national_peers =
          [&](const std::string& group) -> const std::pair<const std::string, std::vector<Entry>>* {
        const size_t slash = group.find('/');
        const std::string stratum = slash == std::string::npos ? "" : group.substr(slash);
        auto nit = national.find("national" + stratum);
        if (nit != national.end() && nit->second.size() >= min_peers) return &*nit;
        if (!by_contract) return nullptr;
        const size_t last = stratum.rfind('/');
        auto cit = coarse_national.find("national" + stratum.substr(0, last));
        if (cit != coarse_national.end() && cit->second.size() >= min_peers) return &*cit;
        return nullptr;
      };
      for (const auto& [group, entries] : icb ? local : national) {
        if (entries.size() >= min_peers) {
          judge(group, entries, entries);
          continue;
        }
        // Too few peers in the group: judge these practices against a wider national group.
        if (const auto* peers = national_peers(group);
            peers != nullptr && &peers->second != &entries) {
          judge(peers->first, entries, peers->second);
        }
      }
    }
  }

  // The ten largest claims behind the figure, largest first.
  static void AddClaimEvidence(const Practice& p, int64_t from_month, int64_t to_month, int stream,
                               std::vector<EventRef>* out) {
    std::vector<std::pair<int64_t, const ClaimRec*>> v;
    for (const auto& [id, c] : p.claims) {
      if (c.counted && c.month >= from_month && c.month <= to_month &&
          (stream < 0 || c.stream == stream)) {
        v.emplace_back(c.amount_pence, &c);
      }
    }
    std::stable_sort(v.begin(), v.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t i = 0; i < v.size() && i < 10; ++i) out->push_back(v[i].second->last);
  }

  std::vector<Measure> measures_;
};

// ---------------------------------------------------------------------------------------------
// Upper CUSUM of a practice's monthly claimed value (selected streams) against its own history.
class ClaimedValueShift final : public MonthEndClaimRule {
 public:
  explicit ClaimedValueShift(const RuleSpec& spec) : MonthEndClaimRule(spec) {
    for (const auto& s : spec.List("streams")) {
      probity::v1::PaymentStream ps;
      if (ParsePaymentStream(s, &ps)) streams_.push_back(static_cast<int>(ps));
    }
  }

 private:
  double ValueOf(const StreamSums& s) const {
    int64_t v = 0;
    for (int st : streams_) v += s[static_cast<size_t>(st)];
    return static_cast<double>(v);
  }

  void Evaluate(Env& env, int64_t month) override {
    const int64_t min_hist = static_cast<int64_t>(spec_.Number("min_history_months"));
    const int64_t max_hist = static_cast<int64_t>(spec_.Number("max_history_months"));
    const double k = spec_.Number("k"), h = spec_.Number("h"),
                 floor_frac = spec_.Number("min_sd_fraction");
    std::vector<double> series, hist;
    for (const auto& [code, p] : env.practices()) {
      if (p.closed || p.monthly.empty()) continue;
      // First month with value in the selected streams, within the history limit.
      int64_t first = INT64_MAX;
      for (auto it = p.monthly.lower_bound(month - max_hist);
           it != p.monthly.end() && it->first <= month; ++it) {
        if (ValueOf(it->second) != 0) {
          first = it->first;
          break;
        }
      }
      if (first == INT64_MAX || month - first < min_hist) continue;
      series.assign(static_cast<size_t>(month - first + 1), 0.0);
      for (auto it = p.monthly.lower_bound(first); it != p.monthly.end() && it->first <= month;
           ++it) {
        series[static_cast<size_t>(it->first - first)] = ValueOf(it->second);
      }
      double s = 0, mu = 0, sd = 0, z = 0;
      for (size_t t = static_cast<size_t>(min_hist); t < series.size(); ++t) {
        hist.assign(series.begin(), series.begin() + static_cast<std::ptrdiff_t>(t));
        mu = Median(hist);
        sd = std::max(1.4826 * Mad(hist, mu), floor_frac * std::fabs(mu));
        if (sd <= 0) continue;
        z = (series[t] - mu) / sd;
        s = std::max(0.0, s + z - k);
      }
      // Alarm only while the month being closed is itself raised: a run that has ended (or a
      // month whose claims have not arrived) does not raise again.
      if (s <= h || sd <= 0 || z <= k) continue;
      FlagDraft d;
      d.practice = &p;
      const int64_t fy = FinancialYearOfMonth(month);
      d.window_start = FinancialYearStartSeconds(fy);
      d.window_end = FinancialYearStartSeconds(fy + 1);
      d.key = "shift";
      d.observed = series.back() / 100.0;
      d.expected = mu / 100.0;
      d.upper_limit = (mu + (k + h) * sd) / 100.0;
      d.has_baseline = true;
      d.baseline.set_group("own-history");
      d.baseline.set_peers(1);
      d.baseline.set_median(mu / 100.0);
      d.baseline.set_mad(sd / 1.4826 / 100.0);
      for (const auto& [id, c] : p.claims) {
        if (c.counted && c.month == month &&
            std::find(streams_.begin(), streams_.end(), c.stream) != streams_.end() &&
            d.evidence.size() < 20) {
          d.evidence.push_back(c.last);
        }
      }
      d.summary = "Practice " + p.code + "'s monthly claims rose to " +
                  FormatPounds(series.back()) + " in the month to " +
                  FormatDate(MonthStartSeconds(month + 1) - 1) + ", against a usual " +
                  FormatPounds(mu) + " a month; the cumulative shift (CUSUM " + Num(s, 1) +
                  ") passed its limit of " + Num(h, 1) + ".";
      env.Emit(spec_, std::move(d));
    }
  }

  std::vector<int> streams_;
};

// ---------------------------------------------------------------------------------------------
// Registration.

Status CheckDuplicateIntervals(const std::string& where, const RuleSpec& r) {
  for (const auto& [service, interval] : r.Map("intervals")) {
    if (service.empty()) return InvalidArgument(where + ": params.intervals: empty service code");
    if (interval == "financial_year") continue;
    bool ok = interval.size() >= 2 && interval.back() == 'd';
    for (size_t i = 0; ok && i + 1 < interval.size(); ++i)
      ok = std::isdigit(static_cast<unsigned char>(interval[i]));
    if (!ok || std::stol(interval.substr(0, interval.size() - 1)) <= 0) {
      return InvalidArgument(where + ": params.intervals." + service +
                             ": must be 'financial_year' or a number of days like '365d', got '" +
                             interval + "'");
    }
  }
  return Status::Ok();
}

Status CheckShiftHistory(const std::string& where, const RuleSpec& r) {
  if (r.Number("min_history_months") > r.Number("max_history_months")) {
    return InvalidArgument(where +
                           ": params.min_history_months must not exceed max_history_months");
  }
  return Status::Ok();
}

}  // namespace

std::vector<RuleKind> ClaimRuleKinds() {
  // The payment streams a rule set may name ("PAYMENT_STREAM_" is optional there).
  const std::vector<std::string> streams = {
      "GLOBAL_SUM",      "QOF_ACHIEVEMENT", "QOF_ASPIRATION", "ENHANCED_SERVICE",
      "ITEM_OF_SERVICE", "LOCAL_INCENTIVE", "PREMISES",       "OTHER"};
  return {
      {kDuplicateItemOfService,
       {{"intervals", ParamType::kStringMap, "{LDHC: financial_year, 'FLU*': financial_year}"}},
       CheckDuplicateIntervals,
       MakeRuleOf<DuplicateItemOfService>},
      {kClaimExceedsCohort,
       {{"cohort_tolerance_pct", ParamType::kDouble, "0", 0, 1000},
        {"check_list_size", ParamType::kBool, "true"},
        {"list_size_tolerance_pct", ParamType::kDouble, "0", 0, 1000},
        {"list_size_streams", ParamType::kStringList, "[ITEM_OF_SERVICE, ENHANCED_SERVICE]", 0, 0,
         streams}},
       nullptr,
       MakeRuleOf<ClaimExceedsCohort>},
      {kQofPointsOverMaximum,
       {{"annual_maximum", ParamType::kDouble, "635", 1, 1e6},
        {"tolerance", ParamType::kDouble, "0.001", 0, 1000}},
       nullptr,
       MakeRuleOf<QofPointsOverMaximum>},
      {kLateOrResubmittedClaim,
       {{"late_days", ParamType::kInt, "90", 1, 3650},
        {"flag_paid_reclaim", ParamType::kBool, "true"},
        {"flag_amount_change", ParamType::kBool, "true"},
        {"flag_amount_decrease", ParamType::kBool, "false"}},
       nullptr,
       MakeRuleOf<LateOrResubmittedClaim>},
      {kPaymentPerPatientOutlier,
       {{"peer_scope", ParamType::kString, "national", 0, 0, {"national", "icb"}},
        {"stratify_dispensing", ParamType::kBool, "true"},
        {"stratify_contract_type", ParamType::kBool, "true"},
        {"method", ParamType::kString, "mad", 0, 0, {"mad", "quantile"}},
        {"mad_k", ParamType::kDouble, "7", 1, 100},
        {"min_ratio", ParamType::kDouble, "2.0", 1, 100},
        {"stream_min_ratio", ParamType::kDouble, "1.4", 1, 100},
        {"shrink_peers", ParamType::kDouble, "500", 0, 1e9},
        {"quantile", ParamType::kDouble, "0.001", 0.0001, 0.25},
        {"min_list_size", ParamType::kInt, "1000", 0, 1e9},
        {"min_peers", ParamType::kInt, "20", 3, 1e9},
        {"min_months", ParamType::kInt, "6", 1, 12},
        {"lateness_days", ParamType::kInt, "31", 0, 90},
        {"streams", ParamType::kStringList, "[GLOBAL_SUM]", 0, 0, streams},
        {"direction", ParamType::kString, "high", 0, 0, {"both", "high", "low"}}},
       nullptr,
       MakeRuleOf<PaymentPerPatientOutlier>},
      {kClaimedValueShift,
       {{"streams", ParamType::kStringList, "[GLOBAL_SUM, QOF_ASPIRATION, PREMISES]", 0, 0,
         streams},
        {"k", ParamType::kDouble, "0.5", 0, 20},
        {"h", ParamType::kDouble, "5", 0.1, 100},
        {"min_history_months", ParamType::kInt, "6", 2, 120},
        {"max_history_months", ParamType::kInt, "24", 2, 120},
        {"min_sd_fraction", ParamType::kDouble, "0.05", 0, 10},
        {"lateness_days", ParamType::kInt, "31", 0, 90}},
       CheckShiftHistory,
       MakeRuleOf<ClaimedValueShift>},
  };
}

}  // namespace probity::rules::internal
