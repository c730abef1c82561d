#include "services/rules/rule_set.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "common/time/proto_time.h"
#include "services/rules/kinds.h"
#include "services/rules/rule.h"

namespace probity::rules {
namespace {

using internal::ParamSchema;
using internal::ParamType;

Status ParseValue(const std::string& where, const ParamSchema& s, const YAML::Node& node,
                  ParamValue* out) {
  auto bad = [&](const std::string& why) { return InvalidArgument(where + ": " + why); };
  switch (s.type) {
    case ParamType::kInt:
    case ParamType::kDouble: {
      if (!node.IsScalar()) return bad("must be a number");
      double v = 0;
      if (!YAML::convert<double>::decode(node, v))
        return bad("must be a number, got '" + node.Scalar() + "'");
      if (s.type == ParamType::kInt && v != static_cast<double>(static_cast<int64_t>(v))) {
        return bad("must be a whole number, got '" + node.Scalar() + "'");
      }
      if (!(v >= s.min && v <= s.max)) {
        std::ostringstream os;
        os << "must be between " << s.min << " and " << s.max << ", got " << node.Scalar();
        return bad(os.str());
      }
      out->number = v;
      return Status::Ok();
    }
    case ParamType::kBool: {
      bool b = false;
      if (!node.IsScalar() || !YAML::convert<bool>::decode(node, b))
        return bad("must be true or false");
      out->boolean = b;
      return Status::Ok();
    }
    case ParamType::kString: {
      if (!node.IsScalar()) return bad("must be a string");
      out->text = node.Scalar();
      if (!s.choices.empty() &&
          std::find(s.choices.begin(), s.choices.end(), out->text) == s.choices.end()) {
        std::string c;
        for (const auto& x : s.choices) c += (c.empty() ? "" : ", ") + x;
        return bad("must be one of {" + c + "}, got '" + out->text + "'");
      }
      return Status::Ok();
    }
    case ParamType::kStringList: {
      if (!node.IsSequence()) return bad("must be a list");
      out->list.clear();
      for (const auto& item : node) {
        if (!item.IsScalar()) return bad("items must be strings");
        std::string v = item.Scalar();
        if (v.rfind("PAYMENT_STREAM_", 0) == 0) v = v.substr(15);
        if (!s.choices.empty() &&
            std::find(s.choices.begin(), s.choices.end(), v) == s.choices.end()) {
          return bad("unknown item '" + item.Scalar() + "'");
        }
        out->list.push_back(v);
      }
      return Status::Ok();
    }
    case ParamType::kStringMap: {
      if (!node.IsMap()) return bad("must be a mapping");
      out->mapping.clear();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar() || !kv.second.IsScalar())
          return bad("keys and values must be strings");
        out->mapping[kv.first.Scalar()] = kv.second.Scalar();
      }
      return Status::Ok();
    }
  }
  return bad("unsupported type");
}

StatusOr<RuleSet> LoadImpl(std::string_view content) {
  RuleSet set;
  set.yaml_content = std::string(content);
  set.sha256_hex = crypto::Sha256Hex(content);
  YAML::Node root = YAML::Load(set.yaml_content);
  if (!root.IsMap())
    return InvalidArgument("rule set: top level must be a mapping with name, version, rules");
  for (const auto& kv : root) {
    std::string k = kv.first.Scalar();
    if (k != "name" && k != "version" && k != "rules")
      return InvalidArgument("rule set: unknown key '" + k + "'");
  }
  if (!root["name"] || !root["name"].IsScalar() || root["name"].Scalar().empty()) {
    return InvalidArgument("rule set: 'name' is required");
  }
  if (!root["version"] || !root["version"].IsScalar() || root["version"].Scalar().empty()) {
    return InvalidArgument("rule set: 'version' is required");
  }
  set.name = root["name"].Scalar();
  set.version = root["version"].Scalar();
  const YAML::Node rules = root["rules"];
  if (!rules || !rules.IsSequence() || rules.size() == 0) {
    return InvalidArgument("rule set: 'rules' must be a non-empty list");
  }
  std::set<std::string> ids;
  for (size_t i = 0; i < rules.size(); ++i) {
    const YAML::Node r = rules[i];
    std::string where = "rules[" + std::to_string(i) + "]";
    if (!r.IsMap()) return InvalidArgument(where + ": must be a mapping");
    for (const auto& kv : r) {
      static const std::set<std::string> kKeys = {"id",       "version",     "kind",
                                                  "severity", "description", "params"};
      if (!kKeys.count(kv.first.Scalar()))
        return InvalidArgument(where + ": unknown key '" + kv.first.Scalar() + "'");
    }
    RuleSpec spec;
    if (!r["id"] || !r["id"].IsScalar() || r["id"].Scalar().empty())
      return InvalidArgument(where + ": 'id' is required");
    spec.id = r["id"].Scalar();
    where += " (" + spec.id + ")";
    if (!ids.insert(spec.id).second) return InvalidArgument(where + ": duplicate rule id");
    int64_t version = 0;
    if (!r["version"] || !YAML::convert<int64_t>::decode(r["version"], version) || version <= 0 ||
        version > UINT32_MAX) {
      return InvalidArgument(where + ": 'version' must be a positive integer");
    }
    spec.version = static_cast<uint32_t>(version);
    if (!r["kind"] || !r["kind"].IsScalar()) return InvalidArgument(where + ": 'kind' is required");
    spec.kind = r["kind"].Scalar();
    const internal::RuleKind* rule_kind = internal::FindRuleKind(spec.kind);
    if (rule_kind == nullptr) {
      std::string kinds;
      for (const auto& k : RuleKinds()) kinds += (kinds.empty() ? "" : ", ") + k;
      return InvalidArgument(where + ": unknown kind '" + spec.kind + "' (known: " + kinds + ")");
    }
    std::string sev = r["severity"] && r["severity"].IsScalar() ? r["severity"].Scalar() : "";
    if (sev == "info")
      spec.severity = probity::v1::SEVERITY_INFO;
    else if (sev == "warning")
      spec.severity = probity::v1::SEVERITY_WARNING;
    else if (sev == "critical")
      spec.severity = probity::v1::SEVERITY_CRITICAL;
    else
      return InvalidArgument(where + ": 'severity' must be info, warning or critical");
    if (!r["description"] || !r["description"].IsScalar() || r["description"].Scalar().empty()) {
      return InvalidArgument(where +
                             ": 'description' is required (plain English for a contract manager)");
    }
    spec.description = r["description"].Scalar();
    const auto& schema = rule_kind->params;
    for (const auto& ps : schema) {
      PROBITY_RETURN_IF_ERROR(ParseValue(where + ": default of " + ps.name, ps,
                                         YAML::Load(ps.default_yaml), &spec.params[ps.name]));
    }
    const YAML::Node params = r["params"];
    if (params && !params.IsNull()) {
      if (!params.IsMap()) return InvalidArgument(where + ": 'params' must be a mapping");
      for (const auto& kv : params) {
        const std::string name = kv.first.Scalar();
        auto it = std::find_if(schema.begin(), schema.end(),
                               [&](const ParamSchema& p) { return name == p.name; });
        if (it == schema.end()) {
          std::string known;
          for (const auto& p : schema) known += (known.empty() ? "" : ", ") + std::string(p.name);
          return InvalidArgument(where + ": unknown parameter '" + name + "' for kind " +
                                 spec.kind + " (known: " + known + ")");
        }
        PROBITY_RETURN_IF_ERROR(
            ParseValue(where + ": params." + name, *it, kv.second, &spec.params[name]));
      }
    }
    if (rule_kind->check != nullptr) PROBITY_RETURN_IF_ERROR(rule_kind->check(where, spec));
    set.rules.push_back(std::move(spec));
  }
  return set;
}

}  // namespace

double RuleSpec::Number(std::string_view name) const { return params.at(std::string(name)).number; }
bool RuleSpec::Bool(std::string_view name) const { return params.at(std::string(name)).boolean; }
const std::string& RuleSpec::Text(std::string_view name) const {
  return params.at(std::string(name)).text;
}
const std::vector<std::string>& RuleSpec::List(std::string_view name) const {
  return params.at(std::string(name)).list;
}
const std::map<std::string, std::string>& RuleSpec::Map(std::string_view name) const {
  return params.at(std::string(name)).mapping;
}

const std::vector<std::string>& RuleKinds() {
  static const auto* kinds = new std::vector<std::string>(kRuleKinds.begin(), kRuleKinds.end());
  return *kinds;
}

StatusOr<RuleSet> LoadRuleSet(std::string_view yaml_content) {
  try {
    return LoadImpl(yaml_content);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string("rule set: YAML error: ") + e.what());
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("rule set: ") + e.what());
  }
}

StatusOr<RuleSet> LoadRuleSetFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot read rule set file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in.good() && !in.eof()) return IoError("error reading rule set file " + path);
  auto loaded = LoadRuleSet(ss.str());
  if (!loaded.ok()) return Status(loaded.status().code(), path + ": " + loaded.status().message());
  return loaded;
}

probity::v1::Envelope MakeRuleSetEnvelope(const RuleSet& rule_set, int64_t published_at_micros) {
  probity::v1::Envelope env;
  env.set_event_id("ruleset-" + rule_set.sha256_hex);
  env.set_kind(probity::v1::EVENT_KIND_RULE_SET);
  env.set_schema_version(1);
  env.set_source_system("probity-rules");
  SetTimestamp(env.mutable_occurred_at(), published_at_micros);
  *env.mutable_recorded_at() = env.occurred_at();
  auto* rs = env.mutable_rule_set();
  rs->set_name(rule_set.name);
  rs->set_version(rule_set.version);
  rs->set_sha256_hex(rule_set.sha256_hex);
  rs->set_yaml_content(rule_set.yaml_content);
  return env;
}

bool ParsePaymentStream(std::string_view name, probity::v1::PaymentStream* out) {
  std::string full = std::string(name).rfind("PAYMENT_STREAM_", 0) == 0
                         ? std::string(name)
                         : "PAYMENT_STREAM_" + std::string(name);
  return probity::v1::PaymentStream_Parse(full, out);
}

}  // namespace probity::rules
