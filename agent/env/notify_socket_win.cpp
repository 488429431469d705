// The Notifier's socket on Windows: there is no NOTIFY_SOCKET there, so nothing is ever opened.
#include <windows.h>

#include "agent/env/notify_socket.h"

namespace opescare::service::internal {

Result<NotifySocket> OpenNotifySocket(const std::string& path) {
  return FailedPrecondition("NOTIFY_SOCKET (" + path + ") is a systemd feature; ignored on Windows");
}

Status SendNotify(int, const std::string&, std::string_view) {
  return FailedPrecondition("no notify socket on Windows");
}

void CloseNotifySocket(int) {}

int64_t CurrentProcessId() { return static_cast<int64_t>(::GetCurrentProcessId()); }

std::chrono::microseconds MonotonicNow() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch());
}

}  // namespace opescare::service::internal
