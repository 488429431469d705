// The Windows Event Log: a spdlog sink for warnings and errors (beside the rotating file), and the
// registration of its source "OpesCareBridge" at `service install`. Off Windows there is none.
#pragma once

#include <memory>

#include "agent/util/status.h"

namespace spdlog::sinks {
class sink;
}

namespace opescare::env {

inline constexpr char kEventLogSource[] = "OpesCareBridge";

// Windows: a sink writing to the Application log under kEventLogSource, level warn and up, that
// formats with its own (pass-through) formatter; wrap it in the redacting sink like any target.
// Never throws into the logger: a failing ReportEvent is dropped. Elsewhere: nullptr.
std::shared_ptr<spdlog::sinks::sink> NewEventLogSink();

// Windows: registers kEventLogSource under
// HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\OpesCareBridge (with a
// message file whose every id reads "%1", so Event Viewer shows the text);
// kPermissionDenied without administrator rights. Elsewhere: Ok (nothing to do).
Status RegisterEventLogSource();
// Removes that key; a missing key is Ok.
Status RemoveEventLogSource();

}  // namespace opescare::env
