// Process exit codes (ARCHITECTURE.md "Command line").
#pragma once

namespace opescare::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;      // failure at run time
inline constexpr int kExitUsage = 2;        // usage or configuration error
inline constexpr int kExitUnreachable = 3;  // the server could not be reached or refused the agent

}  // namespace opescare::app
