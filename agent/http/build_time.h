// The agent's build time: a floor for certificate checks on a machine whose clock is years behind
// (PROTOCOL.md "Clock"). One small translation unit holds it, so a new value recompiles one file.
#pragma once

#include <chrono>

namespace opescare::http {

// SOURCE_DATE_EPOCH when the build set it, else the last commit's time, else the configure time:
// never later than the real build, so it is a safe lower bound for "now".
std::chrono::system_clock::time_point AgentBuildTime();

}  // namespace opescare::http
