// The running agent (`run`): wires config, outbox, heartbeat, delivery, connector, status server,
// signals and systemd notifications onto one network thread and one disk worker thread.
#pragma once

#include <memory>

#include "agent/app/commands.h"
#include "agent/config/config.h"

namespace spdlog {
class logger;
}
namespace opescare::service {
class StopSignal;
}

namespace opescare::app {

// Runs until SIGINT/SIGTERM or service_stop's request (exit 0), or a fatal start-up error (exit 1/2).
// global is kept to re-read the same file on SIGHUP. service_stop: the Windows SCM's (null elsewhere).
int RunAgent(const GlobalOptions& global, config::Config cfg, std::shared_ptr<spdlog::logger> logger,
             service::StopSignal* service_stop = nullptr);

}  // namespace opescare::app
