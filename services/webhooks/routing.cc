#include "services/webhooks/routing.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "common/codec/field_checks.h"

namespace probity::webhooks {
namespace {

const std::set<std::string> kEvents = {kFlagRaised, kFlagDecided, kPaymentInstruction};
const std::set<std::string> kSeverities = {"info", "warning", "critical"};

// Errors name the file and the (1-based) line of the node they are about.
class Errors {
 public:
  explicit Errors(std::string path) : path_(std::move(path)) {}
  Status At(const YAML::Node& n, const std::string& what) const {
    return InvalidArgument(path_ + ":" + std::to_string(n.Mark().line + 1) + ": " + what);
  }
  Status AtLine(int line, const std::string& what) const {
    return InvalidArgument(path_ + ":" + std::to_string(line) + ": " + what);
  }

 private:
  std::string path_;
};

Status OnlyKeys(const Errors& e, const YAML::Node& map, const std::string& where,
                const std::set<std::string>& keys) {
  if (!map.IsMap()) return e.At(map, where + " must be a mapping");
  for (const auto& kv : map) {
    if (!kv.first.IsScalar() || !keys.count(kv.first.Scalar())) {
      std::string known;
      for (const auto& k : keys) known += (known.empty() ? "" : ", ") + k;
      return e.At(kv.first,
                  where + ": unknown key '" + kv.first.Scalar() + "' (known: " + known + ")");
    }
  }
  return Status::Ok();
}

StatusOr<std::string> Scalar(const Errors& e, const YAML::Node& n, const std::string& where) {
  if (!n.IsScalar() || n.Scalar().empty()) return e.At(n, where + " must be a non-empty string");
  return n.Scalar();
}

// A list of strings (a single string is a list of one), each checked by `check` (which returns
// an error text, or "" when the value is acceptable).
template <typename Check>
StatusOr<std::vector<std::string>> List(const Errors& e, const YAML::Node& n,
                                        const std::string& where, Check check) {
  std::vector<std::string> out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
  } else if (n.IsSequence()) {
    for (const auto& item : n) {
      if (!item.IsScalar()) return e.At(item, where + ": each item must be a string");
      out.push_back(item.Scalar());
    }
  } else {
    return e.At(n, where + " must be a string or a list of strings");
  }
  for (size_t i = 0; i < out.size(); ++i) {
    const YAML::Node item = n.IsSequence() ? n[i] : n;
    if (std::string why = check(out[i]); !why.empty()) return e.At(item, where + ": " + why);
  }
  return out;
}

std::string AnyString(const std::string& v) { return v.empty() ? "empty value" : ""; }
std::string OneOf(const std::set<std::string>& allowed, const std::string& v) {
  if (allowed.count(v)) return "";
  std::string known;
  for (const auto& k : allowed) known += (known.empty() ? "" : ", ") + k;
  return "'" + v + "' is not one of " + known;
}
std::string Practice(const std::string& v) {
  auto r = codec::internal::CheckOds("practice", v, /*required=*/true);
  return r ? r->message : "";
}
std::string Icb(const std::string& v) {
  if (v.empty()) return "empty ICB code";
  auto r = codec::internal::CheckOrgCode("icb", v);
  return r ? r->message : "";
}

template <typename T>
std::set<T> ToSet(const std::vector<T>& v) {
  return std::set<T>(v.begin(), v.end());
}

}  // namespace

StatusOr<Routing> Routing::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("routing file " + path + " cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path);
}

StatusOr<Routing> Routing::Parse(const std::string& yaml, const std::string& path) {
  const Errors e(path);
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& ex) {
    return e.AtLine(ex.mark.line + 1, "not YAML: " + ex.msg);
  }
  if (!root.IsMap()) return e.AtLine(1, "the routing file must be a mapping");
  PROBITY_RETURN_IF_ERROR(
      OnlyKeys(e, root, "routing file", {"api_base_url", "watchlists", "endpoints", "routes"}));
  Routing r;
  if (root["api_base_url"]) {
    PROBITY_ASSIGN_OR_RETURN(r.api_base_url_, Scalar(e, root["api_base_url"], "api_base_url"));
    while (!r.api_base_url_.empty() && r.api_base_url_.back() == '/') r.api_base_url_.pop_back();
  }
  if (const YAML::Node w = root["watchlists"]) {
    if (!w.IsMap()) return e.At(w, "watchlists must be a mapping of name to watch-list");
    for (const auto& kv : w) {
      const std::string name = kv.first.Scalar();
      const std::string where = "watchlist '" + name + "'";
      PROBITY_RETURN_IF_ERROR(OnlyKeys(e, kv.second, where, {"owner", "practices"}));
      if (!kv.second["practices"]) return e.At(kv.second, where + ": 'practices' is required");
      PROBITY_ASSIGN_OR_RETURN(auto practices,
                               List(e, kv.second["practices"], where + " practices", Practice));
      r.watchlists_[name] = ToSet(practices);
    }
  }
  std::map<std::string, size_t> endpoint_index;
  if (const YAML::Node eps = root["endpoints"]) {
    if (!eps.IsMap()) return e.At(eps, "endpoints must be a mapping of name to endpoint");
    for (const auto& kv : eps) {
      EndpointConfig ep;
      ep.name = kv.first.Scalar();
      ep.line = kv.first.Mark().line + 1;
      const std::string where = "endpoint '" + ep.name + "'";
      if (ep.name.empty() || ep.name.find_first_of(" /\t") != std::string::npos) {
        return e.At(kv.first, where + ": a name has no spaces or '/'");
      }
      const YAML::Node n = kv.second;
      PROBITY_RETURN_IF_ERROR(
          OnlyKeys(e, n, where, {"url", "signature", "hmac_secret_files", "events"}));
      if (!n["url"]) return e.At(n, where + ": 'url' is required");
      PROBITY_ASSIGN_OR_RETURN(ep.url, Scalar(e, n["url"], where + " url"));
      if (ep.url.rfind("http://", 0) != 0 && ep.url.rfind("https://", 0) != 0) {
        return e.At(n["url"], where + ": url must start with http:// or https://");
      }
      std::string sig = "ed25519";
      if (n["signature"]) {
        PROBITY_ASSIGN_OR_RETURN(sig, Scalar(e, n["signature"], where));
      }
      if (sig != "ed25519" && sig != "hmac" && sig != "both") {
        return e.At(n["signature"], where + ": signature must be ed25519, hmac or both");
      }
      ep.ed25519 = sig != "hmac";
      ep.hmac = sig != "ed25519";
      if (n["hmac_secret_files"]) {
        PROBITY_ASSIGN_OR_RETURN(
            ep.hmac_secret_files,
            List(e, n["hmac_secret_files"], where + " hmac_secret_files", AnyString));
      }
      if (ep.hmac && ep.hmac_secret_files.empty()) {
        return e.At(n, where + ": signature " + sig + " needs hmac_secret_files");
      }
      if (!ep.hmac && !ep.hmac_secret_files.empty()) {
        return e.At(n["hmac_secret_files"],
                    where + ": hmac_secret_files given but signature is ed25519");
      }
      if (n["events"]) {
        PROBITY_ASSIGN_OR_RETURN(auto events,
                                 List(e, n["events"], where + " events",
                                      [](const std::string& v) { return OneOf(kEvents, v); }));
        ep.events = ToSet(events);
      }
      endpoint_index[ep.name] = r.endpoints_.size();
      r.endpoints_.push_back(std::move(ep));
    }
  }
  if (const YAML::Node routes = root["routes"]) {
    if (!routes.IsSequence()) return e.At(routes, "routes must be a list");
    std::set<std::string> names;
    for (const auto& n : routes) {
      Route route;
      route.line = n.Mark().line + 1;
      PROBITY_RETURN_IF_ERROR(
          OnlyKeys(e, n, "route", {"name", "match", "endpoints", "alertmanager_labels"}));
      if (!n["name"]) return e.At(n, "route: 'name' is required");
      PROBITY_ASSIGN_OR_RETURN(route.name, Scalar(e, n["name"], "route name"));
      const std::string where = "route '" + route.name + "'";
      if (!names.insert(route.name).second) return e.At(n["name"], where + ": duplicate name");
      if (const YAML::Node m = n["match"]) {
        PROBITY_RETURN_IF_ERROR(OnlyKeys(
            e, m, where + " match", {"event", "icb", "practice", "rule", "severity", "watchlist"}));
        if (m["event"]) {
          PROBITY_ASSIGN_OR_RETURN(auto v,
                                   List(e, m["event"], where + " event",
                                        [](const std::string& x) { return OneOf(kEvents, x); }));
          route.events = ToSet(v);
        }
        if (m["icb"]) {
          PROBITY_ASSIGN_OR_RETURN(auto v, List(e, m["icb"], where + " icb", Icb));
          route.icbs = ToSet(v);
        }
        if (m["practice"]) {
          PROBITY_ASSIGN_OR_RETURN(auto v, List(e, m["practice"], where + " practice", Practice));
          route.practices = ToSet(v);
        }
        if (m["rule"]) {
          PROBITY_ASSIGN_OR_RETURN(auto v, List(e, m["rule"], where + " rule", AnyString));
          route.rules = ToSet(v);
        }
        if (m["severity"]) {
          PROBITY_ASSIGN_OR_RETURN(
              auto v, List(e, m["severity"], where + " severity",
                           [](const std::string& x) { return OneOf(kSeverities, x); }));
          route.severities = ToSet(v);
        }
        if (m["watchlist"]) {
          PROBITY_ASSIGN_OR_RETURN(route.watchlist, Scalar(e, m["watchlist"], where));
          if (!r.watchlists_.count(route.watchlist)) {
            return e.At(m["watchlist"], where + ": no watch-list named '" + route.watchlist + "'");
          }
        }
      }
      if (n["endpoints"]) {
        PROBITY_ASSIGN_OR_RETURN(
            route.endpoints,
            List(e, n["endpoints"], where + " endpoints", [&](const std::string& x) -> std::string {
              return endpoint_index.count(x) ? "" : "no endpoint named '" + x + "'";
            }));
      }
      if (const YAML::Node labels = n["alertmanager_labels"]) {
        if (!labels.IsMap()) return e.At(labels, where + ": alertmanager_labels must be a map");
        for (const auto& kv : labels) {
          const std::string k = kv.first.Scalar();
          bool ok = !k.empty() && !(k[0] >= '0' && k[0] <= '9');
          for (char c : k) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
          if (!ok) return e.At(kv.first, where + ": '" + k + "' is not a Prometheus label name");
          PROBITY_ASSIGN_OR_RETURN(route.alertmanager_labels[k],
                                   Scalar(e, kv.second, where + " label " + k));
        }
      }
      if (route.endpoints.empty() && route.alertmanager_labels.empty()) {
        return e.At(n, where + ": names no endpoints and no alertmanager_labels (it does nothing)");
      }
      r.routes_.push_back(std::move(route));
    }
  }
  return r;
}

bool Routing::Matches(const Route& r, const Subject& s) const {
  auto in = [](const std::set<std::string>& set, const std::string& v) {
    return set.empty() || set.count(v) > 0;
  };
  if (!in(r.events, s.event) || !in(r.icbs, s.icb) || !in(r.practices, s.practice) ||
      !in(r.rules, s.rule) || !in(r.severities, s.severity)) {
    return false;
  }
  if (!r.watchlist.empty() && !watchlists_.at(r.watchlist).count(s.practice)) return false;
  return true;
}

std::vector<size_t> Routing::EndpointsFor(const Subject& s) const {
  std::set<size_t> out;
  for (const Route& r : routes_) {
    if (!Matches(r, s)) continue;
    for (const std::string& name : r.endpoints) {
      for (size_t i = 0; i < endpoints_.size(); ++i) {
        const EndpointConfig& ep = endpoints_[i];
        if (ep.name == name && (ep.events.empty() || ep.events.count(s.event))) out.insert(i);
      }
    }
  }
  return std::vector<size_t>(out.begin(), out.end());
}

std::map<std::string, std::string> Routing::AlertLabelsFor(const Subject& s) const {
  std::map<std::string, std::string> out;
  for (const Route& r : routes_) {
    if (!Matches(r, s)) continue;
    for (const auto& [k, v] : r.alertmanager_labels) out[k] = v;
  }
  return out;
}

}  // namespace probity::webhooks
