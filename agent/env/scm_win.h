// The service control manager's handles and errors, shared by install/uninstall
// (windows_service_win.cpp) and start/stop (service_start_stop_win.cpp).
// Internal; include only from *_win.cpp files and tests/windows.
#pragma once

#include <windows.h>

#include <memory>
#include <type_traits>

#include "agent/service/service_control.h"
#include "agent/util/status.h"

namespace opescare::service::internal {

// Closes SCM handles on every return path.
struct ScHandleCloser {
  void operator()(SC_HANDLE h) const { ::CloseServiceHandle(h); }
};
using ScHandle = std::unique_ptr<std::remove_pointer_t<SC_HANDLE>, ScHandleCloser>;

// An SCM failure as a Status that says what to do: access denied -> kPermissionDenied (an
// administrator prompt); not installed -> kNotFound (`service install`); already installed ->
// kFailedPrecondition (`service uninstall`); anything else kIoError.
Status ScmError(const char* what, DWORD err);

Result<ScHandle> OpenManager(DWORD access);
// The installed OpesCareBridge service with `access`, or ScmError's kNotFound.
Result<ScHandle> OpenBridgeService(DWORD access);

// SERVICE_* state -> ServiceState (the pending pause states count as running).
ServiceState StateFromWindows(DWORD state);

// Polls the service's status (every 250 ms) until DecideWait says it reached `target`, failed or
// timed out after `limit`; the last status seen goes to *last.
WaitVerdict WaitForState(SC_HANDLE service, ServiceState target, std::chrono::milliseconds limit,
                         SERVICE_STATUS_PROCESS* last);

}  // namespace opescare::service::internal
