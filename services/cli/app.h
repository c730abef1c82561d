// The composition root of the `probity` binary: every command, its options and its exit status.
// main() only installs the signal handlers and calls Main().
#pragma once

#include "services/cli/commands.h"

namespace probity::cli {

// Parses argv once (CLI11; options may also come from --config FILE), validates the options, and
// runs the chosen command with them. Returns the process exit status (ExitCode): kExitUsage, with
// the reason on stderr, when the command line does not parse, including "unknown command 'X'" for
// a word that names no command, with or without --help.
int Main(int argc, const char* const* argv, const Runtime& rt);

}  // namespace probity::cli
