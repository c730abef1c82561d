// The routing file (deploy/routing/example.yaml, docs/webhooks.md "Routing"): one YAML file that
// says which webhook endpoints, and which extra Alertmanager labels, each event gets, by event
// type, ICB, practice, rule and severity, and holds contract managers' watch-lists of practices.
// It is validated once at start; every error names the file and line.
//
//   api_base_url: https://probity.example.nhs.uk   # for the api_link of webhook bodies
//   watchlists:
//     <name>: {owner: "...", practices: [A81001, ...]}
//   endpoints:
//     <name>:
//       url: https://casework.example.nhs.uk/probity   # http:// or https://, never redirected
//       signature: ed25519 | hmac | both                 # default ed25519 (v1a)
//       hmac_secret_files: [path, ...]                   # whsec_ files, newest first
//       events: [flag.raised, flag.decided, payment.instruction]   # default: all
//   routes:
//     - name: <name>
//       match: {event: [...], icb: [...], practice: [...], rule: [...], severity: [...],
//               watchlist: <name>}                       # every given criterion must hold
//       endpoints: [<endpoint>, ...]
//       alertmanager_labels: {<label>: <value>, ...}
//
// An event goes to the union of the endpoints of every route that matches it (each endpoint
// once), filtered by each endpoint's own `events`; nowhere else. Alerts get the union of the
// labels of every matching route (a later route wins a clash).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/status/status.h"

namespace probity::webhooks {

// What routing looks at.
struct Subject {
  std::string event;     // flag.raised | flag.decided | payment.instruction
  std::string practice;  // ODS code
  std::string icb;
  std::string rule;      // rule id
  std::string severity;  // info | warning | critical
};

struct EndpointConfig {
  std::string name;
  std::string url;
  bool ed25519 = true;
  bool hmac = false;
  std::vector<std::string> hmac_secret_files;
  std::set<std::string> events;  // empty: all
  int line = 0;
};

struct Route {
  std::string name;
  std::set<std::string> events, icbs, practices, rules, severities;
  std::string watchlist;
  std::vector<std::string> endpoints;
  std::map<std::string, std::string> alertmanager_labels;
  int line = 0;
};

class Routing {
 public:
  // Parses and validates; errors are kInvalidArgument "<path>:<line>: <what>".
  static StatusOr<Routing> LoadFile(const std::string& path);
  static StatusOr<Routing> Parse(const std::string& yaml, const std::string& path);

  const std::string& api_base_url() const { return api_base_url_; }
  const std::vector<EndpointConfig>& endpoints() const { return endpoints_; }
  // Indexes into endpoints() of the endpoints that get `s`, ascending, each once.
  std::vector<size_t> EndpointsFor(const Subject& s) const;
  // The extra Alertmanager labels for `s`.
  std::map<std::string, std::string> AlertLabelsFor(const Subject& s) const;

 private:
  bool Matches(const Route& r, const Subject& s) const;

  std::string api_base_url_;
  std::vector<EndpointConfig> endpoints_;
  std::vector<Route> routes_;
  std::map<std::string, std::set<std::string>> watchlists_;
};

// Event types of webhook bodies.
inline constexpr char kFlagRaised[] = "flag.raised";
inline constexpr char kFlagDecided[] = "flag.decided";
inline constexpr char kPaymentInstruction[] = "payment.instruction";

}  // namespace probity::webhooks
