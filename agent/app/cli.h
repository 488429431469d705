// The command-line interface: parses arguments with CLI11 and dispatches to the subcommands.
#pragma once

namespace opescare::app {

// Runs the command line; returns the process exit code (ARCHITECTURE.md: 0, 1, 2, 3).
int RunCli(int argc, char** argv);

}  // namespace opescare::app
