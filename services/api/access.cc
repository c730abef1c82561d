#include "services/api/access.h"

#include <google/protobuf/util/json_util.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "common/crypto/sha256.h"

namespace probity::api {
namespace {

bool IsLowerHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

// An ODS practice code: a letter and five digits.
bool IsPracticeCode(std::string_view s) {
  if (s.size() != 6 || !std::isupper(static_cast<unsigned char>(s[0]))) return false;
  for (size_t i = 1; i < s.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

}  // namespace

std::string_view RoleName(v1::ApiRole role) {
  switch (role) {
    case v1::API_ROLE_COMMISSIONER:
      return "commissioner";
    case v1::API_ROLE_PRACTICE:
      return "practice";
    case v1::API_ROLE_AUDITOR:
      return "auditor";
    default:
      return "unknown";
  }
}

StatusOr<AccessControl> AccessControl::FromConfig(const v1::ApiAccessConfig& config) {
  AccessControl ac;
  for (int i = 0; i < config.principals_size(); ++i) {
    const v1::ApiPrincipal& c = config.principals(i);
    const std::string who =
        "principal " + std::to_string(i) + (c.name().empty() ? "" : " ('" + c.name() + "')");
    if (c.name().empty()) return InvalidArgument(who + ": name is required");
    if (ac.principals_.count(c.name()) != 0) return InvalidArgument(who + ": name given twice");
    auto p = std::make_shared<Principal>();
    p->name = c.name();
    p->role = c.role();
    p->may_decide = c.may_decide();
    p->decided_by_role = c.decided_by_role().empty() ? "contract_manager" : c.decided_by_role();
    switch (c.role()) {
      case v1::API_ROLE_COMMISSIONER:
        if (c.icb_codes().empty()) return InvalidArgument(who + ": a commissioner needs icb_codes");
        for (const std::string& icb : c.icb_codes()) {
          if (icb.empty()) return InvalidArgument(who + ": empty ICB code");
          p->icbs.insert(icb);
        }
        if (!c.practice_code().empty()) {
          return InvalidArgument(who + ": a commissioner has no practice_code");
        }
        break;
      case v1::API_ROLE_PRACTICE:
        if (!IsPracticeCode(c.practice_code())) {
          return InvalidArgument(who + ": a practice needs its ODS practice_code (e.g. A81001)");
        }
        p->practice = c.practice_code();
        break;
      case v1::API_ROLE_AUDITOR:
        break;
      default:
        return InvalidArgument(who + ": role must be commissioner, practice or auditor");
    }
    if (c.may_decide() && c.role() != v1::API_ROLE_COMMISSIONER) {
      return InvalidArgument(who + ": only a commissioner may decide");
    }
    if (c.token_sha256_hex().empty() && c.client_cert_subject().empty()) {
      return InvalidArgument(who + ": give token_sha256_hex or client_cert_subject");
    }
    if (!c.token_sha256_hex().empty()) {
      if (!IsLowerHex64(c.token_sha256_hex())) {
        return InvalidArgument(who +
                               ": token_sha256_hex must be 64 lower-case hex digits (the SHA-256 "
                               "of the token, e.g. `printf %s TOKEN | sha256sum`)");
      }
      if (!ac.by_token_hash_.emplace(c.token_sha256_hex(), p).second) {
        return InvalidArgument(who + ": token_sha256_hex is another principal's");
      }
    }
    if (!c.client_cert_subject().empty() &&
        !ac.by_subject_.emplace(c.client_cert_subject(), p).second) {
      return InvalidArgument(who + ": client_cert_subject is another principal's");
    }
    ac.principals_.emplace(p->name, p);
  }
  return ac;
}

StatusOr<AccessControl> AccessControl::FromJson(std::string_view json) {
  v1::ApiAccessConfig config;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  google::protobuf::util::Status st;
  try {
    st = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(json.data(), json.size()), &config, options);
  } catch (...) {
    return InvalidArgument("access file: does not parse");
  }
  if (!st.ok()) return InvalidArgument("access file: " + std::string(st.message()));
  return FromConfig(config);
}

StatusOr<AccessControl> AccessControl::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return IoError("cannot read access file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto ac = FromJson(ss.str());
  if (!ac.ok()) return Status(ac.status().code(), path + ": " + ac.status().message());
  return ac;
}

const Principal* AccessControl::ByToken(std::string_view token) const {
  if (token.empty()) return nullptr;
  auto it = by_token_hash_.find(crypto::Sha256Hex(token));
  return it == by_token_hash_.end() ? nullptr : it->second.get();
}

const Principal* AccessControl::ByCertSubject(std::string_view cn) const {
  if (cn.empty()) return nullptr;
  auto it = by_subject_.find(cn);
  return it == by_subject_.end() ? nullptr : it->second.get();
}

bool AccessControl::MaySee(const Principal& p, std::string_view practice, std::string_view icb) {
  switch (p.role) {
    case v1::API_ROLE_AUDITOR:
      return true;
    case v1::API_ROLE_PRACTICE:
      return !practice.empty() && practice == p.practice;
    case v1::API_ROLE_COMMISSIONER:
      return !icb.empty() && p.icbs.count(icb) != 0;
    default:
      return false;
  }
}

}  // namespace probity::api
