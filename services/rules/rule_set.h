// Rule sets: YAML files naming the rules to run, each with validated parameters.
//
// Format (docs/rules.md has every kind and parameter):
//   name: probity-default
//   version: "2024.1"
//   rules:
//     - id: ios-duplicate          # unique in the set
//       version: 1                 # positive integer
//       kind: duplicate_item_of_service
//       severity: warning          # info | warning | critical
//       description: Plain English for a contract manager.
//       params: {intervals: {LDHC: financial_year}}
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto/sha256.h"
#include "common/status/status.h"
#include "probity/v1/events.pb.h"

namespace probity::rules {

// One validated parameter value. Which member is meaningful is fixed by the kind's schema.
struct ParamValue {
  double number = 0;  // int and double params
  bool boolean = false;
  std::string text;                            // string params
  std::vector<std::string> list;               // string-list params
  std::map<std::string, std::string> mapping;  // string-map params
};

struct RuleSpec {
  std::string id;
  uint32_t version = 0;
  std::string kind;
  probity::v1::Severity severity = probity::v1::SEVERITY_WARNING;
  std::string description;
  // Every parameter of the kind, defaults filled in. Unknown names never appear.
  std::map<std::string, ParamValue> params;

  // REQUIRES: `name` is a parameter of this kind (guaranteed after LoadRuleSet).
  double Number(std::string_view name) const;
  bool Bool(std::string_view name) const;
  const std::string& Text(std::string_view name) const;
  const std::vector<std::string>& List(std::string_view name) const;
  const std::map<std::string, std::string>& Map(std::string_view name) const;
};

struct RuleSet {
  std::string name;
  std::string version;
  std::string yaml_content;  // exactly the bytes loaded
  std::string sha256_hex;    // lower-case hex SHA-256 of yaml_content
  std::vector<RuleSpec> rules;
};

// Parses and validates a rule set. Returns InvalidArgument naming the rule and parameter for an
// unknown kind, unknown parameter, wrong type or out-of-range value, duplicate rule id, or YAML
// syntax error. MUST NOT throw.
StatusOr<RuleSet> LoadRuleSet(std::string_view yaml_content);
// Reads the file, then LoadRuleSet. IoError when it cannot be read.
StatusOr<RuleSet> LoadRuleSetFile(const std::string& path);

// The rule kinds this build knows, in catalogue order.
const std::vector<std::string>& RuleKinds();

// The envelope that sequences `rule_set` into the log: kind RULE_SET, event_id
// "ruleset-<sha256>", source_system "probity-rules", occurred_at = recorded_at = published_at
// (microseconds since the epoch, supplied by the caller; this library never reads a clock).
probity::v1::Envelope MakeRuleSetEnvelope(const RuleSet& rule_set, int64_t published_at_micros);

// Lower-case hex SHA-256 (common/crypto/sha256.h), named here for the callers that hash a rule
// set's YAML; new code uses crypto::Sha256Hex directly.
using crypto::Sha256Hex;

// Parses a payment stream name as written in rule sets ("GLOBAL_SUM" or
// "PAYMENT_STREAM_GLOBAL_SUM"). False when unknown.
bool ParsePaymentStream(std::string_view name, probity::v1::PaymentStream* out);

}  // namespace probity::rules
