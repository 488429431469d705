// ServiceSession: the Windows service's state reports and stop requests around the run loop.
#include "agent/env/service_session_win.h"

#include <utility>

namespace opescare::service::internal {
namespace {

constexpr DWORD kStartWaitHintMs = 30000;

DWORD WindowsState(ServiceState state) {
  switch (state) {
    case ServiceState::kStartPending:
      return SERVICE_START_PENDING;
    case ServiceState::kRunning:
      return SERVICE_RUNNING;
    case ServiceState::kStopPending:
      return SERVICE_STOP_PENDING;
    case ServiceState::kStopped:
      return SERVICE_STOPPED;
  }
  return SERVICE_STOPPED;
}

}  // namespace

ServiceControl ControlFromWindows(DWORD control) {
  switch (control) {
    case SERVICE_CONTROL_STOP:
      return ServiceControl::kStop;
    case SERVICE_CONTROL_SHUTDOWN:
      return ServiceControl::kShutdown;
    case SERVICE_CONTROL_PRESHUTDOWN:
      return ServiceControl::kPreshutdown;
    case SERVICE_CONTROL_INTERROGATE:
      return ServiceControl::kInterrogate;
    default:
      return ServiceControl::kOther;
  }
}

ServiceSession::ServiceSession(RunLoop run, Reporter report) : run_(std::move(run)), report_(std::move(report)) {}

DWORD ServiceSession::HandleControl(DWORD control) {
  bool request_stop = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const ControlDecision decision = DecideControl(state_, ControlFromWindows(control));
    if (!decision.handled) return ERROR_CALL_NOT_IMPLEMENTED;
    if (decision.report) ReportLocked(*decision.report);
    request_stop = decision.request_stop;
  }
  // Outside the lock: stop callbacks run synchronously here and may take their own locks.
  if (request_stop) stop_.Request();
  return NO_ERROR;
}

int ServiceSession::Run() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ReportLocked(ServiceState::kStartPending);
    // The run loop itself decides when work starts; the SCM only needs to know the process is up.
    ReportLocked(ServiceState::kRunning);
  }
  const int exit_code = run_(stop_);
  // A stop control arriving from now on must not reach the run loop's objects, which are gone.
  stop_.ClearHandler();
  std::lock_guard<std::mutex> lock(mutex_);
  exit_code_ = exit_code;
  ReportLocked(ServiceState::kStopped);
  return exit_code;
}

void ServiceSession::ReportLocked(ServiceState state) {
  state_ = state;
  SERVICE_STATUS status{};
  status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  status.dwCurrentState = WindowsState(state);
  // Controls are accepted only while running: once stopping, a second stop has nothing to add.
  status.dwControlsAccepted =
      state == ServiceState::kRunning ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PRESHUTDOWN : 0;
  const ServiceExitCodes codes = ExitCodesFor(exit_code_);
  status.dwWin32ExitCode = codes.win32;
  status.dwServiceSpecificExitCode = codes.service_specific;
  const bool pending = state == ServiceState::kStartPending || state == ServiceState::kStopPending;
  status.dwCheckPoint = pending ? ++checkpoint_ : 0;
  status.dwWaitHint = state == ServiceState::kStartPending  ? kStartWaitHintMs
                      : state == ServiceState::kStopPending ? static_cast<DWORD>(kStopWaitHint.count())
                                                            : 0;
  report_(status);
}

}  // namespace opescare::service::internal
