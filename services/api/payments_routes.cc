#include "services/api/payments_routes.h"

#include <httplib.h>

#include <set>

#include "common/codec/codec.h"
#include "common/sync/mutex.h"
#include "common/time/civil.h"
#include "probity/v1/payments_api.pb.h"
#include "services/bundle/bundle.h"
#include "services/payments/export.h"
#include "services/payments/ledger.h"

namespace probity::api {
namespace {

constexpr char kJson[] = "application/json";

StatusOr<uint64_t> SizeParam(const httplib::Request& req, const std::string& name) {
  const std::string v = req.get_param_value(name);
  if (v.empty() || v.size() > 20 || v.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgument(name + " '" + v.substr(0, 40) + "' is not a non-negative integer");
  }
  return static_cast<uint64_t>(std::stoull(v));
}

StatusOr<std::string> DateParam(const std::string& name, const std::string& v) {
  if (!civil::ParseDate(v)) {
    return InvalidArgument(name + " '" + v.substr(0, 40) + "' is not a date (YYYY-MM-DD)");
  }
  return v;
}

// Every practice whose entries a bundle carries (the flags' bundles included).
void PracticesOf(const v1::DisputeBundle& b, std::set<std::string>* out, uint64_t* served) {
  auto note = [&](const v1::EntryProof& e) {
    ++*served;
    v1::LogRecord r;
    if (r.ParseFromString(e.leaf()) && !r.practice_code().empty()) out->insert(r.practice_code());
  };
  if (b.has_flag()) note(b.flag());
  for (const auto& e : b.evidence()) note(e);
  for (const auto& e : b.context()) note(e);
  if (b.has_baseline()) note(b.baseline());
  const v1::ClaimChain& c = b.claim();
  for (const auto* part :
       {&c.submissions(), &c.instructions(), &c.policies(), &c.decisions(), &c.exports()}) {
    for (const auto& e : *part) note(e);
  }
  for (const auto& f : c.flags()) PracticesOf(f, out, served);
}

std::optional<PaymentsProblem> ClaimBundle(PaymentsCall& c) {
  if (!c.bundle_policy) {
    return PaymentsProblem{
        Unavailable("this api has no verifier policy for bundles (start it with --bundle-policy)")};
  }
  if (!c.reader) return PaymentsProblem{Unavailable("the log cannot be read now")};
  const std::string claim_id = std::string(c.req.matches[1]);
  bundle::BuildOptions bo;
  bo.policy = *c.bundle_policy;
  if (c.req.has_param("since_size")) {
    auto since = SizeParam(c.req, "since_size");
    if (!since.ok()) return PaymentsProblem{since.status()};
    bo.since_size = *since;
  }
  // A practice caller's claims are its own: no need to search the log's claims for the practice.
  if (c.who.role == v1::API_ROLE_PRACTICE) bo.practice_code = c.who.practice;
  const Status not_found = NotFound("claim " + claim_id + " not found");
  auto built = bundle::BuildClaim(*c.reader, claim_id, bo);
  if (!built.ok()) {
    if (built.status().code() == Code::kNotFound) return PaymentsProblem{not_found};
    if (built.status().code() == Code::kFailedPrecondition) {
      return PaymentsProblem{Unavailable(built.status().message())};
    }
    return PaymentsProblem{built.status()};
  }
  // Out of scope and unknown are one answer.
  const std::string& practice = built->claim().practice_code();
  if (!AccessControl::MaySee(c.who, practice, c.icb_of(practice))) {
    return PaymentsProblem{not_found};
  }
  std::set<std::string> practices = {practice};
  uint64_t served = 0;
  PracticesOf(*built, &practices, &served);
  auto id = c.record_access("claim_bundle", {practices.begin(), practices.end()},
                            built->checkpoint().tree_size(), served);
  if (!id.ok()) return PaymentsProblem{id.status()};
  c.res.status = 200;
  c.res.set_content(bundle::ToFile(*built), kJson);
  c.res.set_header("Content-Disposition",
                   "attachment; filename=\"claim-bundle-" + claim_id + ".json\"");
  return std::nullopt;
}

void SetFile(const payments::ExportFile& f, const logstore::LogReader& reader, uint64_t size,
             v1::PaymentExportFile* out) {
  out->set_format(f.format);
  out->set_file_name(f.file_name);
  out->set_sha256_hex(f.sha256_hex);
  out->set_rows(f.rows);
  out->set_content(f.content);
  auto found = reader.FindByEventId("export-" + f.sha256_hex);
  if (found.ok() && !found->empty() && found->front() < size) {
    out->set_logged(true);
    out->set_logged_index(found->front());
  }
}

std::optional<PaymentsProblem> Export(PaymentsCall& c) {
  if (!c.reader) return PaymentsProblem{Unavailable("the log cannot be read now")};
  auto date = DateParam("date", std::string(c.req.matches[1]));
  if (!date.ok()) return PaymentsProblem{date.status()};
  std::string since;
  if (c.req.has_param("since")) {
    auto s = DateParam("since", c.req.get_param_value("since"));
    if (!s.ok()) return PaymentsProblem{s.status()};
    if (*s > *date) return PaymentsProblem{InvalidArgument("since must not be after the date")};
    since = *s;
  }
  auto cp = c.checkpoint();
  if (!cp.ok()) return PaymentsProblem{cp.status()};
  uint64_t size = cp->tree_size();
  if (c.req.has_param("size")) {
    auto s = SizeParam(c.req, "size");
    if (!s.ok()) return PaymentsProblem{s.status()};
    if (*s == 0 || *s > size) {
      return PaymentsProblem{InvalidArgument("size must be in 1.." + std::to_string(size) +
                                             " (the checkpoint's size)")};
    }
    size = *s;
  }
  // Rows of the practices the caller may see; a caller who may not see them all gets a scoped
  // file (other bytes than the logged national file).
  bool scoped = false;
  std::set<std::string> practices;
  auto keep = [&](const payments::LoggedInstruction& li) {
    const std::string icb = c.icb_of(li.practice_code);
    if (!AccessControl::MaySee(c.who, li.practice_code,
                               icb.empty() ? li.instruction.icb_code() : icb)) {
      scoped = true;
      return false;
    }
    practices.insert(li.practice_code);
    return true;
  };
  auto ex = payments::ExportFromLog(*c.reader, *date, since, size, nullptr, keep);
  if (!ex.ok()) return PaymentsProblem{ex.status()};
  v1::PaymentExportAnswer out;
  out.set_export_date(*date);
  out.set_since(since);
  out.set_covers_tree_size(size);
  *out.mutable_checkpoint() = *cp;
  out.set_policy_version(ex->policy_version);
  out.set_scoped(scoped);
  SetFile(ex->variation, *c.reader, cp->tree_size(), out.mutable_contract_variation());
  SetFile(ex->holds, *c.reader, cp->tree_size(), out.mutable_holds());
  auto id = c.record_access("payment_export", {practices.begin(), practices.end()}, size,
                            ex->variation.rows + ex->holds.rows);
  if (!id.ok()) return PaymentsProblem{id.status()};
  out.set_access_record_id(*id);
  c.res.status = 200;
  c.res.set_content(codec::ToJson(out), kJson);
  return std::nullopt;
}

void SetTotals(const std::string& key, const payments::Money& m, v1::MoneyTotals* out) {
  out->set_key(key);
  out->set_held_pence(m.held);
  out->set_released_pence(m.released);
  out->set_withheld_pence(m.withheld);
  out->set_reversed_pence(m.reversed);
  out->set_held_claims(m.held_claims);
  out->set_released_claims(m.released_claims);
  out->set_withheld_claims(m.withheld_claims);
  out->set_reversed_claims(m.reversed_claims);
}

// The ledger the money route keeps, read up to the latest checkpoint the route answered at.
struct SharedLedger {
  Mutex mu;
  payments::InstructionLedger ledger GUARDED_BY(mu);
};

std::optional<PaymentsProblem> Money(PaymentsCall& c, SharedLedger* shared) {
  if (!c.reader) return PaymentsProblem{Unavailable("the log cannot be read now")};
  auto cp = c.checkpoint();
  if (!cp.ok()) return PaymentsProblem{cp.status()};
  const uint64_t size = cp->tree_size();
  auto visible = [&](std::string_view practice, std::string_view instruction_icb) {
    const std::string icb = c.icb_of(practice);
    return AccessControl::MaySee(c.who, practice, icb.empty() ? instruction_icb : icb);
  };
  payments::MoneyAtStake m;
  {
    MutexLock l(&shared->mu);
    if (shared->ledger.size() <= size) {
      Status st = shared->ledger.CatchUp(*c.reader, size);
      if (!st.ok()) return PaymentsProblem{st};
      m = shared->ledger.Money(visible);
    } else {
      // An older checkpoint than the shared ledger has read: read the prefix afresh.
      payments::InstructionLedger older;
      Status st = older.CatchUp(*c.reader, size);
      if (!st.ok()) return PaymentsProblem{st};
      m = older.Money(visible);
    }
  }
  v1::MoneyAtStakeAnswer out;
  *out.mutable_checkpoint() = *cp;
  SetTotals("", m.total, out.mutable_total());
  std::vector<std::string> practices;
  for (const auto& [k, v] : m.by_practice) {
    SetTotals(k, v, out.add_by_practice());
    practices.push_back(k);
  }
  for (const auto& [k, v] : m.by_icb) SetTotals(k, v, out.add_by_icb());
  for (const auto& [k, v] : m.by_rule) SetTotals(k, v, out.add_by_rule());
  auto id = c.record_access("money", practices, size, practices.size());
  if (!id.ok()) return PaymentsProblem{id.status()};
  out.set_access_record_id(*id);
  c.res.status = 200;
  c.res.set_content(codec::ToJson(out), kJson);
  return std::nullopt;
}

}  // namespace

void AddPaymentsRoutes(const AddGetRoute& add) {
  auto shared = std::make_shared<SharedLedger>();
  add(R"(/v1/claims/([^/]+)/bundle)", "claim_bundle", ClaimBundle);
  add(R"(/v1/payments/exports/([^/]+))", "payment_export", Export);
  add("/v1/payments/money", "money", [shared](PaymentsCall& c) { return Money(c, shared.get()); });
}

}  // namespace probity::api
