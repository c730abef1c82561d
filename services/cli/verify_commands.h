// `probity verify checkpoint|inclusion|consistency`: outside verification (services/verify) of
// material given as files, against a log key or a trust policy file; no store, no service.
// Exit status: 0 valid; 1 invalid, with the reason on stderr; 2 usage (the command line, or a key,
// policy or file the verifier gave that cannot be read).
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace probity::cli {

// Adds `verify` and its subcommands to app; the chosen one is stored in *action (if unset).
// REQUIRES: action outlives the parse and the run.
void AddVerifyCommands(CLI::App& app, std::function<int()>* action);

}  // namespace probity::cli
