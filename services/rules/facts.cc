// Encoding of per-practice facts (docs/rules.md, "Saved state").
#include "services/rules/facts.h"

namespace probity::rules::internal {
namespace {
// Format 2 appends contract_type; format 1 (no contract type) still decodes, as unspecified.
constexpr uint64_t kPracticeFormat = 2;

void Ref(Encoder* e, const EventRef& r) {
  e->U64(r.index);
  e->Str(r.event_id);
}
bool Ref(Decoder* d, EventRef* r) { return d->U64(&r->index) && d->Str(&r->event_id); }
}  // namespace

void Practice::Encode(Encoder* e) const {
  e->U64(kPracticeFormat);
  e->Str(code);
  e->Bool(has_reference);
  e->I64(list_size);
  e->F64(weighted_list_size);
  e->Str(icb_code);
  e->Bool(dispensing);
  e->Bool(closed);
  Ref(e, reference_ref);
  e->I64(first_seen);
  e->U64(list_history.size());
  for (const auto& l : list_history) {
    e->I64(l.time);
    e->I64(l.list_size);
    e->Bool(l.merger);
    Ref(e, l.ref);
  }
  e->U64(claims.size());
  for (const auto& [id, c] : claims) {
    e->Str(id);
    e->I64(c.amount_pence);
    e->I64(c.stream);
    e->I64(c.month);
    e->I64(c.status);
    e->Bool(c.counted);
    e->Bool(c.ever_paid);
    Ref(e, c.first);
    Ref(e, c.last);
  }
  e->U64(monthly.size());
  for (const auto& [m, sums] : monthly) {
    e->I64(m);
    for (int64_t v : sums) e->I64(v);
  }
  e->U64(patient_claims.size());
  for (const auto& [k, v] : patient_claims) {
    e->Str(k);
    e->U64(v.size());
    for (const auto& pc : v) {
      e->I64(pc.service_time);
      e->Str(pc.claim_id);
      Ref(e, pc.ref);
    }
  }
  e->U64(qof.size());
  for (const auto& [fy, inds] : qof) {
    e->I64(fy);
    e->U64(inds.size());
    for (const auto& [ind, q] : inds) {
      e->Str(ind);
      e->F64(q.points);
      Ref(e, q.ref);
    }
  }
  referrals.Encode(e);
  home_visits.Encode(e);
  out_of_hours.Encode(e);
  Ref(e, last_referral);
  Ref(e, last_contact);
  e->Bool(has_visit);
  e->I64(last_visit);
  Ref(e, last_visit_ref);
  e->U64(notices.size());
  for (const auto& n : notices) {
    e->Str(n.visit_id);
    e->I64(n.notice_time);
    e->I64(n.due);
    Ref(e, n.ref);
  }
  e->U64(follow_ups.size());
  for (int64_t f : follow_ups) e->I64(f);
  e->I64(contract_type);
}

bool Practice::Decode(Decoder* d) {
  uint64_t format = 0, n = 0;
  if (!d->U64(&format) || format < 1 || format > kPracticeFormat) return false;
  if (!d->Str(&code) || !d->Bool(&has_reference) || !d->I64(&list_size) ||
      !d->F64(&weighted_list_size) || !d->Str(&icb_code) || !d->Bool(&dispensing) ||
      !d->Bool(&closed) || !Ref(d, &reference_ref) || !d->I64(&first_seen) || !d->Count(&n)) {
    return false;
  }
  list_history.resize(n);
  for (auto& l : list_history) {
    if (!d->I64(&l.time) || !d->I64(&l.list_size) || !d->Bool(&l.merger) || !Ref(d, &l.ref))
      return false;
  }
  if (!d->Count(&n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    std::string id;
    ClaimRec c;
    int64_t stream = 0, status = 0;
    if (!d->Str(&id) || !d->I64(&c.amount_pence) || !d->I64(&stream) || !d->I64(&c.month) ||
        !d->I64(&status) || !d->Bool(&c.counted) || !d->Bool(&c.ever_paid) || !Ref(d, &c.first) ||
        !Ref(d, &c.last) || stream < 0 || stream >= kStreams) {
      return false;
    }
    c.stream = static_cast<int32_t>(stream);
    c.status = static_cast<int32_t>(status);
    claims.emplace(std::move(id), std::move(c));
  }
  if (!d->Count(&n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    int64_t m;
    StreamSums sums{};
    if (!d->I64(&m)) return false;
    for (auto& v : sums) {
      if (!d->I64(&v)) return false;
    }
    monthly[m] = sums;
  }
  if (!d->Count(&n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    std::string k;
    uint64_t m;
    if (!d->Str(&k) || !d->Count(&m)) return false;
    auto& v = patient_claims[k];
    v.resize(m);
    for (auto& pc : v) {
      if (!d->I64(&pc.service_time) || !d->Str(&pc.claim_id) || !Ref(d, &pc.ref)) return false;
    }
  }
  if (!d->Count(&n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    int64_t fy;
    uint64_t m;
    if (!d->I64(&fy) || !d->Count(&m)) return false;
    auto& inds = qof[fy];
    for (uint64_t j = 0; j < m; ++j) {
      std::string ind;
      QofPoint q;
      if (!d->Str(&ind) || !d->F64(&q.points) || !Ref(d, &q.ref)) return false;
      inds[ind] = std::move(q);
    }
  }
  if (!referrals.Decode(d) || !home_visits.Decode(d) || !out_of_hours.Decode(d) ||
      !Ref(d, &last_referral) || !Ref(d, &last_contact) || !d->Bool(&has_visit) ||
      !d->I64(&last_visit) || !Ref(d, &last_visit_ref) || !d->Count(&n)) {
    return false;
  }
  notices.resize(n);
  for (auto& no : notices) {
    if (!d->Str(&no.visit_id) || !d->I64(&no.notice_time) || !d->I64(&no.due) || !Ref(d, &no.ref))
      return false;
  }
  if (!d->Count(&n)) return false;
  follow_ups.resize(n);
  for (auto& f : follow_ups) {
    if (!d->I64(&f)) return false;
  }
  if (format >= 2) {
    int64_t ct = 0;
    if (!d->I64(&ct) || ct < INT32_MIN || ct > INT32_MAX) return false;
    contract_type = static_cast<int32_t>(ct);
  }
  return true;
}

}  // namespace probity::rules::internal
