#include "services/generate/generator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <set>
#include <string_view>
#include <unordered_map>

#include "common/bus/topics.h"
#include "common/time/proto_time.h"
#include "services/generate/anomaly.h"
#include "services/generate/model.h"
#include "services/generate/random.h"

namespace probity::generate {
namespace {

using internal::AnomalyKinds;
using internal::AtTen;
using internal::ClaimDraft;
using internal::ClaimSpec;
using internal::FyMonth;
using internal::FyPlan;
using internal::FyStart;
using internal::Hex16;
using internal::kDay;
using internal::kHour;
using internal::kSecond;
using internal::PlanFy;
using internal::PlannedVisit;
using internal::Practice;
using internal::UniformTime;
using internal::Yyyymm;

// ---- Model constants (docs/generator.md explains each) ----
constexpr double kWeekdayWeight = 1.36;  // 5 * 1.36 + 2 * 0.1 = 7
constexpr double kWeekendWeight = 0.10;
// Patient-contact modes: face-to-face, telephone (25.2% + the 2.3% of unknown mode), video /
// online, home visit.
constexpr std::array<v1::ContactMode, 4> kModes = {
    v1::CONTACT_MODE_FACE_TO_FACE, v1::CONTACT_MODE_TELEPHONE, v1::CONTACT_MODE_VIDEO,
    v1::CONTACT_MODE_HOME_VISIT};
constexpr std::array<double, 4> kModeShares = {0.635, 0.252 + 0.023, 0.078, 0.012};
constexpr std::array<char, 4> kModeLetters = {'F', 'T', 'V', 'H'};
constexpr double kDnaShare = 0.041;        // of all contacts
constexpr double kOutOfHoursShare = 0.02;  // of all contacts
constexpr double kContactFactorSigma = 0.15;
// Graded scenarios: between-practice spread (lognormal sigma) of a practice's home-visit and
// out-of-hours shares (docs/generator.md, "The calibrated population").
constexpr double kShareSigma = 0.35;
// Referral practice factor: lognormal with p95/p5 = 2.5, clamped to [0.5, 2].
const double kReferralSigma = std::log(2.5) / (2 * 1.6448536);
constexpr double kTwoWeekWaitShare = 0.15;
constexpr double kUrgentShare = 0.10;
constexpr double kClaimPaidShare = 0.98;  // the rest APPROVED

// Clean monitoring: gaps between visits 12..22 months; historical visit <= 18 months back.
constexpr int kVisitGapMinDays = 365;
constexpr int kVisitGapMaxDays = 670;
constexpr int kHistoricalMaxDays = 548;

struct Specialty {
  const char* name;
  const char* tfc;
  double weight;
};
constexpr Specialty kSpecialties[] = {
    {"GENERAL SURGERY", "100", 9},
    {"UROLOGY", "101", 6},
    {"TRAUMA AND ORTHOPAEDICS", "110", 12},
    {"ENT", "120", 7},
    {"OPHTHALMOLOGY", "130", 9},
    {"ORAL SURGERY", "140", 2},
    {"GASTROENTEROLOGY", "301", 8},
    {"CARDIOLOGY", "320", 7},
    {"DERMATOLOGY", "330", 8},
    {"RESPIRATORY MEDICINE", "340", 3},
    {"NEUROLOGY", "400", 4},
    {"RHEUMATOLOGY", "410", 3},
    {"PAEDIATRICS", "420", 4},
    {"GYNAECOLOGY", "502", 8},
    {"BREAST SURGERY", "103", 5},
    {"MENTAL HEALTH", "710", 3},
};
constexpr int kNumSpecialties = sizeof(kSpecialties) / sizeof(kSpecialties[0]);

}  // namespace

// ---- The generator ----

struct Generator::Impl {
  GeneratorParams params;
  std::vector<Practice> practices;  // sorted by code
  std::vector<TruthEntry> truth;
  RunStats stats;

  // Run state.
  struct Pending {
    Micros t = 0;
    uint64_t seq = 0;
    std::string_view topic;
    v1::Envelope env;
    std::string remember_as;     // remember this event's id under this name
    std::string supersedes_ref;  // set supersedes_event_id to the id remembered under this name
  };
  Sink* sink = nullptr;
  uint64_t seq = 0;
  uint64_t ubrn_counter = 0;
  int64_t emitted = 0;
  std::unordered_map<std::string, std::string> remembered;
  std::map<std::pair<Micros, uint64_t>, Pending> pending_claims;
  std::vector<FyPlan> fy_plans;  // per practice, the FY last planned

  Status Plan(const std::vector<PracticeRecord>& reference);
  void PlanVisits(Practice& p);
  void PlanListUpdates(Practice& p);
  void PlanAnomaly(Practice& p);

  v1::Envelope Base(v1::EventKind kind, const Practice& p, Micros occurred, Micros recorded,
                    const char* source) const {
    v1::Envelope e;
    e.set_kind(kind);
    e.set_schema_version(1);
    e.set_practice_code(p.rec.practice_code);
    SetTimestamp(e.mutable_occurred_at(), occurred);
    SetTimestamp(e.mutable_recorded_at(), recorded);
    e.set_source_system(source);
    return e;
  }
  Pending Make(std::string_view topic, v1::Envelope env) {
    Pending pe;
    pe.t = FromTimestamp(env.occurred_at());
    pe.seq = seq++;
    pe.topic = topic;
    pe.env = std::move(env);
    return pe;
  }
  v1::Envelope RegisterEvent(const Practice& p, Micros at, int64_t list, double weighted) const;
  v1::Envelope VisitEvent(const Practice& p, const PlannedVisit& v) const;
  void ClaimsEndingAt(Practice& p, size_t pi, Micros boundary);
  void DayActivity(const Practice& p, Micros day, std::vector<Pending>* out);
  Status Emit(Pending& pe);
  Status RunAll(Sink* s, const ProgressFn& progress);
};

Status Generator::Impl::Plan(const std::vector<PracticeRecord>& reference) {
  const GeneratorParams& pr = params;
  if (pr.end <= pr.start || DayStart(pr.start) != pr.start || DayStart(pr.end) != pr.end) {
    return InvalidArgument("generator: start and end must be midnight UTC with end > start");
  }
  if (!(pr.practice_fraction > 0 && pr.practice_fraction <= 1)) {
    return InvalidArgument("generator: practice_fraction must be in (0, 1]");
  }
  if (!(pr.volume_fraction >= 0) || !(pr.referrals_per_day >= 0) || !(pr.contacts_per_day >= 0)) {
    return InvalidArgument("generator: volumes must be non-negative");
  }
  if (!(pr.anomaly_share >= 0 && pr.anomaly_share <= 0.5)) {
    return InvalidArgument("generator: anomaly_share must be in [0, 0.5]");
  }
  double national_weighted = 0;
  std::map<std::string, const PracticeRecord*> active;
  for (const auto& r : reference) {
    if (!IsActivePractice(r)) continue;
    national_weighted += r.weighted_list_size;
    active.emplace(r.practice_code, &r);
  }
  std::set<std::string> wanted(pr.practice_codes.begin(), pr.practice_codes.end());
  for (const auto& code : wanted) {
    if (!active.count(code)) {
      return InvalidArgument("generator: practice " + code +
                             " is not an active practice of the reference");
    }
  }
  for (const auto& [code, rec] : active) {
    bool take = wanted.empty()
                    ? static_cast<double>(StableHash(code, 0x73656c656374ULL) >> 11) * 0x1.0p-53 <
                          pr.practice_fraction
                    : wanted.count(code) > 0;
    if (!take) continue;
    Practice p;
    p.rec = *rec;
    p.weighted_share = rec->weighted_list_size / national_weighted;
    p.initial_list = std::llround(rec->list_size);
    // A practice factor: lognormal with mean 1 and the given sigma, within [lo, hi].
    auto factor = [](Rng& r, double sigma, double lo, double hi) {
      return std::clamp(r.LogNormal(-sigma * sigma / 2, sigma), lo, hi);
    };
    Rng rng = Rng::ForStream(pr.seed, code, 0xFAC7);
    p.referral_factor = factor(rng, kReferralSigma, 0.5, 2.0);
    p.contact_factor = factor(rng, kContactFactorSigma, 0.6, 1.6);
    if (pr.graded) {
      // The calibrated population (docs/generator.md): the same distributions without the clamps
      // that held clean practices away from the anomalies, and each practice's own home-visit and
      // out-of-hours shares.
      Rng cal = Rng::ForStream(pr.seed, code, 0xCA1B);
      p.referral_factor = factor(cal, kReferralSigma, 0.2, 5.0);
      p.contact_factor = factor(cal, kContactFactorSigma, 0.4, 2.5);
      p.home_visit_factor = factor(cal, kShareSigma, 0.2, 5.0);
      p.out_of_hours_factor = factor(cal, kShareSigma, 0.2, 5.0);
    }
    practices.push_back(std::move(p));
  }
  if (practices.empty()) return InvalidArgument("generator: no practices selected");

  // Anomalies: dealt round-robin over the kinds to practices in a seeded shuffled order.
  const int64_t n = static_cast<int64_t>(practices.size());
  const auto& anomalies = AnomalyKinds();
  const int kinds = static_cast<int>(anomalies.size());
  int64_t count = 0;
  if (pr.anomaly_share > 0) {
    const int64_t per_kind = n >= kinds * 3 * 10 ? 3 : 1;
    count = std::max<int64_t>(std::llround(pr.anomaly_share * n), kinds * per_kind);
    count = std::min<int64_t>(count, n / 2);
  }
  std::vector<size_t> order(practices.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::vector<uint64_t> keys(practices.size());
  for (size_t i = 0; i < practices.size(); ++i) {
    keys[i] = StableHash(practices[i].rec.practice_code, pr.seed ^ 0x616e6f6dULL);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
  std::vector<int> per_kind_count(anomalies.size(), 0);
  int64_t assigned = 0;
  int stalled = 0;
  for (int k = 0; assigned < count && stalled < kinds; k = (k + 1) % kinds) {
    bool found = false;
    for (size_t idx : order) {
      Practice& p = practices[idx];
      if (p.anomaly != nullptr) continue;
      const int variant = per_kind_count[k] % 2;
      if (!anomalies[k]->Eligible(params, p, variant)) continue;
      p.anomaly = anomalies[k];
      p.variant = variant;
      p.grade = per_kind_count[k] / 2;
      ++per_kind_count[k];
      ++assigned;
      found = true;
      break;
    }
    stalled = found ? 0 : stalled + 1;
  }
  // Truth in assignment order is hard to keep with the loop above; emit it in kind order, then
  // practice-code order, which is as deterministic and easier to read.
  for (const auto* kind : anomalies) {
    for (auto& p : practices) {
      if (p.anomaly == kind) PlanAnomaly(p);
    }
  }
  for (auto& p : practices) {
    PlanVisits(p);
    PlanListUpdates(p);
  }
  return Status::Ok();
}

void Generator::Impl::PlanAnomaly(Practice& p) {
  Rng rng = Rng::ForStream(params.seed, p.rec.practice_code, 0xA40A);
  TruthEntry t;
  t.practice_code = p.rec.practice_code;
  t.rule_kind = std::string(p.anomaly->rule_kind());
  t.window_start = params.start;
  t.window_end = params.end;
  p.injection = p.anomaly->Plan(params, rng, p, &t);
  p.truth_index = truth.size();
  truth.push_back(std::move(t));
}

void Generator::Impl::PlanVisits(Practice& p) {
  const Micros start = params.start, end = params.end;
  Rng rng = Rng::ForStream(params.seed, p.rec.practice_code, 0x7151);
  auto days = [&](int lo, int hi) { return rng.UniformInt(lo, hi) * kDay; };
  if (p.injection != nullptr && p.injection->PlanVisits(params, rng, p, &truth[p.truth_index])) {
    return;
  }
  Micros last = AtTen(start - days(1, kHistoricalMaxDays));
  p.visits.push_back(
      {last, v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW, v1::MONITORING_OUTCOME_SATISFACTORY, 0, 0});
  Micros t = last + days(kVisitGapMinDays, kVisitGapMaxDays);
  if (t < start) t = AtTen(start + days(0, 30));
  while (t < end) {
    PlannedVisit v;
    v.at = t;
    v.type = rng.Bernoulli(0.25) ? v1::MONITORING_VISIT_TYPE_QOF_PPV
                                 : v1::MONITORING_VISIT_TYPE_ANNUAL_REVIEW;
    const double r = rng.Uniform01();
    if (t + 120 * kDay < end && r < 0.06) {
      v.outcome = v1::MONITORING_OUTCOME_REMEDIAL_NOTICE;
      v.notice = t;
      v.due = t + 90 * kDay;
      p.visits.push_back(v);
      PlannedVisit f;
      f.at = t + days(30, 80);
      f.type = v1::MONITORING_VISIT_TYPE_REMEDIAL_FOLLOW_UP;
      f.outcome = v1::MONITORING_OUTCOME_RESOLVED;
      p.visits.push_back(f);
      last = f.at;
    } else {
      v.outcome = r < 0.20 ? v1::MONITORING_OUTCOME_CONCERNS : v1::MONITORING_OUTCOME_SATISFACTORY;
      p.visits.push_back(v);
      last = t;
    }
    t = last + days(kVisitGapMinDays, kVisitGapMaxDays);
  }
}

void Generator::Impl::PlanListUpdates(Practice& p) {
  const Micros start = params.start, end = params.end;
  Rng rng = Rng::ForStream(params.seed, p.rec.practice_code, 0x1157);
  std::vector<Micros> quarters;
  Micros m = IsMonthStart(start) ? AddMonths(start, 1) : AddMonths(DayStart(start), 1);
  for (; m < end; m = AddMonths(m, 1)) {
    if (FyMonth(m) % 3 == 0) quarters.push_back(m);
  }
  int64_t list = p.initial_list;
  const double ratio = p.rec.weighted_list_size / p.rec.list_size;
  for (size_t i = 0; i < quarters.size(); ++i) {
    int64_t next;
    if (p.injection == nullptr ||
        !p.injection->ListAt(i, quarters, end, list, &next, &truth[p.truth_index])) {
      if (params.graded) {
        // Calibrated: N(+0.3%, 1.2%) a quarter, within +-5% (docs/generator.md).
        next = std::llround(list * (1 + std::clamp(rng.Normal(0.003, 0.012), -0.05, 0.05)));
      } else {
        const double f = 1 + std::clamp(rng.Normal(0.003, 0.006), -0.019, 0.019);
        next = std::llround(list * f);
        if (std::llabs(next - list) * 50 >= list) next = list;  // keep clean drift under 2%
      }
    }
    list = std::max<int64_t>(1, next);
    p.list_updates.push_back({quarters[i] + 6 * kHour, list, list * ratio});
  }
}

v1::Envelope Generator::Impl::RegisterEvent(const Practice& p, Micros at, int64_t list,
                                            double weighted) const {
  v1::Envelope e = Base(v1::EVENT_KIND_PRACTICE_UPDATE, p, at, at + 60 * kSecond, "register");
  auto* u = e.mutable_practice_update();
  u->set_practice_name(p.rec.practice_name);
  u->set_list_size(list);
  u->set_weighted_list_size(std::round(weighted * 100) / 100);
  u->set_region_code(p.rec.region_code);
  u->set_icb_code(p.rec.icb_code);
  u->set_sub_icb_code(p.rec.sub_icb_code);
  u->set_contract_type(p.rec.contract_type);
  u->set_dispensing(p.rec.dispensing);
  u->set_rurality(p.rec.rurality);
  return e;
}

v1::Envelope Generator::Impl::VisitEvent(const Practice& p, const PlannedVisit& v) const {
  v1::Envelope e =
      Base(v1::EVENT_KIND_MONITORING_VISIT, p, v.at, v.at + 2 * kDay, "contract-monitoring");
  auto* m = e.mutable_monitoring_visit();
  m->set_visit_id("MV-" + p.rec.practice_code + "-" + FormatYmd(v.at));
  m->set_type(v.type);
  m->set_outcome(v.outcome);
  if (v.notice != 0) SetTimestamp(m->mutable_notice_issued_at(), v.notice);
  if (v.due != 0) SetTimestamp(m->mutable_remedy_due_at(), v.due);
  return e;
}

// Builds the claims whose period ends at `boundary` (a month start) and queues them.
void Generator::Impl::ClaimsEndingAt(Practice& p, size_t pi, Micros boundary) {
  const Micros month = AddMonths(boundary, -1);
  const Micros fy = FyStart(month);
  if (fy_plans[pi].fy_start != fy) fy_plans[pi] = PlanFy(p, fy, params.seed);
  const auto& specs = fy_plans[pi].by_end_month[FyMonth(month)];
  Rng rng = Rng::ForStream(params.seed, p.rec.practice_code,
                           Mix64(static_cast<uint64_t>(boundary) ^ 0xC1A1));
  const std::string& code = p.rec.practice_code;
  const internal::ClaimQueue queue = [&](ClaimDraft d) {
    const ClaimSpec& s = d.spec;
    v1::Envelope e = Base(v1::EVENT_KIND_CLAIM, p, d.submitted,
                          d.submitted + rng.UniformInt(1, 600) * kSecond, "cqrs");
    auto* c = e.mutable_claim();
    c->set_claim_id(d.claim_id);
    c->set_stream(s.stream);
    c->set_service_code(s.service_code);
    c->set_indicator_code(s.indicator);
    SetTimestamp(c->mutable_period_start(), s.period_start);
    SetTimestamp(c->mutable_period_end(), s.period_end);
    c->set_quantity(s.quantity);
    c->set_unit_price_pence(s.unit_price);
    c->set_amount_pence(s.quantity * s.unit_price);
    c->set_points_claimed(s.points);
    c->set_points_maximum(s.points_max);
    c->set_eligible_cohort(s.cohort);
    c->set_patient_ref(s.patient_ref);
    c->set_status(d.status);
    Pending pe = Make(bus::kClaimsTopic, std::move(e));
    pe.remember_as = std::move(d.remember_as);
    pe.supersedes_ref = std::move(d.supersedes);
    pending_claims.emplace(std::make_pair(pe.t, pe.seq), std::move(pe));
  };
  for (const ClaimSpec& spec : specs) {
    if (spec.period_start < params.start || spec.period_end > params.end) continue;
    ClaimDraft d;
    d.spec = spec;
    d.submitted = UniformTime(rng, spec.period_end + kHour, spec.period_end + 30 * kDay - kHour);
    d.status = rng.Bernoulli(kClaimPaidShare) ? v1::CLAIM_STATUS_PAID : v1::CLAIM_STATUS_APPROVED;
    d.claim_id =
        "CLM-" + code + "-" + spec.service_code + "-" + Yyyymm(spec.period_start) + spec.id_suffix;
    if (p.injection != nullptr) {
      p.injection->QueueClaim(rng, std::move(d), queue);
    } else {
      queue(std::move(d));
    }
  }
}

void Generator::Impl::DayActivity(const Practice& p, Micros day, std::vector<Pending>* out) {
  const std::string& code = p.rec.practice_code;
  const int dow = DayOfWeek(day);
  const double dow_w = dow < 5 ? kWeekdayWeight : kWeekendWeight;
  const uint64_t day_key = static_cast<uint64_t>(day / kDay);
  // Referrals.
  {
    Rng rng = Rng::ForStream(params.seed, code, Mix64(day_key ^ 0x5EF0000000ULL));
    const double mean = params.referrals_per_day * params.volume_fraction * p.weighted_share *
                        p.referral_factor * dow_w;
    const int64_t n = rng.Poisson(mean);
    double weights[kNumSpecialties];
    for (int i = 0; i < kNumSpecialties; ++i) weights[i] = kSpecialties[i].weight;
    for (int64_t i = 0; i < n; ++i) {
      const Micros t = UniformTime(rng, day + 8 * kHour, day + 18 * kHour + 30 * 60 * kSecond);
      v1::Envelope e =
          Base(v1::EVENT_KIND_REFERRAL, p, t, t + rng.UniformInt(5, 3600) * kSecond, "ers");
      auto* r = e.mutable_referral();
      const unsigned __int128 u =
          (static_cast<unsigned __int128>(ubrn_counter++) * 738'205'347'481ULL +
           Mix64(params.seed)) %
          1'000'000'000'000ULL;
      char ubrn[16];
      std::snprintf(ubrn, sizeof(ubrn), "%012llu", static_cast<unsigned long long>(u));
      r->set_ubrn(ubrn);
      const Specialty& sp = kSpecialties[rng.Categorical(weights, kNumSpecialties)];
      r->set_specialty_code(sp.name);
      r->set_treatment_function_code(sp.tfc);
      const double pr = rng.Uniform01();
      r->set_priority(pr < kTwoWeekWaitShare                  ? v1::REFERRAL_PRIORITY_TWO_WEEK_WAIT
                      : pr < kTwoWeekWaitShare + kUrgentShare ? v1::REFERRAL_PRIORITY_URGENT
                                                              : v1::REFERRAL_PRIORITY_ROUTINE);
      // Synthetic provider codes: three per ICB, "R" and two characters.
      static constexpr char kAlnum[] = "ABCDEFGHJKLMNPQRTVWXY0123456789";
      const uint64_t h = StableHash(p.rec.icb_code, static_cast<uint64_t>(rng.UniformInt(0, 2)));
      std::string provider = "R";
      provider.push_back(kAlnum[h % 31]);
      provider.push_back(kAlnum[(h / 31) % 31]);
      r->set_provider_code(provider);
      r->set_patient_ref("pt-" + Hex16(rng.Next()));
      out->push_back(Make(bus::kReferralsTopic, std::move(e)));
    }
  }
  // Patient contacts: aggregated daily returns, one event per (mode, attended / DNA / out of
  // hours) with a non-zero count.
  {
    Rng rng = Rng::ForStream(params.seed, code, Mix64(day_key ^ 0xC0C0000000ULL));
    const double total = params.contacts_per_day * params.volume_fraction * p.weighted_share *
                         p.contact_factor * dow_w;
    std::array<double, 4> shares = kModeShares;
    double ooh = kOutOfHoursShare;
    if (params.graded) {
      const double home = shares[3] * p.home_visit_factor;
      shares[0] -= home - shares[3];
      shares[3] = home;
      ooh *= p.out_of_hours_factor;
    }
    if (p.injection != nullptr) p.injection->AdjustContacts(&shares, &ooh);
    const double dna = kDnaShare / (1 - ooh);
    for (int m = 0; m < 4; ++m) {
      const double mode_total = total * shares[m];
      const std::array<std::pair<double, char>, 3> parts = {
          {{mode_total * (1 - ooh) * (1 - dna), 'A'},
           {mode_total * (1 - ooh) * dna, 'D'},
           {mode_total * ooh, 'O'}}};
      for (const auto& [mean, tag] : parts) {
        const int64_t count = rng.Poisson(mean);
        if (count == 0) continue;
        const Micros t = day + (tag == 'O' ? 23 : 18) * kHour;
        v1::Envelope e = Base(v1::EVENT_KIND_PATIENT_CONTACT, p, t,
                              t + rng.UniformInt(600, 5 * 3600) * kSecond, "gpad");
        auto* c = e.mutable_patient_contact();
        c->set_contact_id("CT-" + code + "-" + FormatYmd(day) + "-" + kModeLetters[m] + tag);
        c->set_mode(kModes[m]);
        c->set_attendance(tag == 'D' ? v1::ATTENDANCE_DNA : v1::ATTENDANCE_ATTENDED);
        c->set_out_of_hours(tag == 'O');
        c->set_count(static_cast<uint32_t>(count));
        out->push_back(Make(bus::kVisitsTopic, std::move(e)));
      }
    }
  }
  // Monitoring visits and register updates on this day.
  for (const auto& v : p.visits) {
    if (v.at >= day && v.at < day + kDay) out->push_back(Make(bus::kVisitsTopic, VisitEvent(p, v)));
  }
  for (const auto& u : p.list_updates) {
    if (u.at >= day && u.at < day + kDay) {
      out->push_back(Make(bus::kPracticesTopic, RegisterEvent(p, u.at, u.list, u.weighted)));
    }
  }
}

Status Generator::Impl::Emit(Pending& pe) {
  ++emitted;
  pe.env.set_event_id("gen-" + std::to_string(params.seed) + "-" + std::to_string(emitted));
  if (!pe.supersedes_ref.empty()) {
    auto it = remembered.find(pe.supersedes_ref);
    if (it != remembered.end()) pe.env.set_supersedes_event_id(it->second);
  }
  if (!pe.remember_as.empty()) remembered[pe.remember_as] = pe.env.event_id();
  ++stats.events;
  ++stats.events_per_topic[std::string(pe.topic)];
  ++stats.events_per_kind[v1::EventKind_Name(pe.env.kind())];
  return sink->Emit(pe.topic, pe.env.practice_code(), pe.env);
}

Status Generator::Impl::RunAll(Sink* s, const ProgressFn& progress) {
  sink = s;
  seq = 0;
  ubrn_counter = 0;
  emitted = 0;
  remembered.clear();
  pending_claims.clear();
  stats = RunStats();
  fy_plans.assign(practices.size(), FyPlan{});
  for (auto& f : fy_plans) f.fy_start = INT64_MIN;

  // Preamble: register, then historical visits.
  for (const auto& p : practices) {
    Pending pe = Make(bus::kPracticesTopic,
                      RegisterEvent(p, params.start, p.initial_list, p.rec.weighted_list_size));
    PROBITY_RETURN_IF_ERROR(Emit(pe));
  }
  for (const auto& p : practices) {
    const PlannedVisit* last = nullptr;
    for (const auto& v : p.visits) {
      if (v.at < params.start) last = &v;
    }
    if (last != nullptr) {
      Pending pe = Make(bus::kVisitsTopic, VisitEvent(p, *last));
      PROBITY_RETURN_IF_ERROR(Emit(pe));
    }
  }

  const int64_t days_total = (params.end - params.start) / kDay;
  std::vector<Pending> today;
  auto drain = [&](Micros until) -> Status {
    while (!pending_claims.empty() && pending_claims.begin()->first.first < until) {
      auto node = pending_claims.extract(pending_claims.begin());
      today.push_back(std::move(node.mapped()));
    }
    std::sort(today.begin(), today.end(), [](const Pending& a, const Pending& b) {
      return a.t != b.t ? a.t < b.t : a.seq < b.seq;
    });
    for (auto& pe : today) PROBITY_RETURN_IF_ERROR(Emit(pe));
    today.clear();
    return Status::Ok();
  };
  int64_t day_index = 0;
  for (Micros day = params.start; day < params.end; day += kDay, ++day_index) {
    if (IsMonthStart(day) && day > params.start) {
      for (size_t i = 0; i < practices.size(); ++i) ClaimsEndingAt(practices[i], i, day);
    }
    for (const auto& p : practices) DayActivity(p, day, &today);
    PROBITY_RETURN_IF_ERROR(drain(day + kDay));
    if (progress) progress(Progress{day, day_index + 1, days_total, emitted});
  }
  if (IsMonthStart(params.end)) {
    for (size_t i = 0; i < practices.size(); ++i) ClaimsEndingAt(practices[i], i, params.end);
  }
  Micros last_time = params.end;
  for (const auto& [key, pe] : pending_claims) last_time = std::max(last_time, pe.t);
  PROBITY_RETURN_IF_ERROR(drain(INT64_MAX));
  if (params.end_of_data) {
    // The feed is finite: declare it complete up to the end of the range.
    v1::Envelope e;
    e.set_kind(v1::EVENT_KIND_END_OF_DATA);
    e.set_schema_version(1);
    SetTimestamp(e.mutable_occurred_at(), last_time);
    SetTimestamp(e.mutable_recorded_at(), last_time);
    e.set_source_system("generate");
    auto* eod = e.mutable_end_of_data();
    eod->set_feed("generate-" + std::to_string(params.seed));
    SetTimestamp(eod->mutable_data_complete_until(), params.end);
    eod->set_reason(
        "generated feed complete: every claim for a period ending by the range end has been "
        "emitted");
    Pending pe = Make(bus::kControlTopic, std::move(e));
    PROBITY_RETURN_IF_ERROR(Emit(pe));
  }
  if (progress) progress(Progress{params.end, days_total, days_total, emitted});
  sink = nullptr;
  return Status::Ok();
}

Generator::Generator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Generator::~Generator() = default;

StatusOr<std::unique_ptr<Generator>> Generator::Create(const std::vector<PracticeRecord>& reference,
                                                       const GeneratorParams& params) {
  auto impl = std::make_unique<Impl>();
  impl->params = params;
  PROBITY_RETURN_IF_ERROR(impl->Plan(reference));
  return std::unique_ptr<Generator>(new Generator(std::move(impl)));
}

Status Generator::Run(Sink* sink, const ProgressFn& progress) {
  return impl_->RunAll(sink, progress);
}

const std::vector<TruthEntry>& Generator::truth() const { return impl_->truth; }

std::vector<std::string> Generator::practice_codes() const {
  std::vector<std::string> out;
  for (const auto& p : impl_->practices) out.push_back(p.rec.practice_code);
  return out;
}

const RunStats& Generator::stats() const { return impl_->stats; }

std::string Generator::DescribePractice(const std::string& code) const {
  auto it = std::lower_bound(
      impl_->practices.begin(), impl_->practices.end(), code,
      [](const Practice& p, const std::string& c) { return p.rec.practice_code < c; });
  if (it == impl_->practices.end() || it->rec.practice_code != code) return "";
  const Practice& p = *it;
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "list %lld weighted %.0f %s icb %s; referral factor %.2f contact factor %.2f",
                static_cast<long long>(p.initial_list), p.rec.weighted_list_size,
                p.rec.dispensing ? "dispensing" : "non-dispensing", p.rec.icb_code.c_str(),
                p.referral_factor, p.contact_factor);
  std::string out = buf;
  out += p.anomaly == nullptr ? "; clean"
                              : "; anomaly " + std::string(p.anomaly->name()) + " variant " +
                                    std::to_string(p.variant);
  out += "; visits:";
  for (const auto& v : p.visits) {
    out += " " + FormatYmd(v.at) + " " + v1::MonitoringVisitType_Name(v.type).substr(22) + "/" +
           v1::MonitoringOutcome_Name(v.outcome).substr(19);
    if (v.due != 0) out += " due " + FormatYmd(v.due);
  }
  out += "; list:";
  for (const auto& u : p.list_updates) out += " " + FormatYmd(u.at) + "=" + std::to_string(u.list);
  return out;
}

StatusOr<std::vector<TruthEntry>> GenerateFromCsv(const std::string& csv_path,
                                                  const GeneratorParams& params, Sink* sink,
                                                  const ProgressFn& progress) {
  PROBITY_ASSIGN_OR_RETURN(auto reference, LoadReference(csv_path));
  PROBITY_ASSIGN_OR_RETURN(auto gen, Generator::Create(reference, params));
  PROBITY_RETURN_IF_ERROR(gen->Run(sink, progress));
  return gen->truth();
}

}  // namespace probity::generate
