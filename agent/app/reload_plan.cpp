// The reload decision (reload_plan.h).
#include "agent/app/reload_plan.h"

#include <array>

namespace opescare::app {

namespace {
// Whole sections that need a restart, and single keys. Everything else applies in place: the key and the
// identity (headers and bodies are built per request), intervals, batch, retry, compression (and its level),
// delivery.max_in_flight (the sync client is made with room for the most), the outbox's
// caps, the connector (restarted with its new settings), the log level.
constexpr std::array<std::string_view, 2> kRestartSections = {"status.", "http."};
constexpr std::array<std::string_view, 7> kRestartKeys = {"server_url",   "allow_insecure_http", "outbox.path",
                                                          "log.file",     "log.format",          "log.max_size_mb",
                                                          "log.max_files"};
}  // namespace

bool NeedsRestart(std::string_view key) {
  if (key == "http.compression" || key == "http.compression_level") return false;  // read per batch by delivery
  for (std::string_view section : kRestartSections) {
    if (key.substr(0, section.size()) == section) return true;
  }
  for (std::string_view k : kRestartKeys) {
    if (key == k) return true;
  }
  return false;
}

ReloadPlan PlanReload(const config::Config& current, const config::Config& next) {
  ReloadPlan plan;
  plan.effective = next;
  for (std::string& key : config::ChangedKeys(current, next)) {
    if (NeedsRestart(key)) {
      config::CopyKey(key, current, &plan.effective);
      plan.needs_restart.push_back(std::move(key));
    } else {
      plan.applied.push_back(std::move(key));
    }
  }
  return plan;
}

}  // namespace opescare::app
