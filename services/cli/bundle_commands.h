// `probity dispute bundle` and `probity verify-bundle` (docs/bundle.md): the command-line face
// of services/bundle. Options as in commands.h: bound by CLI11 to these fields, whose
// initializers are the defaults, and passed read-only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "services/cli/commands.h"

namespace CLI {
class App;
}  // namespace CLI

namespace probity::cli {

// `probity dispute bundle FLAG_ID --store DIR [--out F] [--since-size N] [--policy F]
// [--policy-out F]`.
struct DisputeBundleOptions {
  std::string flag_id;
  std::string store = kDefaultDataDir;  // a data directory: DIR/log, DIR/keys/probity.pub
  std::string out = "-";                // "-" is standard output
  std::optional<uint64_t> since_size;   // consistency proof from this checkpoint size
  // A trust-policy file to embed (witness keys and quorum); default: the log's key in
  // DIR/keys/probity.pub, no witnesses.
  std::string policy;
  // Also write the embedded policy, as a trust-policy file, here (the recipient should take it
  // from a channel it trusts, such as the commissioner's published key).
  std::string policy_out;
};
int DisputeBundle(const DisputeBundleOptions& o);

// `probity verify-bundle FILE --policy FILE [--checkpoint F] [--json]`.
struct VerifyBundleOptions {
  std::string file;
  std::string policy;
  std::string checkpoint;  // a signed checkpoint the verifier already holds
  bool json = false;
};
int VerifyBundle(const VerifyBundleOptions& o);

struct BundleCommandOptions {
  DisputeBundleOptions dispute;
  VerifyBundleOptions verify;
};
// Adds both commands to `app`; the one chosen sets *action (unless a deeper command did).
void AddBundleCommands(CLI::App& app, BundleCommandOptions* o, std::function<int()>* action);

}  // namespace probity::cli
