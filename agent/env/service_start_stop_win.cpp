// `service start | stop` on Windows: StartServiceW and ControlService(SERVICE_CONTROL_STOP), each
// followed by a bounded wait for the state asked for; and the SCM helpers of scm_win.h.
#include <windows.h>

#include <string>

#include "agent/env/scm_win.h"
#include "agent/env/win_text.h"
#include "agent/service/windows_service.h"

namespace opescare::service {
namespace internal {

Status ScmError(const char* what, DWORD err) {
  std::string message = WindowsError(what, err);
  if (err == ERROR_ACCESS_DENIED) {
    return PermissionDenied(message + "; this needs administrator rights: run it from an administrator prompt");
  }
  if (err == ERROR_SERVICE_EXISTS)
    return FailedPrecondition(message + "; run `opescare-bridge service uninstall` first");
  if (err == ERROR_SERVICE_DOES_NOT_EXIST || err == ERROR_SERVICE_MARKED_FOR_DELETE) {
    return NotFound(message + "; the service " + kWindowsServiceName +
                    " is not installed: run `opescare-bridge service install` from an administrator prompt");
  }
  return IoError(message);
}

Result<ScHandle> OpenManager(DWORD access) {
  ScHandle scm(::OpenSCManagerW(nullptr, nullptr, access));
  if (!scm) return ScmError("opening the service control manager", ::GetLastError());
  return scm;
}

Result<ScHandle> OpenBridgeService(DWORD access) {
  auto scm = OpenManager(SC_MANAGER_CONNECT);
  if (!scm.ok()) return scm.status();
  const std::wstring name = Widen(kWindowsServiceName);
  ScHandle service(::OpenServiceW(scm->get(), name.c_str(), access));
  if (!service) return ScmError("opening the service", ::GetLastError());
  return service;
}

ServiceState StateFromWindows(DWORD state) {
  switch (state) {
    case SERVICE_START_PENDING:
      return ServiceState::kStartPending;
    case SERVICE_STOP_PENDING:
      return ServiceState::kStopPending;
    case SERVICE_STOPPED:
      return ServiceState::kStopped;
    default:  // running, and the pause states this service never enters
      return ServiceState::kRunning;
  }
}

WaitVerdict WaitForState(SC_HANDLE service, ServiceState target, std::chrono::milliseconds limit,
                         SERVICE_STATUS_PROCESS* last) {
  const ULONGLONG deadline = ::GetTickCount64() + static_cast<ULONGLONG>(limit.count());
  for (;;) {
    DWORD needed = 0;
    if (!::QueryServiceStatusEx(service, SC_STATUS_PROCESS_INFO, reinterpret_cast<LPBYTE>(last), sizeof(*last),
                                &needed)) {
      return WaitVerdict::kFailed;
    }
    const WaitVerdict verdict =
        DecideWait(target, StateFromWindows(last->dwCurrentState), ::GetTickCount64() >= deadline);
    if (verdict != WaitVerdict::kKeepWaiting) return verdict;
    // The SCM offers no blocking wait (NotifyServiceStatusChange needs an alertable thread and wine
    // lacks it); Microsoft's samples poll too.
    ::Sleep(250);
  }
}

namespace {

std::string ExitCodeText(const SERVICE_STATUS_PROCESS& s) {
  if (s.dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR) return "exit code " + std::to_string(s.dwServiceSpecificExitCode);
  return WindowsError("exit", s.dwWin32ExitCode);
}

std::string LogHint() {
  return "see its log in " + DefaultServicePaths().log_dir + " and the Application event log (source " +
         kWindowsServiceName + "), or run `opescare-bridge doctor` from an administrator prompt";
}

}  // namespace
}  // namespace internal

Status StartInstalledService() {
  auto service = internal::OpenBridgeService(SERVICE_START | SERVICE_QUERY_STATUS);
  if (!service.ok()) return service.status();
  if (!::StartServiceW(service->get(), 0, nullptr)) {
    const DWORD err = ::GetLastError();
    if (err == ERROR_SERVICE_ALREADY_RUNNING) return Status::Ok();
    if (err == ERROR_SERVICE_DISABLED) {
      return FailedPrecondition(internal::WindowsError("starting the service", err) +
                                "; enable it: sc config " + kWindowsServiceName + " start= delayed-auto");
    }
    return internal::ScmError("starting the service", err);
  }
  SERVICE_STATUS_PROCESS last{};
  switch (internal::WaitForState(service->get(), ServiceState::kRunning, kStartWaitLimit, &last)) {
    case WaitVerdict::kReached:
      return Status::Ok();
    case WaitVerdict::kFailed:
      if (last.dwCurrentState == SERVICE_STOPPED) {
        return Unavailable("the service stopped while starting (" + internal::ExitCodeText(last) + "): " +
                           internal::LogHint());
      }
      return internal::ScmError("querying the service's status", ::GetLastError());
    default:
      return Unavailable("the service did not report running within " +
                         std::to_string(kStartWaitLimit.count() / 1000) + " s: " + internal::LogHint());
  }
}

Status StopInstalledService() {
  auto service = internal::OpenBridgeService(SERVICE_STOP | SERVICE_QUERY_STATUS);
  if (!service.ok()) return service.status();
  SERVICE_STATUS status{};
  if (!::ControlService(service->get(), SERVICE_CONTROL_STOP, &status)) {
    const DWORD err = ::GetLastError();
    if (err == ERROR_SERVICE_NOT_ACTIVE) return Status::Ok();
    // Already stopping (a stop from elsewhere, or shutdown): wait for that drain like for ours.
    if (err != ERROR_SERVICE_CANNOT_ACCEPT_CTRL) return internal::ScmError("stopping the service", err);
  }
  SERVICE_STATUS_PROCESS last{};
  switch (internal::WaitForState(service->get(), ServiceState::kStopped, kStopWaitLimit, &last)) {
    case WaitVerdict::kReached:
      return Status::Ok();
    case WaitVerdict::kFailed:
      return internal::ScmError("querying the service's status", ::GetLastError());
    default:
      return Unavailable("the service is still draining after " + std::to_string(kStopWaitLimit.count() / 1000) +
                         " s (the stop goes on; check again with `sc query " + kWindowsServiceName +
                         "`): " + internal::LogHint());
  }
}

}  // namespace opescare::service
