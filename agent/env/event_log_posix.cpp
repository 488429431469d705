// Off Windows the journal (stderr under systemd) or the log file carries warnings: no event log.
#include "agent/env/event_log.h"

namespace opescare::env {

std::shared_ptr<spdlog::sinks::sink> NewEventLogSink() { return nullptr; }
Status RegisterEventLogSource() { return Status::Ok(); }
Status RemoveEventLogSource() { return Status::Ok(); }

}  // namespace opescare::env
