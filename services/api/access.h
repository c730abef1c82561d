// Who may call the api and what each caller may see (docs/api.md, "Access control").
//
// Callers are named in an access file (a probity.v1.ApiAccessConfig in its JSON mapping) that
// holds each bearer token only as its SHA-256: the file can be read without revealing a token,
// and a token never appears in memory longer than the request that carried it. With mutual TLS a
// caller may instead be named by its client certificate's subject CN.
//
// Scopes: a commissioner sees the practices of its ICBs (by the practice's latest register
// update, or the ICB a flag names), a practice only itself, an auditor everything. Only a
// commissioner marked may_decide takes decisions on flags. What is out of scope is answered
// exactly as what does not exist.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "common/status/status.h"
#include "probity/v1/api.pb.h"

namespace probity::api {

struct Principal {
  std::string name;
  v1::ApiRole role = v1::API_ROLE_UNSPECIFIED;
  std::set<std::string, std::less<>> icbs;  // commissioner
  std::string practice;                     // practice
  bool may_decide = false;
  std::string decided_by_role;  // recorded on decisions
};

// "commissioner", "practice", "auditor".
std::string_view RoleName(v1::ApiRole role);

class AccessControl {
 public:
  // Checks the config: every principal has a unique name, a role, a 64-hex-digit token hash or a
  // certificate subject (each unique), a commissioner at least one ICB, a practice its ODS code;
  // only a commissioner may decide. kInvalidArgument naming the principal otherwise.
  static StatusOr<AccessControl> FromConfig(const v1::ApiAccessConfig& config);
  // Reads the JSON file, then FromConfig. Unknown fields are refused.
  static StatusOr<AccessControl> LoadFile(const std::string& path);
  // Parses the JSON text of an access file, then FromConfig.
  static StatusOr<AccessControl> FromJson(std::string_view json);

  // The caller a bearer token names (by its SHA-256), or null.
  const Principal* ByToken(std::string_view token) const;
  // The caller a client certificate subject CN names, or null.
  const Principal* ByCertSubject(std::string_view cn) const;
  size_t size() const { return principals_.size(); }

  // Whether p may see a practice's data. `icb` is the practice's ICB ("" when unknown: only an
  // auditor, or the practice itself, may then see it).
  static bool MaySee(const Principal& p, std::string_view practice, std::string_view icb);
  // Whether p may take decisions on flags it can see.
  static bool MayDecide(const Principal& p) { return p.may_decide; }

 private:
  std::map<std::string, std::shared_ptr<Principal>, std::less<>> by_token_hash_;
  std::map<std::string, std::shared_ptr<Principal>, std::less<>> by_subject_;
  std::map<std::string, std::shared_ptr<Principal>, std::less<>> principals_;
};

}  // namespace probity::api
