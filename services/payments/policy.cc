#include "services/payments/policy.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "common/crypto/sha256.h"
#include "common/time/civil.h"
#include "common/time/proto_time.h"
#include "services/rules/kinds.h"
#include "services/rules/time_util.h"

namespace probity::payments {
namespace {

constexpr int64_t kMaxWaitDays = 3650;

int LineOf(const YAML::Node& n) { return n.Mark().line + 1; }

Status Bad(int line, const std::string& why) {
  return InvalidArgument("hold policy line " + std::to_string(line) + ": " + why);
}
Status Bad(const YAML::Node& n, const std::string& why) { return Bad(LineOf(n), why); }

Status ParseScope(const YAML::Node& n, Scope* out) {
  if (!n.IsScalar()) return Bad(n, "scope must be claim, practice_stream or none");
  const std::string s = n.Scalar();
  if (s == "claim") {
    *out = Scope::kClaim;
  } else if (s == "practice_stream") {
    *out = Scope::kPracticeStream;
  } else if (s == "none") {
    *out = Scope::kNone;
  } else {
    return Bad(n, "scope must be claim, practice_stream or none, got '" + s + "'");
  }
  return Status::Ok();
}

Status ParseInt(const YAML::Node& root, const char* key, int64_t lo, int64_t hi, bool required,
                int64_t* out) {
  const YAML::Node n = root[key];
  if (!n) {
    if (required) return Bad(root, std::string("'") + key + "' is required");
    return Status::Ok();
  }
  int64_t v = 0;
  if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v) || v < lo || v > hi) {
    return Bad(n, std::string("'") + key + "' must be a whole number from " + std::to_string(lo) +
                      " to " + std::to_string(hi) +
                      (n.IsScalar() ? ", got '" + n.Scalar() + "'" : ""));
  }
  *out = v;
  return Status::Ok();
}

Status ParseHold(const YAML::Node& h, HoldRule* out) {
  out->line = LineOf(h);
  if (!h.IsMap()) return Bad(h, "a hold must be a mapping with rule or kind, and scope");
  for (const auto& kv : h) {
    static const std::set<std::string> kKeys = {"rule", "kind", "scope", "streams"};
    if (!kKeys.count(kv.first.Scalar()))
      return Bad(kv.first, "unknown key '" + kv.first.Scalar() + "' (rule, kind, scope, streams)");
  }
  const bool has_rule = h["rule"] && h["rule"].IsScalar() && !h["rule"].Scalar().empty();
  const bool has_kind = h["kind"] && h["kind"].IsScalar() && !h["kind"].Scalar().empty();
  if (has_rule == has_kind) return Bad(h, "a hold names exactly one of 'rule' and 'kind'");
  if (has_rule) out->rule_id = h["rule"].Scalar();
  if (has_kind) {
    out->kind = h["kind"].Scalar();
    if (rules::RuleKindIndex(out->kind) == rules::kRuleKinds.size()) {
      return Bad(h["kind"], "unknown rule kind '" + out->kind + "'" +
                                (out->kind == rules::kHoldEscalation
                                     ? " (escalation flags are about a hold; they hold nothing)"
                                     : ""));
    }
  }
  const YAML::Node scope = h["scope"];
  if (!scope) return Bad(h, "'scope' is required (claim, practice_stream or none)");
  if (scope.IsMap()) {
    out->scope_by_severity.fill(Scope::kNone);
    for (const auto& kv : scope) {
      const std::string sev = kv.first.Scalar();
      int idx = sev == "info"       ? v1::SEVERITY_INFO
                : sev == "warning"  ? v1::SEVERITY_WARNING
                : sev == "critical" ? v1::SEVERITY_CRITICAL
                                    : 0;
      if (idx == 0)
        return Bad(kv.first, "severity must be info, warning or critical, got '" + sev + "'");
      PROBITY_RETURN_IF_ERROR(ParseScope(kv.second, &out->scope_by_severity[idx]));
    }
  } else {
    Scope s;
    PROBITY_RETURN_IF_ERROR(ParseScope(scope, &s));
    out->scope_by_severity.fill(s);
  }
  if (const YAML::Node streams = h["streams"]) {
    if (!streams.IsSequence()) return Bad(streams, "'streams' must be a list of payment streams");
    for (const auto& s : streams) {
      v1::PaymentStream ps;
      if (!s.IsScalar() || !rules::ParsePaymentStream(s.Scalar(), &ps) ||
          ps == v1::PAYMENT_STREAM_UNSPECIFIED) {
        return Bad(s, "unknown payment stream '" + (s.IsScalar() ? s.Scalar() : "?") + "'");
      }
      out->streams.push_back(ps);
    }
  }
  return Status::Ok();
}

StatusOr<HoldPolicy> ParseImpl(std::string_view content) {
  HoldPolicy p;
  p.yaml_content = std::string(content);
  p.sha256_hex = crypto::Sha256Hex(content);
  const YAML::Node root = YAML::Load(p.yaml_content);
  if (!root.IsMap())
    return Bad(1, "the policy must be a mapping (name, version, approve_after_days, holds)");
  for (const auto& kv : root) {
    static const std::set<std::string> kKeys = {
        "name", "version", "approve_after_days", "payment_day", "cutoff_days", "paycodes", "holds"};
    if (!kKeys.count(kv.first.Scalar()))
      return Bad(kv.first, "unknown key '" + kv.first.Scalar() + "'");
  }
  for (const char* key : {"name", "version"}) {
    const YAML::Node n = root[key];
    if (!n || !n.IsScalar() || n.Scalar().empty())
      return Bad(n ? n : root, std::string("'") + key + "' is required");
  }
  p.name = root["name"].Scalar();
  p.version = root["version"].Scalar();
  PROBITY_RETURN_IF_ERROR(
      ParseInt(root, "approve_after_days", 0, kMaxWaitDays, true, &p.approve_after_days));
  int64_t day = 1;
  PROBITY_RETURN_IF_ERROR(ParseInt(root, "payment_day", 1, 28, false, &day));
  p.payment_day = static_cast<int>(day);
  PROBITY_RETURN_IF_ERROR(ParseInt(root, "cutoff_days", 0, 60, false, &p.cutoff_days));
  if (const YAML::Node codes = root["paycodes"]) {
    if (!codes.IsMap()) return Bad(codes, "'paycodes' must map payment streams to paycodes");
    for (const auto& kv : codes) {
      v1::PaymentStream ps;
      if (!rules::ParsePaymentStream(kv.first.Scalar(), &ps) ||
          ps == v1::PAYMENT_STREAM_UNSPECIFIED)
        return Bad(kv.first, "unknown payment stream '" + kv.first.Scalar() + "'");
      if (!kv.second.IsScalar() || kv.second.Scalar().empty())
        return Bad(kv.second, "a paycode must be a non-empty string");
      p.paycodes[ps] = kv.second.Scalar();
    }
  }
  const YAML::Node holds = root["holds"];
  if (holds && !holds.IsNull()) {
    if (!holds.IsSequence()) return Bad(holds, "'holds' must be a list");
    std::set<std::string> seen;
    for (const auto& h : holds) {
      HoldRule hr;
      PROBITY_RETURN_IF_ERROR(ParseHold(h, &hr));
      const std::string key = hr.rule_id.empty() ? "kind " + hr.kind : "rule " + hr.rule_id;
      if (!seen.insert(key).second) return Bad(h, key + " is named twice");
      p.holds.push_back(std::move(hr));
    }
  }
  return p;
}

StatusOr<HoldPolicy> ParseGuarded(std::string_view content) {
  try {
    return ParseImpl(content);
  } catch (const YAML::Exception& e) {
    return Bad(e.mark.line + 1, std::string("YAML error: ") + e.msg);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("hold policy: ") + e.what());
  }
}

}  // namespace

std::string_view ScopeName(Scope s) {
  switch (s) {
    case Scope::kClaim:
      return "claim";
    case Scope::kPracticeStream:
      return "practice_stream";
    case Scope::kNone:
      break;
  }
  return "none";
}

Scope HoldPolicy::ScopeFor(std::string_view rule_id, std::string_view kind, int32_t severity,
                           const HoldRule** entry) const {
  const HoldRule* by_kind = nullptr;
  const HoldRule* found = nullptr;
  for (const auto& h : holds) {
    if (!h.rule_id.empty() && h.rule_id == rule_id) found = &h;
    if (!h.kind.empty() && h.kind == kind) by_kind = &h;
  }
  if (found == nullptr) found = by_kind;
  if (entry != nullptr) *entry = found;
  if (found == nullptr || kind == rules::kHoldEscalation || severity < 0 || severity > 3)
    return Scope::kNone;
  return found->scope_by_severity[severity];
}

std::string HoldPolicy::Paycode(int32_t stream) const {
  if (auto it = paycodes.find(stream); it != paycodes.end()) return it->second;
  std::string n = v1::PaymentStream_Name(static_cast<v1::PaymentStream>(stream));
  return n.rfind("PAYMENT_STREAM_", 0) == 0 ? n.substr(15) : n;
}

std::string HoldPolicy::PaymentDate(int64_t secs) const {
  const int64_t earliest = rules::DayOf(secs) + cutoff_days;
  civil::Civil c = civil::CivilFromDays(earliest);
  int64_t y = c.year;
  unsigned m = c.month;
  if (c.day > static_cast<unsigned>(payment_day)) {
    if (++m == 13) {
      m = 1;
      ++y;
    }
  }
  return civil::FormatDate(civil::DaysFromCivil(y, m, payment_day) * rules::kSecondsPerDay *
                           1000000);
}

int64_t JudgingDelayDays(const rules::RuleSpec& spec) {
  const std::string_view k = spec.kind;
  if (k == rules::kHoldEscalation) return -1;
  if (k == rules::kPaymentPerPatientOutlier || k == rules::kClaimedValueShift ||
      k == rules::kReferralRateOutlier || k == rules::kContactRateOutlier) {
    // Judged when the month closes: up to a month after the claim, plus the lateness allowed.
    return 31 + static_cast<int64_t>(spec.Number("lateness_days"));
  }
  // Judged when the claim (or register update, or the event-time timer) is applied.
  return 0;
}

StatusOr<HoldPolicy> ParseHoldPolicy(std::string_view yaml_content) {
  return ParseGuarded(yaml_content);
}

StatusOr<HoldPolicy> LoadHoldPolicy(std::string_view yaml_content, const rules::RuleSet& rule_set) {
  PROBITY_ASSIGN_OR_RETURN(HoldPolicy p, ParseGuarded(yaml_content));
  for (const auto& h : p.holds) {
    bool any = false;
    for (const auto& spec : rule_set.rules) {
      if (!(h.rule_id == spec.id || (!h.kind.empty() && h.kind == spec.kind))) continue;
      any = true;
      const int64_t delay = JudgingDelayDays(spec);
      if (delay < 0) {
        return Bad(h.line, "rule " + spec.id + " (" + spec.kind +
                               ") raises escalations about holds; it cannot hold a claim");
      }
      bool holds_something = false;
      for (Scope s : h.scope_by_severity) holds_something |= s != Scope::kNone;
      if (holds_something && delay > p.approve_after_days) {
        return Bad(h.line, "approve_after_days " + std::to_string(p.approve_after_days) +
                               " is shorter than the judging delay of rule " + spec.id + " (" +
                               spec.kind + ": " + std::to_string(delay) +
                               " days); a claim would be approved before that rule could flag "
                               "it. Raise approve_after_days or drop the hold");
      }
    }
    if (!any && !h.rule_id.empty()) {
      return Bad(h.line, "rule '" + h.rule_id + "' is not in rule set " + rule_set.name + " " +
                             rule_set.version);
    }
  }
  return p;
}

StatusOr<HoldPolicy> LoadHoldPolicyFile(const std::string& path, const rules::RuleSet& rules) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot read hold policy file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  auto loaded = LoadHoldPolicy(ss.str(), rules);
  if (!loaded.ok()) return Status(loaded.status().code(), path + ": " + loaded.status().message());
  return loaded;
}

v1::Envelope MakeHoldPolicyEnvelope(const HoldPolicy& policy, int64_t published_at_micros) {
  v1::Envelope env;
  env.set_event_id("holdpolicy-" + policy.sha256_hex);
  env.set_kind(v1::EVENT_KIND_HOLD_POLICY);
  env.set_schema_version(1);
  env.set_source_system("probity-payments");
  SetTimestamp(env.mutable_occurred_at(), published_at_micros);
  *env.mutable_recorded_at() = env.occurred_at();
  auto* hp = env.mutable_hold_policy();
  hp->set_name(policy.name);
  hp->set_version(policy.version);
  hp->set_sha256_hex(policy.sha256_hex);
  hp->set_yaml_content(policy.yaml_content);
  return env;
}

}  // namespace probity::payments
