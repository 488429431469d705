// What a reload (SIGHUP) may change in place (CONFIG.md): a pure decision over two configurations.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/config/config.h"

namespace opescare::app {

// True for keys the running agent cannot change in place (the server URL and its HTTPS settings, the
// outbox path, the status listener, the log's destination): they keep their old value until a restart.
bool NeedsRestart(std::string_view dotted_key);

struct ReloadPlan {
  config::Config effective;                // next, with every restart-only key kept at its current value
  std::vector<std::string> applied;        // changed keys that take effect now
  std::vector<std::string> needs_restart;  // changed keys that keep their old value until a restart
};

// Every key that differs between current and next is in exactly one of the two lists.
ReloadPlan PlanReload(const config::Config& current, const config::Config& next);

}  // namespace opescare::app
