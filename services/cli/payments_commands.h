// `probity payments` (the payments target) and `probity payments export`. Options as in
// commands.h: bound by CLI11 to these fields, whose initializers are the defaults.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "services/cli/commands.h"

namespace CLI {
class App;
}

namespace probity::cli {

std::string DefaultHoldPolicyFile();  // deploy/payments/hold-policy.yaml in the source tree

// `probity payments`: follows probity.log.v1 and publishes payment instructions.
struct PaymentsOptions {
  bus::ClientConfig bus{kDefaultBootstrapServers, {}};
  std::string data_dir = kDefaultDataDir;  // state goes in DATA_DIR/payments
  std::string policy_file;                 // default DefaultHoldPolicyFile()
  std::string rules_file;                  // the rules target's set (default DefaultRulesFile())
  HttpOptions http{.port = 9467};
  std::string catch_up_from;  // a verified copy of the log, as for `probity rules`
  std::string log_key;        // the log's verifier key file (empty: no checkpoint is verified)
};
int RunPayments(const PaymentsOptions& o, const Runtime& rt);

// `probity payments export --date D`: the files for payment run D from the log in DATA_DIR/log,
// written to OUT_DIR, their SHA-256 logged as PaymentExport entries (unless --no-log).
struct PaymentsExportOptions {
  bus::ClientConfig bus{kDefaultBootstrapServers, {}};
  std::string data_dir = kDefaultDataDir;
  std::string date;   // YYYY-MM-DD: the payment run
  std::string since;  // YYYY-MM-DD: also every earlier run from this one (default: D only)
  uint64_t size = 0;  // the log prefix to export (0: the whole committed log)
  std::string out_dir = ".";
  bool no_log = false;
};
int RunPaymentsExport(const PaymentsExportOptions& o, const Runtime& rt);

struct PaymentsCliOptions {
  PaymentsOptions run;
  PaymentsExportOptions export_;
};
// Adds `payments` and `payments export` to `app`; the chosen command's function is stored in
// *action. REQUIRES: o outlives the parse and the action.
void AddPaymentsCommands(CLI::App& app, PaymentsCliOptions* o, const Runtime& rt,
                         std::function<int()>* action);

}  // namespace probity::cli
